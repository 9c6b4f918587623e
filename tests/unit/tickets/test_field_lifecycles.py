"""Real-shaped lifecycles of four helpdesks (tests/fixtures/field, sources in its README) mapped by the
adapters and folded: created -> agent reply -> customer reply -> solved -> reopened -> solved must read
as one reopen, the second solve, the right customer and channel, in every way the helpdesk reports the
reopen and in any delivery order. Freshdesk's identity depends on what is stored, so it is tested through
the handler (tests/integration/test_field_webhooks.py) and over HTTP, not here."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from touchpoint.catalog import Catalog
from touchpoint.tickets import TicketEvent, fold, parse_webhook
from touchpoint_local.testing import (
    FIELD_LIFECYCLES,
    FIELD_TICKETS,
    FieldDelivery,
    chatwoot_in_account,
    expected_field_view,
    field_delivery,
    field_lifecycle,
    field_view,
)

# Only Freshdesk bodies are dated on receipt; the others carry their own times.
RECEIVED_AT = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
SELF_IDENTIFYING = ("zendesk", "intercom", "helpscout", "chatwoot")

# Every way the helpdesks report the reopen (README: Help Scout (c), Intercom (b), Chatwoot (d) and the
# status-event note): each must give exactly one reopen.
REOPEN_VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "helpscout 06b instead of 06": ("helpscout", (
        "01-convo.created", "02-convo.agent.reply.created", "03-convo.customer.reply.created",
        "04-convo.status.closed", "05-convo.customer.reply.created.reopens",
        "06b-convo.status.active.without-closedAt", "07-convo.agent.reply.created", "08-convo.status.closed")),
    "helpscout no status event (the reply 05 reopens)": ("helpscout", (
        "01-convo.created", "02-convo.agent.reply.created", "03-convo.customer.reply.created",
        "04-convo.status.closed", "05-convo.customer.reply.created.reopens", "07-convo.agent.reply.created",
        "08-convo.status.closed")),
    "helpscout 06 and 06b": ("helpscout", (
        "01-convo.created", "02-convo.agent.reply.created", "03-convo.customer.reply.created",
        "04-convo.status.closed", "05-convo.customer.reply.created.reopens", "06-convo.status.active",
        "06b-convo.status.active.without-closedAt", "07-convo.agent.reply.created", "08-convo.status.closed")),
    "intercom admin.opened instead of the reply": ("intercom", (
        "01-conversation.user.created", "02-conversation.admin.replied", "03-conversation.user.replied",
        "04-conversation.admin.closed", "alt-05-conversation.admin.opened", "06-conversation.admin.replied",
        "07-conversation.admin.closed")),
    "intercom reply and admin.opened": ("intercom", (
        "01-conversation.user.created", "02-conversation.admin.replied", "03-conversation.user.replied",
        "04-conversation.admin.closed", "05-conversation.user.replied.into-closed",
        "alt-05-conversation.admin.opened", "06-conversation.admin.replied", "07-conversation.admin.closed")),
    "chatwoot conversation_status_changed only": ("chatwoot", (
        "01-conversation_created", "02-message_created.incoming", "03-message_created.outgoing",
        "04-message_created.incoming", "05-conversation_status_changed.resolved",
        "06-conversation_status_changed.reopened", "07-message_created.incoming", "08-message_created.outgoing",
        "09-conversation_status_changed.resolved")),
    "chatwoot conversation_updated only": ("chatwoot", (
        "01-conversation_created", "02-message_created.incoming", "03-message_created.outgoing",
        "04-message_created.incoming", "05b-conversation_updated.resolved", "06b-conversation_updated.reopened",
        "07-message_created.incoming", "08-message_created.outgoing", "09b-conversation_updated.resolved")),
    "chatwoot both": ("chatwoot", FIELD_LIFECYCLES["chatwoot"][1]),
}

# A reopen signal on a ticket that was never solved: no reopen.
NEVER_SOLVED = {
    "helpscout convo.status active": ("helpscout", (
        "01-convo.created", "02-convo.agent.reply.created", "03-convo.customer.reply.created",
        "06b-convo.status.active.without-closedAt")),
    "intercom admin.opened": ("intercom", (
        "01-conversation.user.created", "02-conversation.admin.replied", "03-conversation.user.replied",
        "alt-05-conversation.admin.opened")),
    "chatwoot status_changed to open": ("chatwoot", (
        "01-conversation_created", "02-message_created.incoming", "03-message_created.outgoing",
        "04-message_created.incoming", "06-conversation_status_changed.reopened")),
}


def events_of(delivery: FieldDelivery, catalog: Catalog) -> list[TicketEvent]:
    return parse_webhook(delivery.provider, delivery.headers, delivery.raw, catalog, received_at=RECEIVED_AT)


def ticket_of(events: list[TicketEvent], catalog: Catalog) -> dict[str, Any]:
    """The normalized ticket of the events, as the field tests compare it."""
    return field_view(fold(events, default_touchpoint=catalog.ticket_mapping.default).to_public())


def replay(deliveries: list[FieldDelivery], catalog: Catalog, ticket_id: str) -> list[TicketEvent]:
    """Every event of the deliveries, after checking they all belong to the one ticket."""
    events = [event for delivery in deliveries for event in events_of(delivery, catalog)]
    assert {(event.provider, event.ticket_id) for event in events} == {(deliveries[0].provider, ticket_id)}, [
        (event.event, event.ticket_id) for event in events]
    return events


# Whole lifecycles ------------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", SELF_IDENTIFYING)
def test_a_full_lifecycle_reads_one_reopen_and_the_second_solve(provider: str, catalog: Catalog) -> None:
    # Given the helpdesk's deliveries for created, agent reply, customer reply, solved, reopened, solved
    deliveries = field_lifecycle(provider)
    expected = FIELD_TICKETS[provider]

    # When each is mapped and the ticket's events are folded
    events = replay(deliveries, catalog, expected.ticket_id)

    # Then it is solved at the second solve (T5), created at T0, first answered at T1, reopened once, not
    # a first-contact resolution, with the customer, channel and agent replies the files hold
    assert ticket_of(events, catalog) == expected_field_view(expected)


@pytest.mark.parametrize("variant", REOPEN_VARIANTS)
def test_every_way_the_reopen_is_reported_counts_one_reopen(variant: str, catalog: Catalog) -> None:
    # Given the lifecycle with the reopen reported this way (by a status event, a reply, both, or neither)
    provider, names = REOPEN_VARIANTS[variant]
    expected = FIELD_TICKETS[provider]

    # When mapped and folded
    events = replay(field_lifecycle(provider, names), catalog, expected.ticket_id)

    # Then the ticket reads exactly one reopen, and everything else as in the canonical lifecycle
    assert ticket_of(events, catalog) == expected_field_view(expected)


@pytest.mark.parametrize("case", NEVER_SOLVED)
def test_a_reopen_signal_on_a_ticket_never_solved_is_no_reopen(case: str, catalog: Catalog) -> None:
    # Given a ticket answered but never solved, then a delivery that would reopen a solved one
    provider, names = NEVER_SOLVED[case]
    expected = FIELD_TICKETS[provider]

    # When mapped and folded
    ticket = ticket_of(replay(field_lifecycle(provider, names), catalog, expected.ticket_id), catalog)

    # Then nothing was reopened: the ticket is open, with no solve and no first-contact verdict yet
    assert (ticket["status"], ticket["reopens"], ticket["solved_at"], ticket["fcr"]) == ("open", 0, None, None)


# Order and repetition ---------------------------------------------------------------------------------
ORDERED_CASES = {**{provider: (provider, FIELD_LIFECYCLES[provider][1]) for provider in SELF_IDENTIFYING},
                 "helpscout 06 and 06b": REOPEN_VARIANTS["helpscout 06 and 06b"],
                 "intercom reply and admin.opened": REOPEN_VARIANTS["intercom reply and admin.opened"]}


@pytest.mark.parametrize("case", ORDERED_CASES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.randoms(use_true_random=False))
def test_any_delivery_order_gives_the_same_ticket(case: str, catalog: Catalog, seed: random.Random) -> None:
    # Given the lifecycle's deliveries in an arbitrary order (the README: delivery order between
    # deliveries is guaranteed by no helpdesk)
    provider, names = ORDERED_CASES[case]
    deliveries = field_lifecycle(provider, names)
    seed.shuffle(deliveries)
    expected = FIELD_TICKETS[provider]

    # When each is mapped as it arrives and the ticket's events are folded
    events = replay(deliveries, catalog, expected.ticket_id)

    # Then the ticket is the one of the delivery order
    assert ticket_of(events, catalog) == expected_field_view(expected), [d.name for d in deliveries]


@pytest.mark.parametrize("provider", SELF_IDENTIFYING)
def test_a_redelivered_delivery_maps_to_the_same_events(provider: str, catalog: Catalog) -> None:
    # Given the lifecycle, and every delivery of it sent a second time (a helpdesk retry resends the body)
    deliveries = field_lifecycle(provider)
    first = [events_of(delivery, catalog) for delivery in deliveries]

    # When the retries are mapped
    again = [events_of(delivery, catalog) for delivery in deliveries]

    # Then each carries the event ids of its first delivery, so the store keeps it once
    assert [[e.event_id for e in events] for events in again] == [[e.event_id for e in events] for events in first]
    # And the ticket with the retries is the ticket without them
    expected = FIELD_TICKETS[provider]
    assert ticket_of([e for events in first + again for e in events], catalog) == expected_field_view(expected)


# Zendesk: the requester's description is not an agent reply ---------------------------------------------
def zendesk_description(author_id: str, name: str, moment: str, body_text: str | None = None) -> FieldDelivery:
    """A ticket.comment_added built from 02 (Tom's reply) for the ticket's first comment: is_staff true,
    by ``author_id`` at ``moment``. README (a): whether Zendesk sends one for the description is
    UNCONFIRMED, so the adapter must cope with both."""
    agent_reply = field_delivery("zendesk", "02-ticket.comment_added.agent")
    created = field_delivery("zendesk", "01-ticket.created").json()
    body = copy.deepcopy(agent_reply.json())
    body["id"] = "5d1f0a9e-6b2c-4d3e-8f40-91a2b3c4d5e6"
    body["time"] = moment
    body["detail"].update({"status": "NEW", "assignee_id": None, "actor_id": author_id,
                           "updated_at": moment[:19] + "Z"})
    body["event"]["comment"] = {"id": "31877400128765", "body": body_text or created["detail"]["description"],
                                "is_public": True, "author": {"id": author_id, "is_staff": True, "name": name}}
    body["event"]["meta"]["sequence"] = {"id": created["event"]["meta"]["sequence"]["id"], "position": 2}
    return agent_reply.with_body(body)


REQUESTER = "21684302411533"  # detail.requester_id (Ana)
AGENT = "21684193877261"  # Tom
ZENDESK_DESCRIPTIONS = {
    # The brief's case: the requester's comment with the ticket's creation, flagged is_staff.
    "requester, is_staff, at creation": (REQUESTER, "Ana Souza", "2026-03-10T09:14:05.418411907Z"),
    # The requester is the customer whatever the flag says, even later than the creation.
    "requester, is_staff, after creation": (REQUESTER, "Ana Souza", "2026-03-10T09:20:00.000000000Z"),
    # A ticket an agent opened for Ana: its first comment comes with the creation.
    "agent, at creation": (AGENT, "Tom Becker", "2026-03-10T09:14:05.418411907Z"),
}


@pytest.mark.parametrize("case", ZENDESK_DESCRIPTIONS)
def test_zendesk_description_is_never_an_agent_reply(case: str, catalog: Catalog) -> None:
    # Given the Zendesk lifecycle plus a comment_added that is the ticket's description or the requester's
    author, name, moment = ZENDESK_DESCRIPTIONS[case]
    description = zendesk_description(author, name, moment)
    assert description.json()["detail"]["requester_id"] == REQUESTER

    # When it is mapped on its own
    kinds = [event.event for event in events_of(description, catalog)]
    # Then it is no agent reply
    assert "agent_replied" not in kinds, kinds

    # And when it is folded with the lifecycle, the agent replies are still Tom's two, the first at T1
    deliveries = [*field_lifecycle("zendesk")[:1], description, *field_lifecycle("zendesk")[1:]]
    assert ticket_of(replay(deliveries, catalog, "4821"), catalog) == expected_field_view(FIELD_TICKETS["zendesk"])


# Chatwoot: a conversation id is unique only within its account -------------------------------------------
def chatwoot_before_4_14_2(delivery: FieldDelivery) -> FieldDelivery:
    """The delivery as Chatwoot before 4.14.2 sends it: conversation payloads carry no ``account``
    (README (d)); the account is only in ``messages[].account_id``."""
    body = copy.deepcopy(delivery.json())
    if body["event"].startswith("conversation_"):
        body.pop("account", None)
    elif isinstance(body.get("conversation"), dict):
        body["conversation"].pop("account", None)
    return delivery.with_body(body)


def test_chatwoot_ticket_id_names_the_account(catalog: Catalog) -> None:
    # Given the Chatwoot lifecycle of account 3, conversation 87
    deliveries = field_lifecycle("chatwoot")
    # When mapped
    events = [event for delivery in deliveries for event in events_of(delivery, catalog)]
    # Then every event belongs to ticket "3:87"
    assert {event.ticket_id for event in events} == {"3:87"}


def test_chatwoot_without_a_top_level_account_takes_it_from_the_messages(catalog: Catalog) -> None:
    # Given the lifecycle as an install older than 4.14.2 sends it (no account on conversation payloads)
    deliveries = [chatwoot_before_4_14_2(delivery) for delivery in field_lifecycle("chatwoot")]
    # When mapped and folded
    events = replay(deliveries, catalog, "3:87")
    # Then it is the same ticket "3:87", read the same
    assert ticket_of(events, catalog) == expected_field_view(FIELD_TICKETS["chatwoot"])


def test_the_same_conversation_id_in_two_accounts_is_two_tickets(catalog: Catalog) -> None:
    # Given conversation 87 of account 3 and conversation 87 of account 4 of the same install
    account_3 = field_lifecycle("chatwoot")
    account_4 = [chatwoot_in_account(delivery, 4) for delivery in account_3]

    # When both lifecycles are mapped
    events_3 = replay(account_3, catalog, "3:87")
    events_4 = replay(account_4, catalog, "4:87")

    # Then they are two tickets, "3:87" and "4:87", each the whole lifecycle
    assert ticket_of(events_3, catalog) == expected_field_view(FIELD_TICKETS["chatwoot"])
    assert ticket_of(events_4, catalog) == expected_field_view(FIELD_TICKETS["chatwoot"], ticket_id="4:87")


# Help Scout's event header is not signed ------------------------------------------------------------
HELPSCOUT_LIFECYCLE = ("01-convo.created", "02-convo.agent.reply.created", "03-convo.customer.reply.created",
                       "04-convo.status.closed", "05-convo.customer.reply.created.reopens",
                       "06-convo.status.active", "07-convo.agent.reply.created")


@pytest.mark.parametrize("name", ["02-convo.agent.reply.created", "03-convo.customer.reply.created",
                                  "04-convo.status.closed", "07-convo.agent.reply.created"])
def test_a_help_scout_body_replayed_under_every_event_name_adds_nothing_new(name: str, catalog: Catalog) -> None:
    # Given one genuine delivery, and the events the conversation's deliveries up to it mapped to
    genuine = field_delivery("helpscout", name)
    so_far = [n for n in HELPSCOUT_LIFECYCLE if n <= name]
    applied = {event.event_id for n in so_far for event in events_of(field_delivery("helpscout", n), catalog)}
    # When an attacker replays its signed body under every other event name (the header is unsigned)
    replays = [FieldDelivery("helpscout", name, genuine.raw, {**genuine.headers, "X-HelpScout-Event": other})
               for other in ("convo.created", "convo.agent.reply.created", "convo.customer.reply.created",
                             "convo.status")]
    replayed = [event for delivery in replays for event in events_of(delivery, catalog)]
    # Then no reply is invented: every replayed reply is the genuine one (the same id, a duplicate), and
    # what else comes out is what the body itself says (its creation, its status)
    replies = [event for event in replayed if event.event in ("agent_replied", "customer_replied")]
    assert {event.event_id for event in replies} <= applied
    assert {event.event for event in replayed} - {"agent_replied", "customer_replied"} <= {"created", "solved",
                                                                                          "reopened"}


def test_a_reply_event_whose_body_shows_the_other_side_replying_last_yields_nothing(catalog: Catalog) -> None:
    # Given the body of a customer's reply, sent under the agent-reply event name
    customer_reply = field_delivery("helpscout", "03-convo.customer.reply.created")
    forged = FieldDelivery("helpscout", "forged", customer_reply.raw,
                           {**customer_reply.headers, "X-HelpScout-Event": "convo.agent.reply.created"})
    # Then no agent reply comes out (it would have set a first response time)
    assert events_of(forged, catalog) == []
