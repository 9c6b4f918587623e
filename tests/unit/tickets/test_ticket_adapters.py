"""Helpdesk payloads (tests/fixtures/webhooks) mapped to canonical events, and what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ticket_fixtures import RECEIVED_AT, parse_fixture
from touchpoint.errors import ApiError
from touchpoint.tickets import parse_webhook
from touchpoint.tickets.channels import channel_for
from touchpoint_local.testing import event_headers, fixture_bytes, fixture_json, fixture_names

HASHED = "<content hash>"  # the id is sha256 of the body: stability is tested separately


def expected(event_id: str, provider: str, ticket_id: str, customer_id: str, channel: str,
             touchpoint: str | None, event: str, occurred_at: str, tags: list[str],
             category: str | None = None, handle_seconds: int | None = None) -> dict[str, Any]:
    return {"event_id": event_id, "provider": provider, "ticket_id": ticket_id, "customer_id": customer_id,
            "channel": channel, "touchpoint": touchpoint, "event": event, "occurred_at": occurred_at,
            "handle_seconds": handle_seconds, "tags": tags, "category": category}


def refusal(provider: str, body: Any, catalog: Any, headers: dict[str, str] | None = None,
            **options: Any) -> ApiError:
    """The ApiError that parsing ``body`` (bytes as sent, or a value sent as JSON) raises: it must raise."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(ApiError) as raised:
        parse_webhook(provider, headers or {}, raw, catalog, **options)
    return raised.value


ZD_USER, ZD_TAGS = "zendesk:user:20978392", ["damaged", "returns"]
IC_TICKET = "1911149811"
HS_TICKET, HS_CUSTOMER = "2391938111", "sam.lee@example.com"
FD_CUSTOMER, FD_TAGS = "nina.park@example.com", ["exchange", "size"]


def intercom_conversation(event_id: str, event: str, occurred_at: str) -> dict[str, Any]:
    """An event of the Messenger conversation of the Intercom fixtures: chat with cust_1042, tagged shipping."""
    return expected(event_id, "intercom", IC_TICKET, "cust_1042", "chat", "support", event, occurred_at, ["shipping"])


