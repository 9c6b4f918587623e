"""The field lifecycles of tests/fixtures/field over HTTP against `touchpoint local`: each helpdesk's
deliveries posted in dispatch order, signed as the helpdesk signs them with the stack's secrets
(infra/local/secrets.json), the stream drained, and the ticket read back by an admin; plus Freshdesk's
byte-identical second solve and one retry per helpdesk."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from touchpoint_local.testing import (
    FIELD_TICKETS,
    FieldDelivery,
    RunningStack,
    expected_field_view,
    field_lifecycle,
    field_view,
    sign_as_helpdesk,
)

pytestmark = pytest.mark.e2e

Windows = dict[str, tuple[datetime, datetime]]
FRESHDESK = ("freshdesk-advanced", "freshdesk-simple")
# The delivery each retry test sends twice: Zendesk's event id, Intercom's notification id, Help Scout's
# body and Chatwoot's message again (here the replies that reopen), Freshdesk's second solve right after.
RETRIED = {
    "zendesk": "10-ticket.status_changed.open-to-solved",
    "intercom": "05-conversation.user.replied.into-closed",
    "helpscout": "05-convo.customer.reply.created.reopens",
    "chatwoot": "07-message_created.incoming",
    "freshdesk-advanced": "advanced/06-solved",
}


def provider_of(label: str) -> str:
    return label.split("-")[0]


def fresh_number() -> int:
    return 100_000_000 + uuid.uuid4().int % 900_000_000


def with_ticket_number(delivery: FieldDelivery, number: int) -> tuple[FieldDelivery, str]:
    """The delivery for ticket (conversation) ``number`` instead of the fixture's, and the id Touchpoint
    keeps that ticket under. The tests of one session share one stack, so tests that replay the same
    fixtures again give them their own ticket; only the ids of the ticket change, consistently, everywhere
    the body names them (the body is then signed as it is)."""
    body = delivery.json()
    provider = delivery.provider
    if provider == "zendesk":
        body["detail"]["id"], body["subject"] = str(number), f"zen:ticket:{number}"
        return delivery.with_body(body), str(number)
    if provider == "intercom":
        body["data"]["item"]["id"] = str(number)
        return delivery.with_body(body), str(number)
    if provider == "helpscout":
        old, body["id"] = body["id"], number
        for link in body.get("_links", {}).values():
            link["href"] = link["href"].replace(f"/conversations/{old}", f"/conversations/{number}")
        return delivery.with_body(body), str(number)
    if provider == "chatwoot":
        conversation = body if body["event"].startswith("conversation_") else body["conversation"]
        conversation["id"] = number
        for message in conversation.get("messages", []):
            message["conversation_id"] = number
        return delivery.with_body(body), f"3:{number}"
    if "freshdesk_webhook" in body:  # Freshdesk simple content
        fields = body["freshdesk_webhook"]
        old, fields["ticket_id"] = fields["ticket_id"], number
        for name in ("ticket_url", "ticket_portal_url"):
            fields[name] = fields[name].replace(f"/tickets/{old}", f"/tickets/{number}")
        return delivery.with_body(body), str(number)
    body["ticket_id"] = str(number)  # Freshdesk advanced content
    return delivery.with_body(body), str(number)


def on_own_ticket(deliveries: list[FieldDelivery]) -> tuple[list[FieldDelivery], str]:
    number = fresh_number()
    moved = [with_ticket_number(delivery, number) for delivery in deliveries]
    return [delivery for delivery, _ in moved], moved[0][1]


def post(stack: RunningStack, delivery: FieldDelivery) -> Any:
    """The delivery with its headers, signed now with the stack's secret as the helpdesk signs it."""
    secret = stack.secrets["webhook_secrets"][delivery.provider]
    auth = sign_as_helpdesk(delivery.provider, delivery.raw, secret, datetime.now(UTC))
    return stack.request("POST", f"/webhooks/{delivery.provider}", data=delivery.raw,
                         headers={**delivery.headers, **auth})


def replay(stack: RunningStack, deliveries: list[FieldDelivery]) -> Windows:
    """Post each in turn (each accepted); when each arrived: {name: (before, after)}."""
    windows: Windows = {}
    for delivery in deliveries:
        before = datetime.now(UTC)
        reply = post(stack, delivery)
        windows[delivery.name] = (before, datetime.now(UTC))
        assert reply.status in (200, 202), (delivery.name, reply.status, reply.text)
    return windows


