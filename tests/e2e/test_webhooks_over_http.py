"""Helpdesk webhooks over HTTP against `touchpoint local`: signed deliveries of every provider, forged
ones, and an out-of-order, duplicated generic stream read back through the admin ticket view and the
events published to the bus."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from touchpoint.surveys.tokens import KeyRing, verify_token
from touchpoint.tickets import PROVIDERS, sign
from touchpoint_local.payloads import stored_ticket_id
from touchpoint_local.testing import TIMESTAMPED
from webhook_payloads import (
    TICKET_FIXTURES,
    events_of,
    expected_state,
    shuffled_deliveries,
    signed,
    stream,
    with_ticket_id,
)

pytestmark = pytest.mark.e2e

SPEC_TICKET_KEYS = set(expected_state("t", "c"))


def fresh_id(label: str) -> str:
    return f"e2e-{label}-{uuid.uuid4().hex[:10]}"


def error_of(reply: Any) -> dict[str, Any]:
    body = reply.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, body
    return body["error"]


def settled_count(stack: Any) -> int:
    """The records the entry points wrote (the stream consumers write rollups beside them)."""
    assert stack.request("POST", "/_local/drain").status == 200
    return stack.record_count()


def post(stack: Any, provider: str, raw: bytes, headers: dict[str, str]) -> Any:
    return stack.request("POST", f"/webhooks/{provider}", data=raw, headers=headers)


def ticket_solved_for(stack: Any, provider: str, ticket_id: str) -> list[dict[str, Any]]:
    reply = stack.request("GET", "/_local/events")
    assert reply.status == 200, reply.text
    return [event for event in reply.json() if event.get("detail-type") == "TicketSolved"
            and (event["detail"].get("provider"), event["detail"].get("ticket_id")) == (provider, ticket_id)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_signed_deliveries_are_202_then_200_on_redelivery(local_stack: Any, provider: str) -> None:
    secret = local_stack.secrets["webhook_secrets"][provider]
    ticket_id = fresh_id(provider)
    deliveries = [(name, with_ticket_id(provider, name, ticket_id)) for name in TICKET_FIXTURES[provider]]
    # Given the provider's fixtures on a fresh ticket, signed with the stack's secret at the current time
    # When each is delivered
    for name, raw in deliveries:
        reply = post(local_stack, provider, raw, signed(provider, name, raw, secret))
        # Then it is applied
        assert reply.status == 202, (name, reply.text)
        if provider == "freshdesk":
            # Freshdesk bodies carry no id and no time: its retry is the same body with nothing of the
            # ticket in between (the same body after other events is a new event, a second solve)
            again = post(local_stack, provider, raw, signed(provider, name, raw, secret))
            assert again.status == 200 and again.json()["applied"] == 0, (name, again.text)
    before = settled_count(local_stack)
    # When every delivery is retried (signed afresh, as a helpdesk retry is)
    for name, raw in deliveries if provider != "freshdesk" else ():
        reply = post(local_stack, provider, raw, signed(provider, name, raw, secret))
        # Then it is recognised as a duplicate
        assert reply.status == 200, (name, reply.text)
        assert reply.json()["applied"] == 0
    # And nothing new was stored
    assert settled_count(local_stack) == before
    # And the ticket is readable by an admin only
    stored = stored_ticket_id(provider, ticket_id)
    assert local_stack.request("GET", f"/v1/tickets/{provider}/{stored}").status == 401
    view = local_stack.request("GET", f"/v1/tickets/{provider}/{stored}", admin=True)
    assert view.status == 200, view.text
    assert set(view.json()) == SPEC_TICKET_KEYS
    assert (view.json()["provider"], view.json()["ticket_id"]) == (provider, stored)


def test_forged_stale_and_unsigned_deliveries_are_401_and_store_nothing(local_stack: Any) -> None:
    now = datetime.now(UTC)
    attempts = []
    for provider in PROVIDERS:
        name = TICKET_FIXTURES[provider][0]
        ticket_id = fresh_id(f"forged-{provider}")
        raw = with_ticket_id(provider, name, ticket_id)
        genuine = signed(provider, name, raw, local_stack.secrets["webhook_secrets"][provider])
        unsigned = {k: v for k, v in genuine.items() if k in ("content-type", "X-HelpScout-Event")}
        forged = {**unsigned, **sign(provider, raw, "an-attacker-guess", now)}
        attempts += [(provider, ticket_id, raw, forged, "invalid_signature"),
                     (provider, ticket_id, raw, unsigned, "invalid_signature")]
        if provider in TIMESTAMPED:
            stale = signed(provider, name, raw, local_stack.secrets["webhook_secrets"][provider],
                           now - timedelta(minutes=6))
            attempts.append((provider, ticket_id, raw, stale, "stale_signature"))
    # Given a settled table
    before = settled_count(local_stack)
    # When deliveries forged with a wrong secret, unsigned, or signed 6 minutes ago arrive
    for provider, ticket_id, raw, headers, code in attempts:
        reply = post(local_stack, provider, raw, headers)
        # Then each is 401 with the SPEC error body
        assert reply.status == 401, (provider, code, reply.text)
        assert error_of(reply)["code"] == code, (provider, reply.text)
        # And the ticket does not exist
        path = f"/v1/tickets/{provider}/{stored_ticket_id(provider, ticket_id)}"
        assert local_stack.request("GET", path, admin=True).status == 404
    # And nothing was stored
    assert settled_count(local_stack) == before


def test_shuffled_duplicated_generic_stream_folds_to_the_spec_state(local_stack: Any) -> None:
    secret = local_stack.secrets["webhook_secrets"]["generic"]
    ring = KeyRing(local_stack.secrets["token_keys"])
    orders = []
    for seed in (11, 23, 47):
        # Given the stream of a fresh ticket, shuffled, with retried duplicates and small batches
        ticket_id, customer_id = fresh_id(f"stream-{seed}"), f"cust-e2e-{seed}"
        deliveries = shuffled_deliveries(stream(ticket_id, customer_id), seed)
        order = [event["event_id"].removeprefix(ticket_id) for d in deliveries for event in events_of(d)]
        assert len(order) > 7, "the stream must carry duplicates"
        orders.append(order)
        seen: set[str] = set()
        # When each delivery is posted
        for delivery in deliveries:
            raw = json.dumps(delivery).encode()
            reply = post(local_stack, "generic", raw, signed("generic", "stream", raw, secret))
            ids = {event["event_id"] for event in events_of(delivery)}
            # Then it is 202 when it carries an event not seen before, else 200
            assert reply.status == (200 if ids <= seen else 202), (delivery, reply.text)
            seen |= ids
        # Then the ticket read back is the state computed by hand from SPEC §5
        view = local_stack.request("GET", f"/v1/tickets/generic/{ticket_id}", admin=True)
        assert view.status == 200, view.text
        assert view.json() == expected_state(ticket_id, customer_id)
        # And the bus carries TicketSolved for it: the latest solve announced, no solve announced twice
        published = ticket_solved_for(local_stack, "generic", ticket_id)
        solves = [event["detail"]["solved_at"] for event in published]
        assert "2026-11-17T12:00:00Z" in solves, solves
        assert len(solves) == len(set(solves)) <= 2, solves
        for event in published:
            claims = verify_token(ring, event["detail"]["survey"]["token"])
            assert (claims.metric, claims.customer_id) == ("csat", customer_id)
            assert event["detail"]["survey"]["url"].endswith("/s/" + event["detail"]["survey"]["token"])
    # And the three deliveries really came in three different orders
    assert len({tuple(order) for order in orders}) == 3
