"""Helpdesk webhook intake: verify the delivery on its raw body, map it to canonical ticket
events, store each distinct event once, refold the ticket, and when a ticket is solved publish
``TicketSolved`` with a support CSAT survey link for that customer and ticket, unless the contact
policy holds the customer back (then the event says so and carries no link)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from touchpoint.catalog import Catalog
from touchpoint.errors import ApiError
from touchpoint.platform.pseudonyms import NoSuppressions, SuppressionCheck
from touchpoint.surveys.intake import ContactKeeper, issue_link
from touchpoint.surveys.models import LinkCreated, LinkRequest
from touchpoint.surveys.tokens import KeyRing
from touchpoint.tickets import PROVIDERS, TicketEvent, fold, parse_webhook, verify_signature
from touchpoint.tickets.adapters import CONTENT_ID_PREFIX
from touchpoint.tickets.events import iso_utc
from touchpoint.tickets.models import TicketTouched, TicketView, WebhookReceipt
from touchpoint.tickets.signatures import CHATWOOT_SIGNATURE, verify_url_token
from touchpoint.tickets.state import TicketState
from touchpoint.tickets.store import TicketStore

SUPPORT_SURVEY_TTL_DAYS = 14
NO_SUPPRESSIONS = NoSuppressions()
# Helpdesks whose bodies may repeat byte for byte for distinct events (no delivery id, no time).
REPEATING_BODIES = ("freshdesk",)
# Helpdesks whose signature covers no timestamp and whose events carry their own time (Freshdesk's are
# dated on arrival, so no age can be told there: its repeats are handled by REPEATING_BODIES).
UNSIGNED_TIME_PROVIDERS = ("intercom", "helpscout")
CHATWOOT_URL_TOKEN = "chatwoot_url_token"  # noqa: S105 - the name of the opt-in secret of unsigned installs


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


def check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ApiError(422, "unknown_provider",
                       f"Unknown helpdesk provider {provider!r}; use one of {', '.join(PROVIDERS)}", "provider")


def receive_webhook(provider: str, headers: Mapping[str, str], raw_body: bytes, *, secrets: Mapping[str, str],
                    catalog: Catalog, store: TicketStore, publisher: EventPublisher, ring: KeyRing,
                    contacts: ContactKeeper, base_url: str, now: datetime,
                    url_token: str | None = None, suppressions: SuppressionCheck = NO_SUPPRESSIONS,
                    max_event_age: timedelta | None = None) -> WebhookReceipt:
    """Verify, map, store each distinct event once, refold the touched tickets and announce their
    solves. ``secrets`` are the webhook secrets ({provider: secret}, plus the opt-in
    ``chatwoot_url_token``); ``url_token`` is the ``token`` of the request's query string. Events of
    erased customers (a helpdesk's late retry) are dropped: counted as suppressed, nothing written or
    published, and still a 2xx so the helpdesk stops retrying."""
    check_provider(provider)
    authenticate(provider, headers, raw_body, secrets, now, url_token)
    events = parse_webhook(provider, headers, raw_body, catalog, received_at=now)
    stale = 0
    if max_event_age and provider in UNSIGNED_TIME_PROVIDERS:
        # Their signature covers no time, so a captured delivery verifies forever: its age is the events'.
        fresh = [event for event in events if now - event.occurred_at <= max_event_age]
        stale, events = len(events) - len(fresh), fresh
    erased = suppressions.suppressed_among(event.customer_id for event in events)
    suppressed = sum(1 for event in events if event.customer_id in erased)
    events = [event for event in events if event.customer_id not in erased]
    applied = duplicates = 0
    touched: dict[tuple[str, str], None] = {}
    received_at = iso_utc(now)
    for event in events:
        if provider in REPEATING_BODIES and event.event_id.startswith(CONTENT_ID_PREFIX):
            event = identify_repeat(store, event)
        if store.add_event(event, received_at):
            applied += 1
        else:
            duplicates += 1
        touched[(event.provider, event.ticket_id)] = None
    tickets = []
    for provider_id, ticket_id in touched:
        state = refold(store, provider_id, ticket_id, catalog)
        publish_solve_once(store, publisher, state, catalog, ring, contacts, base_url, now)
        tickets.append(TicketTouched(provider=provider_id, ticket_id=ticket_id, status=state.status))
    return WebhookReceipt(applied=applied, duplicates=duplicates, suppressed=suppressed, stale=stale,
                          tickets=tickets)


def authenticate(provider: str, headers: Mapping[str, str], raw_body: bytes, secrets: Mapping[str, str],
                 now: datetime, url_token: str | None) -> None:
    """The provider's signature; for a Chatwoot delivery that carries none, the opt-in URL token."""
    unsigned_token = secrets.get(CHATWOOT_URL_TOKEN) if provider == "chatwoot" else None
    signed = any(name.lower() == CHATWOOT_SIGNATURE.lower() for name in headers)
    if unsigned_token and not signed:
        verify_url_token(url_token, unsigned_token)
        return
    secret = secrets.get(provider)
    if not secret:
        raise ApiError(401, "invalid_signature", f"No webhook secret is configured for {provider}", None)
    verify_signature(provider, headers, raw_body, secret, now)


def identify_repeat(store: TicketStore, event: TicketEvent) -> TicketEvent:
    """Identity for an event known only by its content (Freshdesk sends no delivery id and has no time
    placeholder): a retry is the same body again with nothing of the ticket in between, so it keeps
    the id of the latest delivery; the same body after something else happened (solved, reopened,
    solved again) is a new event, ``<hash>#<n>`` for its n-th occurrence."""
    receipts = [event_id for _received, event_id in store.receipts(event.provider, event.ticket_id)]
    occurrences = [event_id for event_id in receipts if event_id.split("#")[0] == event.event_id]
    if not occurrences or receipts[-1] in occurrences:
        return event.model_copy(update={"event_id": receipts[-1]}) if occurrences else event
    return event.model_copy(update={"event_id": f"{event.event_id}#{len(occurrences) + 1}"})


def refold(store: TicketStore, provider: str, ticket_id: str, catalog: Catalog) -> TicketState:
    """Fold every stored event of the ticket and save the state (a no-op when another writer has
    already saved a fold of more events)."""
    events = store.events(provider, ticket_id)
    state = fold(events, default_touchpoint=catalog.ticket_mapping.default)
    store.save_state(state, len({event.event_id for event in events}))
    return state


def publish_solve_once(store: TicketStore, publisher: EventPublisher, state: TicketState, catalog: Catalog,
                       ring: KeyRing, contacts: ContactKeeper, base_url: str, now: datetime) -> bool:
    """Publish ``TicketSolved`` for the ticket's latest solve unless it went out already. Runs on
    every delivery, duplicates included, so a publish that failed is retried by the helpdesk's own
    redelivery (which gets the same link back: the same mint request); the marker is written only
    after EventBridge accepted the event. When the contact policy holds the customer back, the event
    carries ``survey: null`` and ``survey_held_back: {reason, next_allowed_at}``."""
    if not state.is_solved or state.solved_at is None:
        return False
    stored = store.state(state.provider, state.ticket_id) or {}
    solved_at = state.to_public()["solved_at"]
    if stored.get("solved_at") != solved_at or stored.get("survey_published_for") == solved_at:
        return False  # a newer fold owns this ticket now, or this solve was announced already
    touchpoint = state.touchpoint if state.touchpoint and catalog.get(state.touchpoint) \
        else catalog.ticket_mapping.default
    link = issue_link(
        LinkRequest(customer_id=state.customer_id, touchpoint=touchpoint, metric="csat",
                    order_id=f"ticket:{state.provider}:{state.ticket_id}",
                    properties={"provider": state.provider, "ticket_id": state.ticket_id},
                    ttl_days=SUPPORT_SURVEY_TTL_DAYS),
        catalog, ring, contacts, base_url, now,
    )
    survey: dict[str, Any] = {}
    if isinstance(link, LinkCreated):
        survey["survey"] = {"url": link.url, "token": link.token, "expires_at": link.expires_at,
                            "survey_id": link.survey_id, "metric": "csat"}
    else:
        survey["survey"] = None
        survey["survey_held_back"] = {"reason": link.reason, "next_allowed_at": link.next_allowed_at}
    publisher.publish("TicketSolved", {**state.to_public(), "touchpoint": touchpoint, **survey})
    store.mark_survey_published(state.provider, state.ticket_id, solved_at)
    return True


def get_ticket(store: TicketStore, provider: str, ticket_id: str) -> TicketView:
    """The normalized ticket; 404 when no event of it was ever received (or it was erased)."""
    check_provider(provider)
    record = store.state(provider, ticket_id)
    if record is None:
        raise ApiError(404, "not_found", f"No {provider} ticket {ticket_id!r}", "ticket_id")
    return TicketView.model_validate({name: record.get(name) for name in TicketView.model_fields})