def drained_view(stack: RunningStack, provider: str, ticket_id: str) -> dict[str, Any]:
    assert stack.request("POST", "/_local/drain").status == 200
    reply = stack.request("GET", f"/v1/tickets/{provider}/{ticket_id}", admin=True)
    assert reply.status == 200, (ticket_id, reply.text)
    return reply.json()


def expected_view(label: str, windows: Windows, ticket_id: str) -> dict[str, Any]:
    """The lifecycle's ticket; Freshdesk's times are the arrivals of its deliveries (no time placeholder)."""
    ticket = FIELD_TICKETS[provider_of(label)]
    if label not in FRESHDESK:
        return expected_field_view(ticket, ticket_id=ticket_id)
    names = list(windows)
    return expected_field_view(ticket, created_at=names[0], first_agent_reply_at=names[1], solved_at=names[-1],
                               ticket_id=ticket_id)


@pytest.mark.parametrize("label", ["zendesk", "intercom", "helpscout", "chatwoot", *FRESHDESK])
def test_a_lifecycle_over_http_is_one_ticket_reopened_once(local_stack: RunningStack, label: str) -> None:
    # Given the helpdesk's lifecycle as recorded (Freshdesk's simple content shares ticket 3917 with the
    # advanced one, so it gets a ticket of its own)
    deliveries, ticket_id = field_lifecycle(label), FIELD_TICKETS[provider_of(label)].ticket_id
    if label == "freshdesk-simple":
        deliveries, ticket_id = on_own_ticket(deliveries)

    # When every delivery is posted in dispatch order and the stream is drained
    windows = replay(local_stack, deliveries)
    view = drained_view(local_stack, provider_of(label), ticket_id)

    # Then the admin reads one ticket solved at the second solve, reopened once, not a first-contact
    # resolution, with the customer, channel and agent replies of the files (Chatwoot under
    # "<account>:<conversation>")
    assert field_view(view, windows if label in FRESHDESK else None) == expected_view(label, windows, ticket_id)


def test_freshdesk_solves_with_the_same_body_around_a_reopen_are_two_solves_over_http(
        local_stack: RunningStack) -> None:
    # Given a Freshdesk ticket (advanced content) solved and reopened, on a ticket of its own
    deliveries, ticket_id = on_own_ticket(field_lifecycle("freshdesk-advanced"))
    first_solve = next(d for d in deliveries if d.name == "advanced/04-solved")
    second_solve = deliveries[-1]
    assert second_solve.raw == first_solve.raw  # nothing in the body tells them apart
    windows = replay(local_stack, deliveries[:-1])

    # When the second "Resolved", byte-identical to the first, arrives
    started = datetime.now(UTC)
    reply = post(local_stack, second_solve)
    windows[second_solve.name] = (started, datetime.now(UTC))

    # Then it is applied as a new event
    assert reply.status == 202, reply.text
    assert (reply.json()["applied"], reply.json()["duplicates"]) == (1, 0), reply.text
    # And the ticket is solved when it arrived, with one reopen
    view = field_view(drained_view(local_stack, "freshdesk", ticket_id), windows)
    assert (view["status"], view["solved_at"], view["reopens"], view["fcr"]) == (
        "solved", second_solve.name, 1, False)


@pytest.mark.parametrize("label", RETRIED)
def test_a_retry_over_http_changes_nothing(local_stack: RunningStack, label: str) -> None:
    # Given the lifecycle applied, on a ticket of its own (the lifecycle test uses the recorded one)
    deliveries, ticket_id = on_own_ticket(field_lifecycle(label))
    provider = provider_of(label)
    windows = replay(local_stack, deliveries)
    before = drained_view(local_stack, provider, ticket_id)
    items = local_stack.record_count()

    # When the helpdesk sends one applied delivery again, unchanged (Freshdesk: its last one, right after)
    retried = next(d for d in deliveries if d.name == RETRIED[label])
    reply = post(local_stack, retried)

    # Then it is a 200 that applies nothing
    assert reply.status == 200, reply.text
    assert reply.json()["applied"] == 0 and reply.json()["duplicates"] >= 1, reply.text
    # And the ticket and the table are as they were
    assert drained_view(local_stack, provider, ticket_id) == before
    assert local_stack.record_count() == items
    assert field_view(before, windows if label in FRESHDESK else None) == expected_view(label, windows, ticket_id)
