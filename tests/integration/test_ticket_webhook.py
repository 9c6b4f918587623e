"""TicketWebhookFunction in-process: the real handler (functions/ticket_webhook/app.py, loaded like a
cold start), real HTTP API v2 events, moto DynamoDB / Secrets Manager / EventBridge. A rule on the bus
copies every Touchpoint event to an SQS queue so the tests see exactly what was published."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ticket_webhook_env import SECRETS, WEBHOOK_SECRET_NAME, start_ticket_webhook
from touchpoint import runtime
from touchpoint.surveys.tokens import KeyRing, verify_token
from touchpoint.tickets import CHANNELS, EVENT_KINDS, PROVIDERS, sign
from touchpoint_local.testing import (
    TIMESTAMPED,
    EventTap,
    HandlerClient,
    Reply,
    event_headers,
    fixture_bytes,
    fixture_names,
    unload,
)

JSON_TYPE = {"content-type": "application/json"}

AwsAccount = Any  # tests/conftest.py's account (fixture ``aws``)

SPEC_TICKET_KEYS = {"provider", "ticket_id", "customer_id", "channel", "touchpoint", "status", "created_at",
                    "first_agent_reply_at", "solved_at", "agent_replies", "reopens", "handle_seconds", "fcr"}
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

# Fixtures that concern nothing the ticket metrics measure: accepted (200) and nothing is written.
IGNORED_FIXTURES = {
    ("zendesk", "event_comment_added_private"), ("zendesk", "event_priority_changed"),
    ("intercom", "ping"),
    ("chatwoot", "conversation_status_changed_snoozed"), ("chatwoot", "message_created_private_note"),
}


class Solve(NamedTuple):
    """A delivery that solves a ticket: the fixture, the ticket's id and its customer, as read from it."""

    fixture: str
    ticket_id: str
    customer_id: str


# One solving delivery per provider.
SOLVES = {
    "zendesk": Solve("event_status_changed_solved", "35436", "zendesk:user:20978392"),
    "intercom": Solve("conversation_admin_closed", "1911149811", "cust_1042"),
    "helpscout": Solve("convo_status_closed", "2391938111", "sam.lee@example.com"),
    "chatwoot": Solve("conversation_status_changed_resolved", "1:42", "cust_3007"),
    "freshdesk": Solve("ticket_resolved", "8812", "cust_5150"),
    "generic": Solve("batch", "T-1001", "cust_1042"),
}


def generic_event(ticket_id: str, event_id: str, event: str, occurred_at: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "ticket_id": ticket_id, "customer_id": extra.pop("customer_id", "cust-it"),
            "channel": extra.pop("channel", "email"), "event": event, "occurred_at": occurred_at, **extra}


def as_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


# The handler ---------------------------------------------------------------------------------------
class WebhookClient(HandlerClient):
    """Sends API Gateway HTTP API events to the ticket webhook handler; reads what reached the bus."""

    def __init__(self, app: Any, tap: EventTap) -> None:
        super().__init__(app)
        self.tap = tap

    def post(self, provider: str, raw: bytes, headers: dict[str, str], *, b64: bool | None = None) -> Reply:
        """The delivery as API Gateway passes it on (a body that is not text is base64-encoded)."""
        return self.request("POST", f"/webhooks/{provider}", raw, headers={**JSON_TYPE, **headers}, base64=b64,
                            path_params={"provider": provider}, route_key="POST /webhooks/{provider}")

    def deliver(self, provider: str, raw: bytes, *, now: datetime | None = None, secret: str | None = None,
                extra: dict[str, str] | None = None, b64: bool | None = None) -> Reply:
        """A genuine delivery: signed with the provider's configured secret at ``now`` (default: now)."""
        headers = sign(provider, raw, secret or SECRETS.get(provider, "x"), now or datetime.now(UTC))
        return self.post(provider, raw, {**headers, **(extra or {})}, b64=b64)

    def generic(self, *events: dict[str, Any]) -> int:
        """Deliver generic events (one object, or a batch when several); the status code."""
        return self.deliver("generic", as_bytes(events[0] if len(events) == 1 else list(events))).status

    def deliver_fixture(self, provider: str, name: str, **kwargs: Any) -> Reply:
        extra = {**event_headers(provider, name), **kwargs.pop("extra", {})}
        return self.deliver(provider, fixture_bytes(provider, name), extra=extra, **kwargs)

    def ticket(self, provider: str, ticket_id: str) -> Reply:
        return self.request("GET", f"/v1/tickets/{provider}/{ticket_id}",
                            path_params={"provider": provider, "ticket_id": ticket_id},
                            route_key="GET /v1/tickets/{provider}/{ticket_id}")

    def published(self, detail_type: str = "TicketSolved") -> list[dict[str, Any]]:
        """Every event of that type that reached the bus so far (EventBridge envelopes)."""
        return self.tap.published(detail_type)

    def solved_for(self, provider: str, ticket_id: str) -> list[dict[str, Any]]:
        return [event for event in self.published()
                if (event["detail"]["provider"], event["detail"]["ticket_id"]) == (provider, ticket_id)]


