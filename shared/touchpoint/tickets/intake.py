"""Helpdesk webhook intake (SPEC §3): verify the delivery on its raw body, map it to canonical ticket
events, store each distinct event once, refold the ticket, and when a ticket is solved publish
``TicketSolved`` with a support CSAT survey link for that customer and ticket."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from touchpoint.catalog import Catalog
from touchpoint.errors import ApiError
from touchpoint.surveys.intake import mint_link
from touchpoint.surveys.models import LinkRequest
from touchpoint.surveys.tokens import KeyRing
from touchpoint.tickets import PROVIDERS, fold, parse_webhook, verify_signature
from touchpoint.tickets.state import TicketState
from touchpoint.tickets.store import TicketStore

SUPPORT_SURVEY_TTL_DAYS = 14


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


@dataclass
class WebhookOutcome:
    applied: int = 0
    duplicates: int = 0
    tickets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int:
        """202 when the delivery changed something, 200 when it was all seen before (or ignorable)."""
        return 202 if self.applied else 200

    def body(self) -> dict[str, Any]:
        return {"applied": self.applied, "duplicates": self.duplicates, "tickets": self.tickets}


def check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ApiError(422, "unknown_provider",
                       f"Unknown helpdesk provider {provider!r}; use one of {', '.join(PROVIDERS)}", "provider")


def receive_webhook(provider: str, headers: Mapping[str, str], raw_body: bytes, *, secret: str | None,
                    catalog: Catalog, store: TicketStore, publisher: EventPublisher, ring: KeyRing,
                    base_url: str, now: datetime) -> WebhookOutcome:
    check_provider(provider)
    if not secret:
        raise ApiError(401, "invalid_signature", f"No webhook secret is configured for {provider}", None)
    verify_signature(provider, headers, raw_body, secret, now)
    events = parse_webhook(provider, headers, raw_body, catalog, received_at=now)
    outcome = WebhookOutcome()
    touched: dict[tuple[str, str], None] = {}
    for event in events:
        if store.add_event(event):
            outcome.applied += 1
        else:
            outcome.duplicates += 1
        touched[(event.provider, event.ticket_id)] = None
    for provider_id, ticket_id in touched:
        state = refold(store, provider_id, ticket_id, catalog)
        publish_solve_once(store, publisher, state, catalog, ring, base_url, now)
        outcome.tickets.append({"provider": provider_id, "ticket_id": ticket_id, "status": state.status})
    return outcome


def refold(store: TicketStore, provider: str, ticket_id: str, catalog: Catalog) -> TicketState:
    """Fold every stored event of the ticket and save the state (a no-op when another writer has
    already saved a fold of more events)."""
    events = store.events(provider, ticket_id)
    state = fold(events, default_touchpoint=catalog.ticket_mapping.default)
    store.save_state(state, len({event.event_id for event in events}))
    return state


def publish_solve_once(store: TicketStore, publisher: EventPublisher, state: TicketState, catalog: Catalog,
                       ring: KeyRing, base_url: str, now: datetime) -> bool:
    """Publish ``TicketSolved`` for the ticket's latest solve unless it went out already. Runs on
    every delivery, duplicates included, so a publish that failed is retried by the helpdesk's own
    redelivery; the marker is written only after EventBridge accepted the event."""
    if not state.is_solved or state.solved_at is None:
        return False
    stored = store.state(state.provider, state.ticket_id) or {}
    solved_at = state.to_public()["solved_at"]
    if stored.get("solved_at") != solved_at or stored.get("survey_published_for") == solved_at:
        return False  # a newer fold owns this ticket now, or this solve was announced already
    touchpoint = state.touchpoint if state.touchpoint and catalog.get(state.touchpoint) \
        else catalog.ticket_mapping.default
    link = mint_link(
        LinkRequest(customer_id=state.customer_id, touchpoint=touchpoint, metric="csat",
                    order_id=f"ticket:{state.provider}:{state.ticket_id}",
                    properties={"provider": state.provider, "ticket_id": state.ticket_id},
                    ttl_days=SUPPORT_SURVEY_TTL_DAYS),
        catalog, ring, base_url, now,
    )
    publisher.publish("TicketSolved", {
        **state.to_public(),
        "touchpoint": touchpoint,
        "survey": {"url": link["url"], "token": link["token"], "expires_at": link["expires_at"],
                   "survey_id": link["survey_id"], "metric": "csat"},
    })
    store.mark_survey_published(state.provider, state.ticket_id, solved_at)
    return True


PUBLIC_TICKET_FIELDS = ("provider", "ticket_id", "customer_id", "channel", "touchpoint", "status", "created_at",
                        "first_agent_reply_at", "solved_at", "agent_replies", "reopens", "handle_seconds", "fcr")


def public_ticket(record: Mapping[str, Any]) -> dict[str, Any]:
    """The SPEC §3 ticket view of a stored state record."""
    return {name: record.get(name) for name in PUBLIC_TICKET_FIELDS}