EXPECTED: dict[tuple[str, str], list[dict[str, Any]]] = {
    # Zendesk event subscriptions: the customer is the namespaced Zendesk user (no email in payload).
    ("zendesk", "event_ticket_created"): [expected(
        "01JD3Q2M8V5KX1T0ZB7C4N6R9A", "zendesk", "35436", ZD_USER, "email", "support_returns", "created",
        "2026-11-16T09:12:07Z", ZD_TAGS)],
    ("zendesk", "event_comment_added_agent"): [expected(
        "01JD3RB6W2H9YQ4E8P1S5T7V3C", "zendesk", "35436", ZD_USER, "email", "support_returns",
        "agent_replied", "2026-11-16T09:40:31.456789Z", ZD_TAGS)],
    ("zendesk", "event_comment_added_private"): [],
    ("zendesk", "event_status_changed_solved"): [expected(
        "01JD3V0X1Y2Z3A4B5C6D7E8F9G", "zendesk", "35436", ZD_USER, "email", "support_returns", "solved",
        "2026-11-17T14:02:00Z", ZD_TAGS)],
    ("zendesk", "event_status_changed_reopened"): [expected(
        "01JD3W9K8J7H6G5F4E3D2C1B0A", "zendesk", "35436", ZD_USER, "email", "support_returns", "reopened",
        "2026-11-18T08:15:44Z", ZD_TAGS)],
    ("zendesk", "event_priority_changed"): [],
    # Zendesk trigger body: external id first, else the email lowercased; {{ticket.via}} "Web Form" is web.
    ("zendesk", "trigger_created"): [expected(
        HASHED, "zendesk", "35501", "cust_1042", "web", "support", "created", "2026-11-16T10:00:00Z",
        ["order_status", "vip"], category="question")],
    ("zendesk", "trigger_agent_replied"): [expected(
        HASHED, "zendesk", "35501", "jane.doe@example.com", "web", "support_returns", "agent_replied",
        "2026-11-16T10:25:13Z", ["order_status", "refund", "vip"], category="question", handle_seconds=420)],
    # Intercom: Messenger conversations are chat; "closed" can be reopened, so it is a solve.
    ("intercom", "conversation_user_created"): [intercom_conversation(
        "notif_5c1b0d4e-7f7a-4b57-9f0e-1a2b3c4d5e6f", "created", "2026-11-17T10:30:00Z")],
    ("intercom", "conversation_admin_replied"): [intercom_conversation(
        "notif_8d2e1f30-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "agent_replied", "2026-11-17T10:45:21Z")],
    ("intercom", "conversation_user_replied"): [intercom_conversation(
        "notif_2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "customer_replied", "2026-11-17T10:54:59Z")],
    ("intercom", "conversation_admin_closed"): [intercom_conversation(
        "notif_3c4d5e6f-7081-4293-a4b5-c6d7e8f90a1b", "solved", "2026-11-17T11:00:00Z")],
    ("intercom", "conversation_admin_opened"): [intercom_conversation(
        "notif_4d5e6f70-8192-43a4-b5c6-d7e8f90a1b2c", "reopened", "2026-11-18T11:00:00Z")],
    ("intercom", "conversation_user_created_email"): [expected(
        "notif_6f708192-a3b4-45c6-d7e8-f90a1b2c3d4e", "intercom", "1911150002", "omar.k@example.org", "email",
        "support", "created", "2026-11-17T11:46:40Z", [])],
    ("intercom", "ping"): [],
    # Help Scout: reply ids and times come from the newest matching thread; the tag "refund" maps.
    ("helpscout", "convo_created"): [expected(
        f"convo.created:{HS_TICKET}", "helpscout", HS_TICKET, HS_CUSTOMER, "email", "support_returns",
        "created", "2026-11-19T11:00:00Z", ["refund"])],
    ("helpscout", "convo_agent_reply_created"): [expected(
        "thread:98254731", "helpscout", HS_TICKET, HS_CUSTOMER, "email", "support_returns", "agent_replied",
        "2026-11-19T12:30:05Z", ["refund"])],
    ("helpscout", "convo_customer_reply_created"): [expected(
        "thread:98254790", "helpscout", HS_TICKET, HS_CUSTOMER, "email", "support_returns",
        "customer_replied", "2026-11-19T13:02:40Z", ["refund"])],
    ("helpscout", "convo_status_closed"): [expected(
        HASHED, "helpscout", HS_TICKET, HS_CUSTOMER, "email", "support_returns", "solved",
        "2026-11-19T15:45:00Z", ["refund"])],
    # One reopen per close: named after the close it undoes, whichever delivery reports it.
    ("helpscout", "convo_status_reopened"): [expected(
        f"reopen:{HS_TICKET}:2026-11-19T15:45:00+00:00", "helpscout", HS_TICKET, HS_CUSTOMER, "email",
        "support_returns", "reopened", "2026-11-20T08:00:00Z", ["refund"])],
    # Chatwoot: the contact identifier is the external id; WebWidget is chat; labels are tags; the
    # conversation id is per account, so the ticket is "<account>:<conversation>".
    ("chatwoot", "conversation_created"): [expected(
        "conversation_created:1:42", "chatwoot", "1:42", "cust_3007", "chat", "support", "created",
        "2026-11-20T08:00:00Z", ["delivery"])],
    ("chatwoot", "message_created_incoming"): [expected(
        "message:118", "chatwoot", "1:42", "cust_3007", "chat", "support", "customer_replied",
        "2026-11-20T08:00:01Z", ["delivery"])],
    ("chatwoot", "message_created_outgoing"): [expected(
        "message:121", "chatwoot", "1:42", "cust_3007", "chat", "support", "agent_replied",
        "2026-11-20T08:03:30Z", ["delivery"])],
    ("chatwoot", "message_created_private_note"): [],
    # A status change is reported twice (conversation_status_changed and conversation_updated): one id.
    ("chatwoot", "conversation_status_changed_resolved"): [expected(
        "status:1:42:solved:2026-11-20T09:00:00.500000+00:00", "chatwoot", "1:42", "cust_3007", "chat",
        "support", "solved", "2026-11-20T09:00:00.500000Z",
        ["delivery"])],
    ("chatwoot", "conversation_status_changed_reopened"): [expected(
        "status:1:42:reopened:2026-11-21T09:00:00.250000+00:00", "chatwoot", "1:42", "cust_3007", "chat",
        "support", "reopened", "2026-11-21T09:00:00.250000Z",
        ["delivery"])],
    ("chatwoot", "conversation_status_changed_snoozed"): [],
    # Freshdesk automation body: "Phone" source; without occurred_at the receive time is used.
    ("freshdesk", "ticket_created"): [expected(
        HASHED, "freshdesk", "8812", FD_CUSTOMER, "phone", "support", "created", "2026-11-21T10:00:00Z",
        FD_TAGS, category="Question")],
    ("freshdesk", "reply_sent"): [expected(
        HASHED, "freshdesk", "8812", FD_CUSTOMER, "phone", "support", "agent_replied", "2026-11-21T12:00:00Z",
        FD_TAGS, category="Question")],
    ("freshdesk", "ticket_resolved"): [expected(
        HASHED, "freshdesk", "8812", "cust_5150", "phone", "support", "solved", "2026-11-21T15:20:00Z",
        [*FD_TAGS, "return request"], category="Question", handle_seconds=540)],
    # Generic: as sent; tags without a touchpoint are mapped through the catalog.
    ("generic", "event"): [expected(
        "evt_0001", "generic", "T-1001", "cust_1042", "chat", None, "created", "2026-11-22T15:04:05Z", [])],
    ("generic", "batch"): [
        expected("evt_0002", "generic", "T-1001", "cust_1042", "chat", None, "agent_replied",
                 "2026-11-22T15:09:05Z", [], handle_seconds=300),
        expected("evt_0003", "generic", "T-1001", "cust_1042", "chat", "support_returns", "solved",
                 "2026-11-22T15:30:00Z", ["returns"], handle_seconds=120),
    ],
}


def test_every_fixture_has_an_expectation() -> None:
    # Given the fixture folders / When listed / Then none is left untested (and none is stale)
    on_disk = {(provider, name) for provider in {p for p, _ in EXPECTED} for name in fixture_names(provider)}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize(("provider", "name"), sorted(EXPECTED))
def test_fixture_maps_to_the_canonical_events(provider: str, name: str, catalog) -> None:
    # Given a real-shaped payload from that helpdesk
    # When it is parsed
    events = parse_fixture(provider, name, catalog)

    # Then it yields exactly the expected canonical events
    published = [event.to_public() for event in events]
    for got, want in zip(published, EXPECTED[(provider, name)], strict=False):
        if want["event_id"] == HASHED:
            assert got["event_id"].startswith("sha256:") and len(got["event_id"]) == 71
            got["event_id"] = HASHED
    assert published == EXPECTED[(provider, name)]


@pytest.mark.parametrize(("provider", "name"), sorted(key for key, events in EXPECTED.items() if events))
def test_a_redelivery_yields_the_same_event(provider: str, name: str, catalog) -> None:
    # Given a delivery and its retry (re-serialised with other whitespace and key order)
    body = fixture_json(provider, name)
    retry = json.dumps(body, indent=4, sort_keys=True).encode()
    headers = event_headers(provider, name)

    # When both are parsed
    first = parse_webhook(provider, headers, fixture_bytes(provider, name), catalog, received_at=RECEIVED_AT)
    second = parse_webhook(provider, headers, retry, catalog, received_at=RECEIVED_AT)

    # Then they are the same event (so the store dedupes it)
    assert first == second


def test_content_hashes_separate_different_deliveries(catalog) -> None:
    # Given two Chatwoot status changes of the same conversation (resolved, then reopened)
    # When parsed
    solved = parse_fixture("chatwoot", "conversation_status_changed_resolved", catalog)[0]
    reopened = parse_fixture("chatwoot", "conversation_status_changed_reopened", catalog)[0]

    # Then their ids differ
    assert solved.event_id != reopened.event_id


# Error handling -------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["zendesk", "intercom", "helpscout", "chatwoot", "freshdesk", "generic"])
@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe\x00", b'{"a": NaN}', b"[" * 100_000, b"1e999999x"])
def test_unparseable_bodies_are_400(provider: str, raw: bytes, catalog) -> None:
    # Given a body that is not JSON
    # When parsed
    error = refusal(provider, raw, catalog, {"X-HelpScout-Event": "convo.created"})

    # Then it is SPEC's 400
    assert (error.status, error.code) == (400, "invalid_json")


def test_an_unknown_provider_is_422(catalog) -> None:
    # Given a provider outside SPEC §3
    # When parsed
    error = refusal("jira", b"{}", catalog)

    # Then it is "unknown provider"
    assert (error.status, error.code) == (422, "unknown_provider")


def _without(provider: str, name: str, *path: str) -> bytes:
    body = fixture_json(provider, name)
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("provider", "name", "path", "field"),
    [
        ("zendesk", "event_ticket_created", ("detail", "id"), "detail.id"),
        ("zendesk", "event_ticket_created", ("detail", "requester_id"), "detail.requester_id"),
        ("chatwoot", "message_created_incoming", ("created_at",), "created_at"),
        ("zendesk", "trigger_created", ("ticket_id",), "ticket_id"),
        ("intercom", "conversation_admin_replied", ("data", "item", "id"), "data.item.id"),
        ("helpscout", "convo_agent_reply_created", ("id",), "id"),
        ("chatwoot", "message_created_incoming", ("conversation", "id"), "conversation.id"),
        ("freshdesk", "ticket_resolved", ("ticket_id",), "ticket_id"),
        ("generic", "event", ("customer_id",), "customer_id"),
    ],
)
def test_a_missing_ticket_id_customer_or_time_is_422_on_that_field(provider, name, path, field,
                                                                    catalog) -> None:
    # Given a relevant payload missing something the ticket state needs
    raw = _without(provider, name, *path)
    headers = event_headers(provider, name)

    # When parsed
    error = refusal(provider, raw, catalog, headers, received_at=RECEIVED_AT)

    # Then the 422 names the field where the sender wrote (or should have written) it
    assert (error.status, error.code, error.field) == (422, "invalid_ticket_event", field)


@pytest.mark.parametrize("when", ["last tuesday", "2026-13-45T99:00:00Z", True, {"at": 1}, 1e300])
def test_an_unreadable_time_is_422_on_that_field(when: object, catalog) -> None:
    # Given a Zendesk event whose time is unreadable (though detail.updated_at would be fine)
    body = {**fixture_json("zendesk", "event_ticket_created"), "time": when}

    # When parsed
    error = refusal("zendesk", body, catalog)

    # Then the first time present is the one that must parse, and it is named
    assert (error.status, error.field) == (422, "time")


def test_a_missing_time_falls_back_to_the_next_documented_one(catalog) -> None:
    # Given a Zendesk event without the envelope time
    body = fixture_json("zendesk", "event_status_changed_solved")
    del body["time"]

    # When parsed / Then detail.updated_at dates the event
    [event] = parse_webhook("zendesk", {}, json.dumps(body).encode(), catalog)
    assert event.to_public()["occurred_at"] == "2026-11-17T14:02:00Z"


def test_a_customer_without_external_id_or_email_is_422(catalog) -> None:
    # Given a Zendesk trigger body whose requester has neither
    body = {**fixture_json("zendesk", "trigger_created"), "requester_external_id": "", "requester_email": ""}

    # When parsed
    error = refusal("zendesk", body, catalog)

    # Then the customer field is named
    assert (error.status, error.field) == (422, "requester_email")


@pytest.mark.parametrize("provider", ["zendesk", "freshdesk"])
@pytest.mark.parametrize("event", ["updated", "", None, 3])
def test_our_trigger_bodies_need_a_known_event_kind(provider: str, event: object, catalog) -> None:
    # Given a trigger/automation body with an unknown event kind
    name = "trigger_created" if provider == "zendesk" else "ticket_created"
    body = {**fixture_json(provider, name), "event": event}

    # When parsed
    error = refusal(provider, body, catalog)

    # Then it is a 422 on "event"
    assert (error.status, error.field) == (422, "event")


def test_zendesk_bodies_of_neither_format_are_422(catalog) -> None:
    # Given a JSON object that is neither an event subscription nor our trigger body
    # When parsed
    error = refusal("zendesk", b'{"ticket": {"id": 1}}', catalog)

    # Then it is a 422
    assert error.status == 422


@pytest.mark.parametrize("value", ["ten", "-5", "1.5", True, [1]])
def test_a_bad_handle_time_is_422(value: object, catalog) -> None:
    # Given a trigger body whose handle_seconds is not whole seconds
    body = {**fixture_json("zendesk", "trigger_agent_replied"), "handle_seconds": value}

    # When parsed
    error = refusal("zendesk", body, catalog)

    # Then it is refused on that field
    assert (error.status, error.field) == (422, "handle_seconds")


def test_an_empty_handle_time_means_not_reported(catalog) -> None:
    # Given Zendesk rendering an empty time-tracking placeholder
    body = {**fixture_json("zendesk", "trigger_agent_replied"), "handle_seconds": ""}

    # When parsed
    [event] = parse_webhook("zendesk", {}, json.dumps(body).encode(), catalog)

    # Then the event reports no handle time
    assert event.handle_seconds is None


def test_freshdesk_without_any_time_is_422(catalog) -> None:
    # Given the Freshdesk body without occurred_at, and a caller that did not pass received_at
    # When parsed
    error = refusal("freshdesk", fixture_bytes("freshdesk", "reply_sent"), catalog)

    # Then the time field is named
    assert (error.status, error.field) == (422, "occurred_at")


def test_helpscout_needs_its_event_header(catalog) -> None:
    # Given a Help Scout body without X-HelpScout-Event
    # When parsed
    error = refusal("helpscout", fixture_bytes("helpscout", "convo_created"), catalog)

    # Then the header is named
    assert (error.status, error.field) == (422, "X-HelpScout-Event")


@pytest.mark.parametrize("event_name", ["convo.note.created", "convo.assigned", "customer.created",
                                        "satisfaction.ratings"])
def test_helpscout_events_we_do_not_measure_yield_nothing(event_name: str, catalog) -> None:
    # Given a Help Scout event outside ticket metrics / When parsed / Then nothing to write
    assert parse_webhook("helpscout", {"x-helpscout-event": event_name},
                         fixture_bytes("helpscout", "convo_created"), catalog) == []


@pytest.mark.parametrize("topic", ["conversation.admin.noted", "conversation.admin.assigned",
                                   "contact.user.created", "ticket.created"])
def test_intercom_topics_we_do_not_measure_yield_nothing(topic: str, catalog) -> None:
    # Given another topic on a conversation payload / When parsed / Then nothing to write
    body = {**fixture_json("intercom", "conversation_admin_replied"), "topic": topic}
    assert parse_webhook("intercom", {}, json.dumps(body).encode(), catalog) == []


def test_chatwoot_bot_messages_are_not_agent_replies(catalog) -> None:
    # Given an outgoing message written by an agent bot
    body = fixture_json("chatwoot", "message_created_outgoing")
    body["sender"] = {"id": 3, "name": "Captain", "type": "agent_bot"}

    # When parsed / Then it does not count as an agent reply
    assert parse_webhook("chatwoot", {}, json.dumps(body).encode(), catalog) == []


def test_chatwoot_legacy_resolved_event_is_a_solve(catalog) -> None:
    # Given the older conversation_resolved event (no changed_attributes)
    body = fixture_json("chatwoot", "conversation_status_changed_resolved")
    body["event"] = "conversation_resolved"
    del body["changed_attributes"]

    # When parsed
    [event] = parse_webhook("chatwoot", {}, json.dumps(body).encode(), catalog)

    # Then it is a solve
    assert event.event == "solved"


def test_zendesk_status_changes_that_are_not_solve_close_or_reopen_yield_nothing(catalog) -> None:
    # Given OPEN -> PENDING (waiting on the customer)
    body = fixture_json("zendesk", "event_status_changed_solved")
    body["event"].update(previous="OPEN", current="PENDING")

    # When parsed / Then nothing changes in the ticket state
    assert parse_webhook("zendesk", {}, json.dumps(body).encode(), catalog) == []


def test_zendesk_comment_by_the_requester_is_a_customer_reply(catalog) -> None:
    # Given a public comment whose author is not staff
    body = fixture_json("zendesk", "event_comment_added_agent")
    body["event"]["comment"]["author"]["is_staff"] = False

    # When parsed / Then it is a customer reply
    assert [event.event for event in parse_webhook("zendesk", {}, json.dumps(body).encode(), catalog)] == [
        "customer_replied"]


def test_generic_touchpoint_must_exist_in_the_catalog(catalog) -> None:
    # Given a generic event naming a touchpoint the ecommerce catalog lacks
    body = {**fixture_json("generic", "event"), "touchpoint": "valet_parking"}

    # When parsed
    error = refusal("generic", body, catalog)

    # Then it is SPEC's 422 for an unknown touchpoint
    assert (error.status, error.code, error.field) == (422, "unknown_touchpoint", "touchpoint")


def test_generic_category_maps_through_the_catalog(catalog) -> None:
    # Given a generic event with a category the catalog maps
    body = {**fixture_json("generic", "event"), "category": "Refund"}

    # When parsed / Then the catalog names the touchpoint
    [event] = parse_webhook("generic", {}, json.dumps(body).encode(), catalog)
    assert event.touchpoint == "support_returns"


@pytest.mark.parametrize("size", [0, 101])
def test_generic_batches_hold_1_to_100_events(size: int, catalog) -> None:
    # Given a batch outside the bounds
    raw = json.dumps([fixture_json("generic", "event")] * size).encode()

    # When parsed / Then it is refused
    error = refusal("generic", raw, catalog)
    assert error.status == 422


def test_generic_batch_errors_name_the_item(catalog) -> None:
    # Given a batch whose second event has a bad channel
    batch = fixture_json("generic", "batch")
    batch[1]["channel"] = "pigeon"

    # When parsed
    error = refusal("generic", batch, catalog)

    # Then the field points into the batch
    assert error.field == "[1].channel"


def test_overlong_or_control_character_tags_are_dropped_not_fatal(catalog) -> None:
    # Given a Zendesk ticket with one unusable tag among good ones
    body = fixture_json("zendesk", "event_ticket_created")
    body["detail"]["tags"] = ["x" * 500, "bad\u0007tag", "returns", "returns"]

    # When parsed
    [event] = parse_webhook("zendesk", {}, json.dumps(body).encode(), catalog)

    # Then the usable tag still maps, once
    assert (event.tags, event.touchpoint) == (("returns",), "support_returns")


def test_events_without_tags_leave_the_touchpoint_to_the_fold(catalog) -> None:
    # Given a Zendesk comment event whose detail carries no tags
    body = fixture_json("zendesk", "event_comment_added_agent")
    del body["detail"]["tags"]

    # When parsed / Then it names no touchpoint (rather than the default)
    [event] = parse_webhook("zendesk", {}, json.dumps(body).encode(), catalog)
    assert event.touchpoint is None


@pytest.mark.parametrize(
    ("raw", "channel"),
    [
        ("email", "email"), ("Mail", "email"), ("voice", "phone"), ("Phone call (incoming)", "phone"),
        ("chat", "chat"), ("native_messaging", "chat"), ("Channel::WebWidget", "chat"), ("sms", "chat"),
        ("Channel::TwilioSms", "chat"), ("twitter", "social"), ("Facebook Messenger DM", "social"),
        ("Channel::Whatsapp", "social"), ("Channel::FacebookPage", "social"), ("instagram", "social"),
        ("web", "web"), ("Web Form", "web"), ("Portal", "web"), ("Feedback Widget", "web"),
        ("api", "other"), ("Web service (API)", "other"), ("Channel::Api", "other"), ("push", "other"),
        ("Channel::Email", "email"), ("phone_call", "phone"), ("conversation", "chat"),
        ("walk-in", "in_person"),
        ("carrier pigeon", "other"), ("", "other"), (None, "other"), (7, "other"),
    ],
)
def test_channel_mapping(raw: object, channel: str) -> None:
    # Given a provider's channel name / When mapped / Then it lands in the documented SPEC channel
    assert channel_for(raw) == channel


def test_helpscout_reply_without_embedded_threads_uses_the_conversation_update(catalog) -> None:
    # Given an agent-reply delivery whose conversation embeds no threads
    body = fixture_json("helpscout", "convo_agent_reply_created")
    body["_embedded"]["threads"] = []

    # When parsed
    [event] = parse_webhook("helpscout", {"X-HelpScout-Event": "convo.agent.reply.created"},
                            json.dumps(body).encode(), catalog)

    # Then the conversation's last user update dates it and the id is a content hash
    assert event.to_public()["occurred_at"] == "2026-11-19T12:30:05Z"
    assert event.event_id.startswith("sha256:")


def test_chatwoot_numbered_message_types_are_understood(catalog) -> None:
    # Given a message whose type is Chatwoot's number (1 = outgoing), as inside conversation payloads
    body = fixture_json("chatwoot", "message_created_outgoing")
    body["message_type"] = 1

    # When parsed / Then it is an agent reply
    [event] = parse_webhook("chatwoot", {}, json.dumps(body).encode(), catalog)
    assert event.event == "agent_replied"


def test_intercom_legacy_user_payloads_name_the_customer(catalog) -> None:
    # Given an API 1.x style conversation: a "user" with the shop's user_id, no contacts list
    body = fixture_json("intercom", "conversation_user_created")
    del body["data"]["item"]["contacts"]
    body["data"]["item"]["source"]["author"] = {"type": "admin", "id": "814860"}
    body["data"]["item"]["user"] = {"type": "user", "id": "5310d8e8", "user_id": "cust_77", "email": "x@y.z"}

    # When parsed / Then the shop's id is the customer
    [event] = parse_webhook("intercom", {}, json.dumps(body).encode(), catalog)
    assert event.customer_id == "cust_77"


def test_received_at_must_be_timezone_aware(catalog) -> None:
    # Given a caller passing a naive receive time
    # When parsing / Then it is a programming error, not a client 422
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_webhook("freshdesk", {}, fixture_bytes("freshdesk", "reply_sent"), catalog,
                      received_at=RECEIVED_AT.replace(tzinfo=None))