@pytest.fixture
def client(aws: AwsAccount, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookClient]:
    """The handler loaded inside the moto account, with its webhook secrets and its event bus (tapped
    by a rule into an SQS queue)."""
    module, tap = start_ticket_webhook(aws, monkeypatch, SECRETS)
    yield WebhookClient(module, tap)
    unload(module)


@pytest.fixture
def keyring(aws: AwsAccount) -> KeyRing:
    return KeyRing(aws.token_keys)


def assert_error(reply: Reply, status: int, code: str | None = None, field: str | None = None) -> dict[str, Any]:
    """The SPEC §3 error body, exactly: {"error": {"code": str, "message": str, "field": str|null}}."""
    assert reply.status == status, reply.body
    body = reply.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
        assert body["error"]["field"] == field, body
    return body["error"]


# Genuine deliveries: 202 then 200 ------------------------------------------------------------------
@pytest.mark.parametrize("provider", PROVIDERS)
def test_signed_fixtures_apply_once_and_redelivery_writes_nothing(client: WebhookClient, aws: AwsAccount,
                                                                  provider: str) -> None:
    names = fixture_names(provider)
    assert names, f"no fixtures for {provider}"
    # Given every fixture of the provider, correctly signed
    # When each is delivered for the first time
    for name in names:
        before = aws.item_count()
        reply = client.deliver_fixture(provider, name)
        # Then a delivery carrying a ticket event is applied (202) and stored; an ignorable one is 200
        # and writes nothing
        if (provider, name) in IGNORED_FIXTURES:
            assert reply.status == 200, (name, reply.body)
            assert reply.json()["applied"] == 0
            assert aws.item_count() == before, name
        else:
            assert reply.status == 202, (name, reply.body)
            assert reply.json()["applied"] >= 1 and reply.json()["duplicates"] == 0
            assert aws.item_count() > before, name
        if provider == "freshdesk":
            # Freshdesk bodies carry no id and no time: a retry is the same body with nothing of the
            # ticket in between (the same body after other events is a new event, e.g. a second solve)
            again = client.deliver_fixture(provider, name)
            assert again.status == 200 and again.json()["applied"] == 0, (name, again.body)
    snapshot = sorted(aws.items(), key=lambda item: (item["pk"], item["sk"]))
    # When every delivery is retried, as helpdesks do
    for name in names if provider != "freshdesk" else ():
        reply = client.deliver_fixture(provider, name)
        # Then each is a 200 that applies nothing
        assert reply.status == 200, (name, reply.body)
        assert reply.json()["applied"] == 0
    # And the table is exactly as it was
    assert sorted(aws.items(), key=lambda item: (item["pk"], item["sk"])) == snapshot


