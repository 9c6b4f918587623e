"""touchpoint_local.payloads: realistic helpdesk deliveries that the real adapters and signature checks
accept, mapping back to the action that produced them; retries are byte-identical, distinct actions
get distinct event ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from touchpoint.catalog import load_catalog
from touchpoint.errors import ApiError
from touchpoint.tickets import CHANNELS, EVENT_KINDS, PROVIDERS, TicketEvent, fold, parse_webhook, verify_signature
from touchpoint_local.payloads import (
    CHANNEL_FALLBACKS,
    SUPPORTED,
    TicketAction,
    delivery,
    expected_event,
    stored_ticket_id,
    zendesk_user_id,
)

CATALOG = load_catalog("ecommerce")
SECRET = "whsec-test-0123456789"
NOW = datetime(2026, 11, 22, 15, 4, 5, tzinfo=UTC)
OCCURRED = datetime(2026, 11, 22, 14, 30, 7, 123456, tzinfo=UTC)
EMAIL = "Jane.Doe@Example.com"
EXTERNAL = "cust_1042"

# Written out here rather than read from the module, so a change on either side shows up.
EXPECTED_SUPPORTED = {
    "zendesk": set(EVENT_KINDS),
    "intercom": {"created", "agent_replied", "customer_replied", "solved", "reopened"},
    "helpscout": {"created", "agent_replied", "customer_replied", "solved", "reopened"},
    "chatwoot": {"created", "agent_replied", "customer_replied", "solved", "reopened"},
    "freshdesk": set(EVENT_KINDS),
    "generic": set(EVENT_KINDS),
}
SUPPORTED_PAIRS = sorted((provider, kind) for provider, kinds in EXPECTED_SUPPORTED.items() for kind in kinds)
UNSUPPORTED_PAIRS = sorted((provider, kind) for provider in PROVIDERS for kind in EVENT_KINDS
                           if kind not in EXPECTED_SUPPORTED[provider])
# provider -> SPEC channel -> the channel the event arrives with.
SAME = {channel: channel for channel in CHANNELS}
ARRIVES_AS = {
    "zendesk": {**SAME, "in_person": "other"},
    "intercom": {**SAME, "web": "other", "in_person": "other"},
    "helpscout": {**SAME, "web": "email", "social": "email", "in_person": "email", "other": "email"},
    "chatwoot": {**SAME, "web": "other", "in_person": "other"},
    "freshdesk": SAME,
    "generic": SAME,
}
# A channel each provider expresses natively, for the per-kind tests.
NATIVE_CHANNEL = {"zendesk": "email", "intercom": "chat", "helpscout": "email", "chatwoot": "chat",
                  "freshdesk": "phone", "generic": "web"}
# Help Scout and Chatwoot creations are identified by the conversation: one created event per ticket.
ONE_CREATION_PER_TICKET = {"helpscout", "chatwoot"}
# A status change reported twice (Chatwoot's two deliveries, Help Scout's reply and status change) has
# one id: the same kind on the same ticket at the same instant is one event there.
ONE_EVENT_PER_INSTANT = {("chatwoot", "solved"), ("chatwoot", "reopened"), ("helpscout", "reopened")}


def one_id_per_instant(provider: str, kind: str) -> bool:
    """Whether a second action of this kind at the same instant is the same event."""
    return (kind == "created" and provider in ONE_CREATION_PER_TICKET) or (provider, kind) in ONE_EVENT_PER_INSTANT
ROBUST: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}


def action(provider: str, kind: str, **changes: Any) -> TicketAction:
    fields: dict[str, Any] = {
        "provider": provider, "ticket_id": "4521", "kind": kind, "occurred_at": OCCURRED,
        "customer_email": EMAIL, "customer_external_id": EXTERNAL, "channel": NATIVE_CHANNEL[provider],
        "handle_seconds": 300, "tags": ("returns", "vip"), "sequence": 0,
    }
    return TicketAction(**{**fields, **changes})


def parse(act: TicketAction, now: datetime = NOW) -> list[TicketEvent]:
    headers, body = delivery(act, SECRET, now)
    return parse_webhook(act.provider, headers, body, CATALOG, received_at=now)


def only_event(act: TicketAction) -> TicketEvent:
    events = parse(act)
    assert len(events) == 1, events
    return events[0]


def customer_id_for(act: TicketAction) -> str:
    """What each adapter takes as the customer (see the adapters' module docstring)."""
    if act.provider == "helpscout":
        return act.customer_email.lower()  # Help Scout payloads carry no external id
    if act.customer_external_id is not None:
        return act.customer_external_id
    if act.provider == "zendesk":
        return f"zendesk:user:{zendesk_user_id(act.customer_email)}"  # the native payload has no email
    return act.customer_email.lower()


def handle_seconds_for(act: TicketAction) -> int | None:
    carried = act.provider in ("freshdesk", "generic") or (act.provider == "zendesk"
                                                            and act.customer_external_id is not None)
    return act.handle_seconds if carried else None


def time_for(act: TicketAction) -> datetime:
    """occurred_at at the precision the provider's payload carries."""
    moment = act.occurred_at.astimezone(UTC)
    seconds = (act.provider in ("intercom", "helpscout")
               or (act.provider == "zendesk" and act.customer_external_id is not None)
               or (act.provider, act.kind) == ("chatwoot", "created"))
    if seconds:
        return moment.replace(microsecond=0)
    if act.provider == "chatwoot" and act.kind in ("agent_replied", "customer_replied"):
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return moment


def assert_maps_back(event: TicketEvent, act: TicketAction) -> None:
    assert event.provider == act.provider
    assert event.ticket_id == stored_ticket_id(act.provider, act.ticket_id)
    assert event.event == act.kind
    assert event.occurred_at == time_for(act)
    assert event.customer_id == customer_id_for(act)
    assert event.channel == ARRIVES_AS[act.provider][act.channel]
    assert event.handle_seconds == handle_seconds_for(act)
    assert event.tags == tuple(dict.fromkeys(act.tags))


# What each provider can send ------------------------------------------------------------------

def test_supported_lists_each_providers_kinds() -> None:
    # Given the module's table / Then it is the documented one, covering every provider
    assert SUPPORTED == EXPECTED_SUPPORTED


@pytest.mark.parametrize(("provider", "kind"), UNSUPPORTED_PAIRS)
def test_an_unsupported_pair_raises_value_error(provider: str, kind: str) -> None:
    # Given a kind the provider's webhooks cannot express (their "closed" is reopenable: solved)
    # When delivered / Then a clear ValueError, not a payload the adapter would misread
    with pytest.raises(ValueError, match=f"{provider} cannot send a '{kind}' event"):
        delivery(action(provider, kind), SECRET, NOW)


# Each supported pair maps back to its action -----------------------------------------------------

@pytest.mark.parametrize("external_id", [EXTERNAL, None], ids=["external-id", "email-only"])
@pytest.mark.parametrize(("provider", "kind"), SUPPORTED_PAIRS)
def test_each_supported_pair_parses_back_to_the_action(provider: str, kind: str, external_id: str | None) -> None:
    # Given an action with a microsecond time, a handle time and tags
    act = action(provider, kind, customer_external_id=external_id)

    # When its delivery goes through the real adapter
    event = only_event(act)

    # Then exactly one event with the action's fields (at the provider's precision) comes out
    assert_maps_back(event, act)
    assert event.touchpoint == CATALOG.touchpoint_for_ticket(("returns", "vip"), None)
    assert {k: v for k, v in event.model_dump().items() if k in expected_event(act)} == expected_event(act)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_channels_map_back_or_fall_back_as_documented(provider: str, channel: str) -> None:
    # Given an action on each SPEC channel
    act = action(provider, "created", channel=channel)

    # When parsed / Then the channel comes back, or the documented fallback when inexpressible
    assert only_event(act).channel == ARRIVES_AS[provider][channel]
    assert CHANNEL_FALLBACKS[provider] == {c: to for c, to in ARRIVES_AS[provider].items() if c != to}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_customer_id_without_external_id(provider: str) -> None:
    # Given a customer known only by a mixed-case email
    event = only_event(action(provider, "created", customer_external_id=None))

    # Then the email lowercased, except Zendesk event subscriptions (a namespaced Zendesk user id)
    if provider == "zendesk":
        assert event.customer_id.startswith("zendesk:user:") and event.customer_id[13:].isdigit()
        assert event.customer_id == only_event(action(provider, "solved", customer_external_id=None)).customer_id
    else:
        assert event.customer_id == "jane.doe@example.com"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_customer_id_with_external_id(provider: str) -> None:
    # Given a customer with the shop's own id / Then that id, except on Help Scout (no such field)
    event = only_event(action(provider, "created"))
    assert event.customer_id == ("jane.doe@example.com" if provider == "helpscout" else EXTERNAL)


def test_zendesk_uses_the_trigger_body_with_an_external_id_and_native_events_without() -> None:
    # Given the same Zendesk reply with and without an external id
    _, trigger = delivery(action("zendesk", "agent_replied"), SECRET, NOW)
    _, native = delivery(action("zendesk", "agent_replied", customer_external_id=None), SECRET, NOW)

    # Then the first is the documented trigger body, the second a native event subscription
    trigger_body, native_body = json.loads(trigger), json.loads(native)
    assert trigger_body["event"] == "agent_replied" and trigger_body["requester_external_id"] == EXTERNAL
    assert native_body["type"] == "zen:event-type:ticket.comment_added"
    assert native_body["event"]["comment"]["author"]["is_staff"] is True


@pytest.mark.parametrize(("kind", "event_name"), [
    ("created", "convo.created"), ("agent_replied", "convo.agent.reply.created"),
    ("customer_replied", "convo.customer.reply.created"), ("solved", "convo.status"),
    ("reopened", "convo.status")])
def test_helpscout_names_the_event_in_its_header(kind: str, event_name: str) -> None:
    headers, _ = delivery(action("helpscout", kind), SECRET, NOW)
    assert headers["X-HelpScout-Event"] == event_name


@pytest.mark.parametrize(("provider", "kind"), [("intercom", "created"), ("intercom", "solved"),
                                                ("chatwoot", "agent_replied"), ("chatwoot", "reopened")])
def test_the_provider_shape_is_used(provider: str, kind: str) -> None:
    _, raw = delivery(action(provider, kind), SECRET, NOW)
    body = json.loads(raw)
    if provider == "intercom":
        assert body["type"] == "notification_event"
        assert body["topic"] == {"created": "conversation.user.created", "solved": "conversation.admin.closed"}[kind]
    else:
        assert body["event"] == {"agent_replied": "message_created", "reopened": "conversation_status_changed"}[kind]


def test_generic_without_tags_leaves_the_touchpoint_to_the_fold() -> None:
    event = only_event(action("generic", "created", tags=()))
    assert (event.tags, event.touchpoint) == ((), None)


def test_freshdesk_without_an_event_time_would_fall_back_to_receipt_but_we_always_send_one() -> None:
    # The body carries occurred_at, so the receive time is never used
    act = action("freshdesk", "agent_replied")
    headers, raw = delivery(act, SECRET, NOW)
    assert json.loads(raw)["occurred_at"] == "2026-11-22T14:30:07.123456Z"
    assert parse_webhook("freshdesk", headers, raw, CATALOG, received_at=NOW + timedelta(hours=5))[0].occurred_at \
        == OCCURRED


# Signatures -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("provider", "kind"), SUPPORTED_PAIRS)
def test_signature_headers_verify(provider: str, kind: str) -> None:
    # Given a delivery signed at NOW
    headers, body = delivery(action(provider, kind), SECRET, NOW)

    # Then the route's check accepts it, with a content type, and refuses it under another secret
    verify_signature(provider, headers, body, SECRET, NOW + timedelta(seconds=30))
    assert headers["Content-Type"] == "application/json"
    with pytest.raises(ApiError):
        verify_signature(provider, headers, body, SECRET + "-other", NOW)


# Retries and uniqueness -----------------------------------------------------------------------

@pytest.mark.parametrize(("provider", "kind"), SUPPORTED_PAIRS)
def test_the_same_action_twice_is_a_byte_identical_retry(provider: str, kind: str) -> None:
    # Given one action delivered twice, the second time a minute later
    act = action(provider, kind)
    first_headers, first = delivery(act, SECRET, NOW)
    again_headers, again = delivery(act, SECRET, NOW)
    _, later = delivery(act, SECRET, NOW + timedelta(minutes=1))

    # Then the body is byte-identical (only a timestamped signature moves) and the event id repeats
    assert first == again == later
    assert first_headers == again_headers
    assert only_event(act).event_id == parse(act, NOW + timedelta(minutes=1))[0].event_id


@pytest.mark.parametrize(("provider", "kind"), SUPPORTED_PAIRS)
def test_another_sequence_number_is_another_event(provider: str, kind: str) -> None:
    # Given the same kind on the same ticket at the same instant, numbered 0 and 1
    first = only_event(action(provider, kind, sequence=0))
    second = only_event(action(provider, kind, sequence=1))

    # Then the event ids differ — except creations on Help Scout and Chatwoot, one per conversation,
    # and their status changes, one per instant
    if one_id_per_instant(provider, kind):
        assert first.event_id == second.event_id
    else:
        assert first.event_id != second.event_id


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_two_actions_of_a_ticket_share_an_event_id(provider: str) -> None:
    # Given every supported kind, three sequence numbers each, on two tickets
    ids = [only_event(action(provider, kind, ticket_id=ticket, sequence=sequence)).event_id
           for ticket in ("4521", "4522") for kind in sorted(EXPECTED_SUPPORTED[provider])
           for sequence in range(3) if sequence == 0 or not one_id_per_instant(provider, kind)]

    # Then all ids are distinct
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_lifecycle_folds_into_the_expected_ticket(provider: str) -> None:
    # Given a ticket created, answered twice, solved, reopened and solved again
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    steps = [("created", 0, 0), ("agent_replied", 0, 10), ("customer_replied", 0, 20), ("agent_replied", 1, 30),
             ("solved", 0, 40), ("reopened", 0, 60), ("solved", 1, 90)]
    events = [event for kind, sequence, minutes in steps
              for event in parse(action(provider, kind, sequence=sequence, handle_seconds=None,
                                        occurred_at=start + timedelta(minutes=minutes)))]

    # When folded (with every delivery retried once)
    state = fold(events + events)

    # Then the ticket has two agent replies, one reopen, and is solved at the last solve
    assert (state.status, state.agent_replies, state.reopens, state.fcr) == ("solved", 2, 1, False)
    assert state.created_at == start and state.solved_at == start + timedelta(minutes=90)


# Invalid actions ------------------------------------------------------------------------------

@pytest.mark.parametrize("changes", [
    {"provider": "jira"}, {"kind": "merged"}, {"channel": "fax"},
    {"occurred_at": datetime(2026, 11, 22, 14, 30)}, {"ticket_id": ""}, {"ticket_id": " 4521"},
    {"customer_email": ""}, {"customer_external_id": "  "}, {"handle_seconds": -1}, {"handle_seconds": True},
    {"sequence": -1}, {"tags": ("ok", "bad\x00")},
], ids=lambda changes: next(iter(changes)))
def test_an_invalid_action_is_refused(changes: dict[str, Any]) -> None:
    valid = action("generic", "created").__dict__
    with pytest.raises(ValueError):
        TicketAction(**{**valid, **changes})


@pytest.mark.parametrize(("provider", "tag"), [("zendesk", "return request"), ("freshdesk", "a,b")])
def test_tags_the_provider_cannot_carry_are_refused(provider: str, tag: str) -> None:
    with pytest.raises(ValueError, match="cannot send the tag"):
        delivery(action(provider, "created", tags=(tag,)), SECRET, NOW)


def test_tags_with_spaces_reach_freshdesk() -> None:
    assert only_event(action("freshdesk", "created", tags=("return request", "vip"))).tags \
        == ("return request", "vip")


# Random actions -------------------------------------------------------------------------------

IDENTIFIER = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:#",
                     min_size=1, max_size=40)
