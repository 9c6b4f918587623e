"""The ticket domain, pure (no AWS, no I/O): helpdesk webhook signatures, adapters from each
helpdesk's payloads to the canonical ticket event of docs/reference.md, and the order-independent fold of a
ticket's events into its normalised state (docs/reference.md)."""

from touchpoint.tickets.adapters import parse_webhook
from touchpoint.tickets.events import CHANNELS, EVENT_KINDS, PROVIDERS, TicketEvent, generic_event_from_json
from touchpoint.tickets.signatures import sign, verify_signature
from touchpoint.tickets.state import TicketState, fold

__all__ = [
    "CHANNELS",
    "EVENT_KINDS",
    "PROVIDERS",
    "TicketEvent",
    "TicketState",
    "fold",
    "generic_event_from_json",
    "parse_webhook",
    "sign",
    "verify_signature",
]