def test_a_timestamp_four_minutes_old_is_still_fresh(client: WebhookClient) -> None:
    # Given a generic event signed 4 minutes ago (inside the 5-minute window)
    raw = as_bytes(generic_event("T-fresh", "e-1", "created", "2026-11-22T10:00:00Z"))
    # When it is delivered / Then it is applied
    reply = client.deliver("generic", raw, now=datetime.now(UTC) - timedelta(minutes=4))
    assert reply.status == 202, reply.body


# Refused signatures: 401, nothing written, nothing published ---------------------------------------
def _refusals() -> list[Any]:
    cases = []
    for provider in PROVIDERS:
        cases.append(pytest.param(provider, "wrong_secret", id=f"{provider}-wrong-secret"))
        cases.append(pytest.param(provider, "missing_headers", id=f"{provider}-unsigned"))
        if provider != "freshdesk":  # Freshdesk sends the shared secret itself, not a MAC of the body
            cases.append(pytest.param(provider, "other_body", id=f"{provider}-signed-another-body"))
        if provider in TIMESTAMPED:
            cases.append(pytest.param(provider, "stale", id=f"{provider}-6-minutes-old"))
    return cases


@pytest.mark.parametrize(("provider", "forgery"), _refusals())
def test_forged_stale_or_unsigned_deliveries_are_401_and_write_nothing(
        client: WebhookClient, aws: AwsAccount, provider: str, forgery: str) -> None:
    # Given the provider's solving fixture (which would write and publish if it were accepted)
    name, ticket_id, _customer = SOLVES[provider]
    raw = fixture_bytes(provider, name)
    extra = event_headers(provider, name)
    now = datetime.now(UTC)
    # When it arrives forged, unsigned, signed over another body, or signed 6 minutes ago
    if forgery == "wrong_secret":
        reply = client.post(provider, raw, {**sign(provider, raw, "not-the-configured-secret", now), **extra})
    elif forgery == "missing_headers":
        reply = client.post(provider, raw, extra)
    elif forgery == "other_body":
        raw_id = ticket_id.rsplit(":", 1)[-1]  # chatwoot tickets are "<account>:<conversation>"
        other = raw.replace(raw_id.encode(), f"{raw_id}9".encode())  # the same body, another ticket
        assert other != raw
        reply = client.post(provider, raw, {**sign(provider, other, SECRETS[provider], now), **extra})
    else:
        reply = client.post(provider, raw, {**sign(provider, raw, SECRETS[provider], now - timedelta(minutes=6)),
                                            **extra})
    # Then 401 with the SPEC error body
    expected_code = "stale_signature" if forgery == "stale" else "invalid_signature"
    assert_error(reply, 401, expected_code, None)
    # And nothing was written or published
    assert aws.item_count() == 0
    assert client.ticket(provider, ticket_id).status == 404
    assert client.published() == []


@pytest.mark.parametrize("provider", TIMESTAMPED)
def test_a_missing_timestamp_header_is_401(client: WebhookClient, aws: AwsAccount, provider: str) -> None:
    # Given a genuine signature whose timestamp header was dropped on the way
    raw = fixture_bytes(provider, SOLVES[provider].fixture)
    headers = sign(provider, raw, SECRETS[provider], datetime.now(UTC))
    signature_only = {k: v for k, v in headers.items() if "timestamp" not in k.lower()}
    assert len(signature_only) == 1
    # When delivered / Then 401 and nothing stored
    assert_error(client.post(provider, raw, signature_only), 401, "invalid_signature", None)
    assert aws.item_count() == 0


def test_a_provider_without_a_configured_secret_accepts_nothing(client: WebhookClient, aws: AwsAccount) -> None:
    # Given the webhook secret with no generic entry (cached copies dropped, as on a cold start)
    aws.secretsmanager.put_secret_value(
        SecretId=WEBHOOK_SECRET_NAME, SecretString=json.dumps({k: v for k, v in SECRETS.items() if k != "generic"}))
    runtime.reset()
    raw = as_bytes(generic_event("T-nosecret", "e-1", "created", "2026-11-22T10:00:00Z"))
    # When a delivery signed with the former secret arrives / Then it is refused, nothing stored
    assert_error(client.deliver("generic", raw), 401, "invalid_signature", None)
    assert aws.item_count() == 0


