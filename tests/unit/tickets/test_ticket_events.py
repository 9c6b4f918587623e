"""The canonical ticket event (SPEC §3 generic event): what it accepts, what it refuses, and where."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from touchpoint.errors import ApiError
from touchpoint.tickets import TicketEvent, generic_event_from_json

VALID = {
    "event_id": "evt_1",
    "ticket_id": "T-1",
    "customer_id": "cust_1",
    "channel": "email",
    "event": "created",
    "occurred_at": "2026-11-22T15:04:05Z",
}


def test_a_complete_generic_body_becomes_a_canonical_event() -> None:
    # Given a generic body with every optional field
    body = {**VALID, "touchpoint": "support", "handle_seconds": 90, "tags": ["refund"], "category": "billing"}

    # When it is validated
    event = generic_event_from_json(body)

    # Then every field lands as sent, on the generic provider, in UTC
    assert event == TicketEvent(
        event_id="evt_1", provider="generic", ticket_id="T-1", customer_id="cust_1", channel="email",
        touchpoint="support", event="created", occurred_at=datetime(2026, 11, 22, 15, 4, 5, tzinfo=UTC),
        handle_seconds=90, tags=("refund",), category="billing",
    )


def test_optional_fields_default_to_absent() -> None:
    # Given only the required fields
    # When validated
    event = generic_event_from_json(VALID)

    # Then touchpoint, handle time, tags and category are empty
    assert (event.touchpoint, event.handle_seconds, event.tags, event.category) == (None, None, (), None)


def test_offsets_are_normalised_to_utc_and_published_with_z() -> None:
    # Given a time with a +02:00 offset
    body = {**VALID, "occurred_at": "2026-11-22T17:04:05+02:00"}

    # When validated and published
    event = generic_event_from_json(body)

    # Then the instant is kept, expressed in UTC with a Z
    assert event.occurred_at == datetime(2026, 11, 22, 15, 4, 5, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert event.to_public()["occurred_at"] == "2026-11-22T15:04:05Z"


def test_numeric_ids_and_unix_seconds_are_accepted() -> None:
    # Given a sender that numbers tickets and sends unix seconds
    body = {**VALID, "ticket_id": 35436, "occurred_at": 1795359845}

    # When validated
    event = generic_event_from_json(body)

    # Then the id is text and the time is the same instant
    assert event.ticket_id == "35436"
    assert event.occurred_at == datetime(2026, 11, 22, 15, 4, 5, tzinfo=UTC)


def test_a_provider_is_stamped_from_the_route() -> None:
    # Given a body validated for another provider's route
    # When validated with that provider
    event = generic_event_from_json(VALID, provider="zendesk")

    # Then the event carries it
    assert event.provider == "zendesk"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_id": None}, "event_id"),
        ({"ticket_id": ""}, "ticket_id"),
        ({"ticket_id": "   "}, "ticket_id"),
        ({"customer_id": "x" * 257}, "customer_id"),
        ({"ticket_id": "T-1\x00"}, "ticket_id"),
        ({"customer_id": "cust\u202e1"}, "customer_id"),
        ({"event_id": "evt\ud800"}, "event_id"),
        ({"ticket_id": True}, "ticket_id"),
        ({"channel": "fax"}, "channel"),
        ({"event": "updated"}, "event"),
        ({"occurred_at": "2026-11-22T15:04:05"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "1970-01-01T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": "2200-01-01T00:00:00Z"}, "occurred_at"),
        ({"handle_seconds": -1}, "handle_seconds"),
        ({"handle_seconds": 1.5}, "handle_seconds"),
        ({"handle_seconds": True}, "handle_seconds"),
        ({"handle_seconds": 10**9}, "handle_seconds"),
        ({"touchpoint": "Support Desk"}, "touchpoint"),
        ({"tags": ["ok", "bad\ntag"]}, "tags.1"),
        ({"tags": ["t"] * 101}, "tags"),
        ({"category": "c" * 300}, "category"),
        ({"occured_at": "2026-11-22T15:04:05Z"}, "occured_at"),
        ({"provider": "intercom"}, "provider"),
    ],
)
def test_invalid_content_is_refused_with_the_failing_field(change: dict, field: str) -> None:
    # Given a generic body with one bad field
    body = {**VALID, **change}

    # When it is validated
    with pytest.raises(ApiError) as raised:
        generic_event_from_json(body)

    # Then the SPEC 422 names that field
    error = raised.value
    assert (error.status, error.code, error.field) == (422, "invalid_ticket_event", field)


def test_missing_required_fields_are_named() -> None:
    # Given a body without an occurred_at
    body = {key: value for key, value in VALID.items() if key != "occurred_at"}

    # When validated
    with pytest.raises(ApiError) as raised:
        generic_event_from_json(body)

    # Then the error points at the missing field
    assert raised.value.field == "occurred_at"


@pytest.mark.parametrize("body", [[], "event", 7, None])
def test_a_body_that_is_not_an_object_is_refused(body: object) -> None:
    # Given JSON that is not an object
    # When validated
    with pytest.raises(ApiError) as raised:
        generic_event_from_json(body)

    # Then it is a 422 without a field
    assert (raised.value.status, raised.value.field) == (422, None)


def test_events_are_immutable_values() -> None:
    # Given an event
    event = generic_event_from_json(VALID)

    # When someone tries to change it
    with pytest.raises(ValueError, match="frozen"):
        event.ticket_id = "other"  # type: ignore[misc]

    # Then equal content compares and hashes equal (dedupe relies on it)
    again = generic_event_from_json(dict(VALID))
    assert event == again and hash(event) == hash(again)


def test_a_naive_datetime_object_is_refused_too() -> None:
    # Given a Python caller passing a datetime without a zone
    # When the model is built directly
    with pytest.raises(ValueError, match="time zone"):
        TicketEvent(event_id="e", provider="generic", ticket_id="t", customer_id="c", channel="web",
                    event="created", occurred_at=datetime(2026, 11, 22, 15, 4, 5))

    # Then an aware one in another zone is accepted and converted
    aware = datetime(2026, 11, 22, 10, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    event = TicketEvent(event_id="e", provider="generic", ticket_id="t", customer_id="c", channel="web",
                        event="created", occurred_at=aware)
    assert event.occurred_at.tzinfo is UTC


def test_stored_json_round_trips_to_the_same_event() -> None:
    # Given an event with every field set, including sub-second time
    event = generic_event_from_json({**VALID, "occurred_at": "2026-11-22T15:04:05.123456Z",
                                     "touchpoint": "support", "handle_seconds": 5, "tags": ["a", "b"],
                                     "category": "billing"})

    # When stored as JSON and read back (the ticket store keeps model_dump(mode="json"))
    restored = TicketEvent.model_validate(event.model_dump(mode="json"))

    # Then nothing changed
    assert restored == event
