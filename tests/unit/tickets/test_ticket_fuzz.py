"""Whatever arrives on a webhook route, the adapters answer with events or an ApiError, never a crash:
random bytes, random JSON, and real fixtures with one part replaced by random JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ticket_fixtures import RECEIVED_AT
from touchpoint.catalog import load_catalog
from touchpoint.errors import ApiError
from touchpoint.tickets import PROVIDERS, TicketEvent, parse_webhook
from touchpoint_local.testing import HELPSCOUT_EVENTS, event_headers, fixture_json, fixture_names, json_paths

CATALOG = load_catalog("ecommerce")
# Building the text strategies' Unicode tables is slow on a cold start; time limits would only flake.
ROBUST: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
FIXTURES = [(provider, name) for provider in PROVIDERS for name in fixture_names(provider)]
# Keys the adapters look for, so random objects reach the deep branches and not only the first check.
KEYS = st.sampled_from([
    "type", "topic", "event", "id", "time", "detail", "data", "item", "ticket_id", "status", "via",
    "tags", "requester_id", "requester_email", "comment", "author", "is_staff", "current", "previous",
    "created_at", "updated_at", "contacts", "source", "conversation_parts", "conversation", "meta",
    "sender", "message_type", "changed_attributes", "labels", "channel", "primaryCustomer", "_embedded",
    "threads", "closedAt", "occurred_at", "handle_seconds", "customer_id", "touchpoint", "category",
]) | st.text(max_size=8)
KNOWN_WORDS = st.sampled_from([
    "zen:event-type:ticket.created", "conversation.admin.replied", "message_created", "solved",
    "2026-11-22T15:04:05Z", "Channel::Email", "SOLVED", "incoming", "resolved",
])
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=20) | KNOWN_WORDS)
JSON_VALUES = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(KEYS, children, max_size=6), max_leaves=25)
HELPSCOUT_EVENT_NAMES = st.sampled_from([*HELPSCOUT_EVENTS.values(), "convo.tags", ""]) | st.text(max_size=10)
HEADERS = st.fixed_dictionaries({}, optional={"X-HelpScout-Event": HELPSCOUT_EVENT_NAMES})


def parse_or_refuse(provider: str, headers: dict[str, str], raw: bytes) -> None:
    try:
        events = parse_webhook(provider, headers, raw, CATALOG, received_at=RECEIVED_AT)
    except ApiError as error:
        assert error.status in (400, 422)
        return
    assert isinstance(events, list) and all(isinstance(event, TicketEvent) for event in events)


@settings(max_examples=300, **ROBUST)
@given(provider=st.sampled_from(PROVIDERS), raw=st.binary(max_size=300), headers=HEADERS)
def test_random_bytes_never_raise_anything_but_api_error(provider: str, raw: bytes, headers: dict) -> None:
    # Given any bytes on any provider's route / When parsed / Then events or an ApiError
    parse_or_refuse(provider, headers, raw)


@settings(max_examples=500, **ROBUST)
@given(provider=st.sampled_from(PROVIDERS), body=JSON_VALUES, headers=HEADERS)
def test_random_json_never_raises_anything_but_api_error(provider: str, body: Any, headers: dict) -> None:
    # Given any JSON on any provider's route / When parsed / Then events or an ApiError
    parse_or_refuse(provider, headers, json.dumps(body).encode())


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> tuple[str, str, Any]:
    """A real payload with one value anywhere in it replaced by random JSON (or removed)."""
    provider, name = draw(st.sampled_from(FIXTURES))
    body = fixture_json(provider, name)
    path = draw(st.sampled_from(json_paths(body)))
    if not path:
        return provider, name, draw(JSON_VALUES)
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(JSON_VALUES)
    return provider, name, body


@settings(max_examples=800, **ROBUST)
@given(case=mutated_fixtures())
def test_mutated_fixtures_never_raise_anything_but_api_error(case: tuple[str, str, Any]) -> None:
    # Given a real payload with one part damaged
    provider, name, body = case
    headers = event_headers(provider, name)

    # When parsed / Then events or an ApiError
    parse_or_refuse(provider, headers, json.dumps(body).encode())