# Unknown providers and bodies that are not ticket events -------------------------------------------
@pytest.mark.parametrize("provider", ["slack", "Zendesk", "generic2"])
def test_unknown_provider_is_422_and_writes_nothing(client: WebhookClient, aws: AwsAccount, provider: str) -> None:
    # Given a well-formed generic event, signed, posted to a provider the product does not know
    raw = as_bytes(generic_event("T-unknown", "e-1", "created", "2026-11-22T10:00:00Z"))
    headers = sign("generic", raw, SECRETS["generic"], datetime.now(UTC))
    # When delivered / Then 422 naming the provider, and nothing is stored
    assert_error(client.post(provider, raw, headers), 422, "unknown_provider", "provider")
    assert aws.item_count() == 0
    # And the ticket view refuses the provider the same way
    assert_error(client.ticket(provider, "T-unknown"), 422, "unknown_provider", "provider")


VALID_EVENT = {"event_id": "evt-h-1", "ticket_id": "T-h", "customer_id": "cust-h", "channel": "chat",
               "event": "created", "occurred_at": "2026-11-22T15:04:05Z"}
REQUIRED = ("event_id", "ticket_id", "customer_id", "channel", "event", "occurred_at")
KNOWN_FIELDS = {*REQUIRED, "provider", "touchpoint", "handle_seconds", "tags", "category"}
BAD_IDS = [None, "", "   ", "x" * 257, "a\u202eb", "tab\there", "nul\x00", [], {}, True, 1.5]
INVALID_VALUES: dict[str, list[Any]] = {
    "event_id": BAD_IDS, "ticket_id": BAD_IDS, "customer_id": BAD_IDS,
    "channel": [None, "fax", "CHAT", "", 3, [], *[c.upper() for c in CHANNELS]],
    "event": [None, "deleted", "Solved", "", 0, *[k.upper() for k in EVENT_KINDS]],
    "occurred_at": [None, "", "yesterday", "2026-11-22T15:04:05", "1989-12-31T23:59:59Z", "2100-01-01T00:00:00Z",
                    "2026-13-01T00:00:00Z", True, [], {}],
    "handle_seconds": [-1, 31 * 24 * 3600 + 1, 1.5, "abc", True, [], {}],
    "touchpoint": ["no_such_touchpoint", "Support", "", 5, []],
    "provider": ["zendesk", "", None, 1],
}


@st.composite
def broken_generic_events(draw: st.DrawFn) -> Any:
    """A canonical event with exactly one thing wrong with it."""
    event = dict(VALID_EVENT)
    how = draw(st.sampled_from(["drop", "invalid", "unknown_key", "not_an_object"]))
    if how == "drop":
        del event[draw(st.sampled_from(REQUIRED))]
    elif how == "invalid":
        field = draw(st.sampled_from(sorted(INVALID_VALUES)))
        event[field] = draw(st.sampled_from(INVALID_VALUES[field]))
    elif how == "unknown_key":
        key = draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in KNOWN_FIELDS))
        event[key] = draw(st.none() | st.integers() | st.text(max_size=5))
    else:
        return draw(st.none() | st.booleans() | st.integers() | st.text(max_size=10)
                    | st.lists(st.integers(), max_size=3))
    return event


@st.composite
def refused_generic_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "event", "batch", "empty_batch"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                              lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                              max_leaves=12)
        return as_bytes(draw(values))
    if kind == "empty_batch":
        return b"[]"
    bad = draw(broken_generic_events())
    if kind == "event":
        return as_bytes(bad)
    # A batch of good events with one bad one somewhere: the whole batch is refused.
    good = [{**VALID_EVENT, "event_id": f"evt-h-ok-{i}"} for i in range(draw(st.integers(0, 3)))]
    good.insert(draw(st.integers(0, len(good))), bad)
    return as_bytes(good)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=refused_generic_bodies())
