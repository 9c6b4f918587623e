"""Helpdesk webhook payloads for the end-to-end tests: the fixtures of tests/fixtures/webhooks moved
onto a fresh ticket id (the local stack is shared by the whole session), signed as each helpdesk signs,
and a canonical generic event stream with its hand-computed ticket state (SPEC §3 and §5)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from touchpoint.tickets import sign
from touchpoint_local.testing import event_headers, fixture_json

# Fixtures that carry a ticket event (the others are topics the metrics ignore: notes, pings, snoozes).
TICKET_FIXTURES = {
    "zendesk": ["event_ticket_created", "event_comment_added_agent", "event_status_changed_solved",
                "event_status_changed_reopened", "trigger_created", "trigger_agent_replied"],
    "intercom": ["conversation_user_created", "conversation_user_replied", "conversation_admin_replied",
                 "conversation_admin_closed", "conversation_admin_opened"],
    "helpscout": ["convo_created", "convo_customer_reply_created", "convo_agent_reply_created",
                  "convo_status_closed", "convo_status_reopened"],
    "chatwoot": ["conversation_created", "message_created_incoming", "message_created_outgoing",
                 "conversation_status_changed_resolved", "conversation_status_changed_reopened"],
    "freshdesk": ["ticket_created", "reply_sent", "ticket_resolved"],
    "generic": ["event", "batch"],
}


def with_ticket_id(provider: str, name: str, ticket_id: str) -> bytes:
    """The fixture's body with its ticket (conversation) id replaced, as the helpdesk would send it."""
    body = fixture_json(provider, name)
    if provider == "zendesk":
        if "detail" in body:
            body["detail"]["id"] = ticket_id
        else:
            body["ticket_id"] = ticket_id
    elif provider == "intercom":
        body["data"]["item"]["id"] = ticket_id
    elif provider == "helpscout":
        body["id"] = ticket_id
    elif provider == "chatwoot":
        if name.startswith("message_created"):
            body["conversation"]["id"] = ticket_id
        else:
            body["id"] = ticket_id
    elif provider in ("freshdesk", "generic"):
        for item in body if isinstance(body, list) else [body]:
            item["ticket_id"] = ticket_id
    else:  # pragma: no cover - a new provider needs its own line here
        raise ValueError(provider)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def signed(provider: str, name: str, raw: bytes, secret: str, now: datetime | None = None) -> dict[str, str]:
    """The headers a genuine delivery of ``raw`` carries (signature, timestamp, Help Scout event name)."""
    return {"content-type": "application/json", **sign(provider, raw, secret, now or datetime.now(UTC)),
            **event_headers(provider, name)}


# A generic event stream and its state --------------------------------------------------------------
T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def stream(ticket_id: str, customer_id: str) -> list[dict[str, Any]]:
    """created, a customer reply, two agent replies reporting handle time, solved, reopened, solved."""
    def event(event_id: str, kind: str, at: datetime | str, **extra: Any) -> dict[str, Any]:
        return {"event_id": f"{ticket_id}-{event_id}", "ticket_id": ticket_id, "customer_id": customer_id,
                "channel": "chat", "event": kind, "occurred_at": at if isinstance(at, str) else iso(at), **extra}

    return [
        event("created", "created", T0),
        event("customer-1", "customer_replied", T0 + timedelta(minutes=10)),
        # Sent with an offset: 10:25+01:00 is 09:25Z, the earliest agent reply.
        event("agent-1", "agent_replied", "2026-11-16T10:25:00+01:00", handle_seconds=600),
        event("agent-2", "agent_replied", T0 + timedelta(minutes=70), handle_seconds=420),
        event("solved-1", "solved", T0 + timedelta(hours=2)),
        event("reopened", "reopened", T0 + timedelta(days=1)),
        event("solved-2", "solved", T0 + timedelta(days=1, hours=3)),
    ]


def expected_state(ticket_id: str, customer_id: str) -> dict[str, Any]:
    """Computed by hand from SPEC §5 for ``stream``: not by the product's fold."""
    return {
        "provider": "generic",
        "ticket_id": ticket_id,
        "customer_id": customer_id,
        "channel": "chat",
        "touchpoint": "support",  # no tags, no touchpoint: the catalog's ticket default
        "status": "solved",  # the latest status-changing event is the second solve
        "created_at": "2026-11-16T09:00:00Z",
        "first_agent_reply_at": "2026-11-16T09:25:00Z",
        "solved_at": "2026-11-17T12:00:00Z",  # the latest solve
        "agent_replies": 2,
        "reopens": 1,
        "handle_seconds": 1020,
        "fcr": False,  # two agent replies and a reopen
    }


def shuffled_deliveries(events: list[dict[str, Any]], seed: int, duplicates: int = 5) -> list[Any]:
    """Every event at least once plus ``duplicates`` retried copies, in a random order, sent one by one
    or grouped into small batches (a batch may repeat an event it also carries elsewhere)."""
    rng = random.Random(seed)
    sends = [*events, *(rng.choice(events) for _ in range(duplicates))]
    rng.shuffle(sends)
    deliveries: list[Any] = []
    index = 0
    while index < len(sends):
        size = rng.choice([1, 1, 2, 3])
        chunk = sends[index:index + size]
        index += size
        deliveries.append(chunk[0] if len(chunk) == 1 and rng.random() < 0.7 else chunk)
    return deliveries


def events_of(delivery: Any) -> Iterator[dict[str, Any]]:
    yield from delivery if isinstance(delivery, list) else [delivery]