TAGS = st.lists(st.sampled_from(["returns", "refund", "shipping", "vip", "damaged", "order_status", "billing"]),
                max_size=4).map(tuple)
EMAILS = st.builds(lambda user, domain: f"{user}@{domain}",
                   st.from_regex(r"[A-Za-z][A-Za-z0-9._+-]{0,15}", fullmatch=True),
                   st.sampled_from(["Example.com", "shop.example.org", "MAIL.test"]))


@st.composite
def actions(draw: st.DrawFn) -> TicketAction:
    provider, kind = draw(st.sampled_from(SUPPORTED_PAIRS))
    return TicketAction(
        provider=provider,
        ticket_id=draw(st.integers(1, 10**9).map(str) | IDENTIFIER),
        kind=kind,
        occurred_at=draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1),
                                      timezones=st.just(UTC))),
        customer_email=draw(EMAILS),
        customer_external_id=draw(st.none() | IDENTIFIER),
        channel=draw(st.sampled_from(CHANNELS)),
        handle_seconds=draw(st.none() | st.integers(0, 31 * 24 * 3600)),
        tags=draw(TAGS),
        sequence=draw(st.integers(0, 10**6)),
    )


@settings(max_examples=300, **ROBUST)
@given(act=actions())
def test_random_actions_parse_back_and_retry_identically(act: TicketAction) -> None:
    # Given any action of a supported pair
    headers, body = delivery(act, SECRET, NOW)

    # When verified and parsed
    verify_signature(act.provider, headers, body, SECRET, NOW)
    events = parse_webhook(act.provider, headers, body, CATALOG, received_at=NOW)

    # Then one event that maps back to the action, and a retry is the same bytes
    assert len(events) == 1
    assert_maps_back(events[0], act)
    assert delivery(act, SECRET, NOW) == (headers, body)


@settings(max_examples=150, **ROBUST)
@given(act=actions(), other_sequence=st.integers(0, 10**6))
def test_random_actions_with_another_sequence_get_another_event_id(act: TicketAction, other_sequence: int) -> None:
    # Given the same action under another sequence number
    other = TicketAction(**{**act.__dict__, "sequence": other_sequence})
    same_id = only_event(act).event_id == only_event(other).event_id

    # Then the ids differ exactly when the sequence does (creations and status changes at one instant on
    # Help Scout/Chatwoot excepted)
    if one_id_per_instant(act.provider, act.kind):
        assert same_id
    else:
        assert same_id == (other_sequence == act.sequence)