def test_garbage_signed_generic_bodies_are_400_or_422_and_write_nothing(client: WebhookClient, aws: AwsAccount,
                                                                         raw: bytes) -> None:
    # Given any body that is not a valid generic event (or batch), correctly signed
    # When it is delivered
    reply = client.deliver("generic", raw)
    # Then it is refused as a client error with the SPEC body, never a 5xx, and nothing is written
    assert reply.status in (400, 422), (raw, reply.body)
    assert_error(reply, reply.status)
    assert aws.item_count() == 0


def test_a_batch_with_one_bad_event_stores_none_of_them(client: WebhookClient, aws: AwsAccount) -> None:
    # Given a batch whose second event has an unknown kind
    batch = [generic_event("T-batch", "e-1", "created", "2026-11-22T10:00:00Z"),
             generic_event("T-batch", "e-2", "escalated", "2026-11-22T10:05:00Z")]
    # When it is delivered / Then 422 pointing at that event, nothing stored
    error = assert_error(client.deliver("generic", as_bytes(batch)), 422)
    assert error["code"] == "invalid_ticket_event" and error["field"] == "[1].event"
    assert aws.item_count() == 0


# The raw body ---------------------------------------------------------------------------------------
def test_base64_bodies_are_verified_on_the_decoded_bytes(client: WebhookClient, aws: AwsAccount) -> None:
    # Given a generic event with non-ASCII text, sent base64-encoded by API Gateway
    raw = as_bytes(generic_event("T-b64", "e-1", "created", "2026-11-22T10:00:00Z", customer_id="cust-zoë-ß"))
    assert not raw.isascii()
    # When signed over the base64 text rather than the body / Then refused
    b64_text = base64.b64encode(raw)
    forged = sign("generic", b64_text, SECRETS["generic"], datetime.now(UTC))
    assert_error(client.post("generic", raw, forged, b64=True), 401, "invalid_signature", None)
    assert aws.item_count() == 0
    # When signed over the decoded raw bytes / Then applied, with the text intact
    reply = client.deliver("generic", raw, b64=True)
    assert reply.status == 202, reply.body
    ticket = client.ticket("generic", "T-b64")
    assert ticket.status == 200, ticket.body
    assert ticket.json()["customer_id"] == "cust-zoë-ß"
    # And the same delivery as plain text is recognised as the same event
    assert client.deliver("generic", raw).status == 200


# GET /v1/tickets/{provider}/{ticket_id} -------------------------------------------------------------
def test_ticket_view_has_exactly_the_spec_keys_with_iso_z_times(client: WebhookClient) -> None:
    # Given a ticket created, answered (time sent with a +01:00 offset) and solved
    ticket_id = "T-view"
    events = [
        generic_event(ticket_id, "v-1", "created", "2026-11-22T15:04:05Z", channel="chat", customer_id="cust_1042"),
        generic_event(ticket_id, "v-2", "agent_replied", "2026-11-22T16:09:05+01:00", channel="chat",
                      customer_id="cust_1042", handle_seconds=300),
        generic_event(ticket_id, "v-3", "solved", "2026-11-22T15:30:00Z", channel="chat", customer_id="cust_1042",
                      handle_seconds=120),
    ]
    assert client.generic(*events) == 202
    # When the ticket is read
    reply = client.ticket("generic", ticket_id)
    # Then it is exactly the SPEC §3 view, timestamps in UTC with a Z
    assert reply.status == 200, reply.body
    ticket = reply.json()
    assert set(ticket) == SPEC_TICKET_KEYS
    for key in ("created_at", "first_agent_reply_at", "solved_at"):
        assert ISO_Z.match(ticket[key]), (key, ticket[key])
    assert ticket == {
        "provider": "generic", "ticket_id": ticket_id, "customer_id": "cust_1042", "channel": "chat",
        "touchpoint": "support", "status": "solved", "created_at": "2026-11-22T15:04:05Z",
        "first_agent_reply_at": "2026-11-22T15:09:05Z", "solved_at": "2026-11-22T15:30:00Z",
        "agent_replies": 1, "reopens": 0, "handle_seconds": 420, "fcr": True,
    }


def test_an_open_ticket_has_null_reply_solve_handle_time_and_fcr(client: WebhookClient) -> None:
    # Given a ticket with only its created event (sent in unix seconds)
    raw = as_bytes(generic_event("T-open", "o-1", "created", "1795161600"))
    assert client.deliver("generic", raw).status == 202
    # When read / Then open, with nulls where nothing happened yet
    ticket = client.ticket("generic", "T-open").json()
    assert set(ticket) == SPEC_TICKET_KEYS
    assert ticket["status"] == "open" and ticket["created_at"] == "2026-11-20T08:00:00Z"
    assert (ticket["first_agent_reply_at"], ticket["solved_at"], ticket["handle_seconds"], ticket["fcr"]) == (
        None, None, None, None)
    assert (ticket["agent_replies"], ticket["reopens"]) == (0, 0)


def test_unknown_ticket_is_404(client: WebhookClient) -> None:
    # Given a stored ticket T-known
    assert client.generic(generic_event("T-known", "k-1", "created", "2026-11-22T10:00:00Z")) == 202
    # When another id, or the same id under another provider, is read / Then 404 naming the ticket id
    assert_error(client.ticket("generic", "T-unknown"), 404, "not_found", "ticket_id")
    assert_error(client.ticket("zendesk", "T-known"), 404, "not_found", "ticket_id")
    assert client.ticket("generic", "T-known").status == 200


# TicketSolved --------------------------------------------------------------------------------------
def assert_survey_for(event: dict[str, Any], keyring: KeyRing, provider: str, ticket_id: str, customer: str,
                      solved_at: str | None = None) -> None:
    assert event["source"] == "touchpoint" and event["detail-type"] == "TicketSolved"
    detail = event["detail"]
    assert (detail["provider"], detail["ticket_id"], detail["customer_id"]) == (provider, ticket_id, customer)
    assert detail["status"] in ("solved", "closed")
    if solved_at is not None:
        assert detail["solved_at"] == solved_at
    survey = detail["survey"]
    token = survey["token"]
    assert survey["url"].endswith(f"/s/{token}") and survey["url"].startswith("https://")
    assert survey["metric"] == "csat"
    claims = verify_token(keyring, survey["url"].rsplit("/s/", 1)[1])
    assert claims.metric == "csat"
    assert claims.customer_id == customer
    assert claims.touchpoint == detail["touchpoint"]
    assert claims.order_id == f"ticket:{provider}:{ticket_id}"
    assert claims.survey_id == survey["survey_id"]
    assert claims.expires_at > datetime.now(UTC) + timedelta(days=7)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_solve_publishes_one_ticket_solved_even_when_redelivered(client: WebhookClient, keyring: KeyRing,
                                                                   provider: str) -> None:
    name, ticket_id, customer = SOLVES[provider]
    # Given a solving delivery of the provider
    # When it is delivered, then retried twice
    statuses = [client.deliver_fixture(provider, name).status for _ in range(3)]
    # Then it was applied once
    assert statuses == [202, 200, 200]
    # And exactly one TicketSolved went out, with a CSAT survey link for the ticket's customer
    published = client.solved_for(provider, ticket_id)
    assert len(published) == 1, published
    assert_survey_for(published[0], keyring, provider, ticket_id, customer)
    assert published[0]["detail"]["solved_at"] == client.ticket(provider, ticket_id).json()["solved_at"]


def test_the_survey_takes_the_tickets_touchpoint(client: WebhookClient, keyring: KeyRing) -> None:
    # Given the generic batch fixture, whose solve names the support_returns touchpoint
    assert client.deliver_fixture("generic", "batch").status == 202
    # Then the survey is for that touchpoint
    (event,) = client.solved_for("generic", "T-1001")
    assert event["detail"]["touchpoint"] == "support_returns"
    assert verify_token(keyring, event["detail"]["survey"]["token"]).touchpoint == "support_returns"


def test_a_reply_after_the_solve_does_not_publish_again(client: WebhookClient) -> None:
    # Given a solved ticket
    t = "T-late-reply"
    assert client.generic(generic_event(t, "l-1", "created", "2026-11-22T10:00:00Z"),
                          generic_event(t, "l-2", "solved", "2026-11-22T11:00:00Z")) == 202
    assert len(client.solved_for("generic", t)) == 1
    # When a late customer reply arrives (no reopen)
    assert client.generic(generic_event(t, "l-3", "customer_replied", "2026-11-22T12:00:00Z")) == 202
    # Then still only one TicketSolved
    assert len(client.solved_for("generic", t)) == 1


def test_reopen_then_resolve_publishes_a_second_ticket_solved(client: WebhookClient, keyring: KeyRing) -> None:
    t = "T-reopen"
    # Given a solved ticket that announced its solve
    assert client.generic(generic_event(t, "r-1", "created", "2026-11-22T10:00:00Z")) == 202
    assert client.generic(generic_event(t, "r-2", "solved", "2026-11-22T11:00:00Z")) == 202
    assert len(client.solved_for("generic", t)) == 1
    # When the customer reopens it
    assert client.generic(generic_event(t, "r-3", "reopened", "2026-11-23T09:00:00Z")) == 202
    # Then nothing new is announced and the ticket is open again
    assert len(client.solved_for("generic", t)) == 1
    assert client.ticket("generic", t).json()["status"] == "open"
    # When it is solved again, and that solve is redelivered
    raw = as_bytes(generic_event(t, "r-4", "solved", "2026-11-23T10:00:00Z"))
    assert [client.deliver("generic", raw).status for _ in range(2)] == [202, 200]
    # Then a second TicketSolved went out, for the new solve, and only one
    published = client.solved_for("generic", t)
    assert [event["detail"]["solved_at"] for event in published] == ["2026-11-22T11:00:00Z", "2026-11-23T10:00:00Z"]
    for event, solved_at in zip(published, ["2026-11-22T11:00:00Z", "2026-11-23T10:00:00Z"], strict=True):
        assert_survey_for(event, keyring, "generic", t, "cust-it", solved_at)
    ticket = client.ticket("generic", t).json()
    assert (ticket["status"], ticket["reopens"], ticket["fcr"]) == ("solved", 1, False)


def test_the_support_csat_link_is_held_back_when_an_nps_link_went_out_3_days_before(
        client: WebhookClient, aws: AwsAccount, keyring: KeyRing) -> None:
    from touchpoint.catalog import load_catalog
    from touchpoint.surveys.intake import issue_link
    from touchpoint.surveys.models import LinkRequest
    from touchpoint.surveys.store import ContactStore

    # Given an NPS link sent to the customer 3 days ago
    issue_link(LinkRequest(customer_id="cust-it", touchpoint="relationship"), load_catalog("ecommerce"), keyring,
               ContactStore(aws.dynamodb, aws.table_name), "https://x.example", datetime.now(UTC) - timedelta(days=3))
    # When their ticket is solved
    t = "T-held-back"
    assert client.generic(generic_event(t, "h-1", "created", "2026-11-22T10:00:00Z"),
                          generic_event(t, "h-2", "solved", "2026-11-22T11:00:00Z")) == 202
    # Then TicketSolved still goes out, once, with no survey link and the policy's answer instead
    (event,) = client.solved_for("generic", t)
    assert event["detail"]["survey"] is None
    held = event["detail"]["survey_held_back"]
    assert held["reason"] and held["next_allowed_at"] > datetime.now(UTC).isoformat()[:10]
