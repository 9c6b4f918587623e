"""Issue 6, item 3: fuzzing the HTTP edge.

* schemathesis (positive and negative cases from ``GET /openapi.json`` of a running local stack,
  with the admin header of infra/local/secrets.json, a bounded number of examples per operation):
  never a 5xx, and every error has the SPEC §3 body;
* hypothesis against every webhook adapter through the real HTTP handler, with correctly signed
  random bodies (random JSON, random bytes, and mutations of each provider's realistic payloads):
  never a 5xx, never a write when the delivery is refused;
* hypothesis against the survey answer parser (``POST /s/{token}``, random form and JSON bodies):
  never a 5xx, never a write when the answer is refused.

``TOUCHPOINT_FUZZ_EXAMPLES`` scales every example count (default 1.0).
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from reliability_support import WEBHOOK_SECRETS
from touchpoint.catalog import load_catalog
from touchpoint.surveys.intake import mint_link
from touchpoint.surveys.models import LinkRequest
from touchpoint.surveys.tokens import KeyRing
from touchpoint.tickets import sign
from touchpoint_local.testing import HELPSCOUT_EVENTS, ROOT, RunningStack, json_paths

SCALE = float(os.environ.get("TOUCHPOINT_FUZZ_EXAMPLES", "1"))
CATALOG = load_catalog("ecommerce")
PROVIDERS = ("zendesk", "intercom", "helpscout", "chatwoot", "freshdesk", "generic")
HELPSCOUT_EVENT_NAMES = tuple(dict.fromkeys(HELPSCOUT_EVENTS.values()))
SHIPPED_OPENAPI = json.loads((ROOT / "shared" / "touchpoint" / "openapi.json").read_text("utf-8"))
OPERATIONS = sorted((method.upper(), path) for path, methods in SHIPPED_OPENAPI["paths"].items() for method in methods)


def examples(count: int) -> int:
    return max(5, int(count * SCALE))


def assert_error_body(status: int, text: str, context: Any) -> None:
    body = json.loads(text)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, (status, text, context)
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str), body
    assert body["error"]["field"] is None or isinstance(body["error"]["field"], str), body


# schemathesis against a running stack -------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(shared_stack: RunningStack) -> RunningStack:
    return shared_stack


@pytest.fixture(scope="module")
def api(stack: RunningStack) -> Any:
    import schemathesis

    return schemathesis.openapi.from_url(stack.base + "/openapi.json")


@pytest.fixture(scope="module")
def genuine_token(stack: RunningStack) -> str:
    reply = stack.request("POST", "/v1/links", admin=True,
                          json_body={"customer_id": "fuzz-1", "touchpoint": "shipping", "order_id": "F-1"})
    assert reply.status == 201, reply.text
    return reply.json()["token"]


def _fixed_path_parameters(path: str, token: str) -> list[dict[str, str] | None]:
    """Random path parameters, plus ones that reach past the first check of the route."""
    variants: list[dict[str, str] | None] = [None]
    if "{token}" in path:
        variants.append({"token": token})
    if "{provider}" in path:
        variants += [{"provider": provider} for provider in PROVIDERS]
    if "{period}" in path:
        variants.append({"period": "2026-W47"})
    return variants


@pytest.mark.e2e
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_schemathesis_finds_no_5xx_and_only_spec_error_bodies(api, stack, genuine_token, method, path):
    from schemathesis import GenerationMode

    operation = api[path][method]
    seen: dict[int, int] = {}
    # Given positive and negative cases of the operation, with random and with meaningful path parameters
    for fixed in _fixed_path_parameters(path, genuine_token):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)

            @given(case=strategy)
            @settings(max_examples=examples(25), deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def run(case: Any) -> None:
                # When the case is sent to the stack with the admin header
                response = case.call(base_url=stack.base, headers={"x-api-key": stack.admin_key}, timeout=30)
                seen[response.status_code] = seen.get(response.status_code, 0) + 1
                # Then it is never a 5xx, and every refusal has the SPEC error body
                assert response.status_code < 500, (case.as_curl_command(), response.text[:300])
                if response.status_code >= 400:
                    assert_error_body(response.status_code, response.text, case.as_curl_command())

            with contextlib.suppress(Unsatisfiable):  # nothing to negate (a lone unconstrained path parameter)
                run()
    assert sum(seen.values()) >= 5, seen


# hypothesis against every webhook adapter, in-process ----------------------------------------------
def _json_values() -> st.SearchStrategy[Any]:
    leaves = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats()
              | st.text(max_size=40) | st.sampled_from(["2026-11-16T09:00:00Z", "1763283600", "", "created", "solved",
                                                        "email", "chat", "<script>", "ticket.created", "0"]))
    return st.recursive(leaves, lambda children: st.lists(children, max_size=4)
                        | st.dictionaries(st.text(max_size=12), children, max_size=5), max_leaves=20)


def _realistic_bodies() -> dict[str, list[Any]]:
    from touchpoint_local.payloads import SUPPORTED, TicketAction, delivery

    bodies: dict[str, list[Any]] = {}
    when = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    for provider in PROVIDERS:
        for external in ("cust-fz", None):
            for kind in sorted(SUPPORTED[provider]):
                action = TicketAction(provider=provider, ticket_id="31337", kind=kind, occurred_at=when,
                                      customer_email="Fuzz@Example.com", customer_external_id=external,
                                      channel="email", handle_seconds=60 if kind == "agent_replied" else None,
                                      tags=("returns",))
                headers, raw = delivery(action, "x" * 20, when)
                bodies.setdefault(provider, []).append((headers.get("X-HelpScout-Event"), json.loads(raw)))
    return bodies


REALISTIC = _realistic_bodies()


@st.composite
def mutated(draw: Any, provider: str) -> tuple[str | None, Any]:
    event, body = draw(st.sampled_from(REALISTIC[provider]))
    body = json.loads(json.dumps(body))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(json_paths(body)))
        if not path:
            body = draw(_json_values())
            break
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "retype"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "retype":
            parent[path[-1]] = draw(st.sampled_from([None, 0, -1, 1e308, "", [], {}, True, "x" * 300, "\u202e",
                                                     "\x00", "2100-01-01T00:00:00Z", "1990-01-01"]))
        else:
            parent[path[-1]] = draw(_json_values())
    return event, body


@st.composite
def deliveries(draw: Any) -> tuple[str, dict[str, str], bytes]:
    provider = draw(st.sampled_from(PROVIDERS))
    shape = draw(st.sampled_from(["mutated", "mutated", "mutated", "json", "bytes"]))
    event = None
    if shape == "mutated":
        event, body = draw(mutated(provider))
        raw = json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    elif shape == "json":
        raw = json.dumps(draw(_json_values())).encode()
    else:
        raw = draw(st.binary(max_size=200))
    headers = {"content-type": draw(st.sampled_from(["application/json", "text/plain", ""]))}
    if provider == "helpscout":
        headers["X-HelpScout-Event"] = event or draw(st.sampled_from([*HELPSCOUT_EVENT_NAMES, "convo.deleted", ""]))
    return provider, headers, raw


@settings(max_examples=examples(250), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(delivery=deliveries())
def test_signed_random_webhook_bodies_never_crash_and_refusals_write_nothing(aws, webhooks, delivery):
    provider, headers, raw = delivery
    # Given a correctly signed delivery of a random or mutated body
    headers = {**headers, **sign(provider, raw, WEBHOOK_SECRETS[provider], datetime.now(UTC))}
    before = aws.item_count()
    # When it is posted
    status, _, text = webhooks("POST", f"/webhooks/{provider}", raw, headers=headers,
                               route_key="POST /webhooks/{provider}", path_params={"provider": provider})
    event(f"{provider} {status}")
    # Then it is never a 5xx; a refusal has the SPEC body and writes nothing
    assert status < 500, (provider, raw[:300], text)
    if status >= 400:
        assert_error_body(status, text, raw[:200])
        assert aws.item_count() == before, (provider, status, raw[:200])
    else:
        assert status in (200, 202) and set(json.loads(text)) >= {"applied", "duplicates", "tickets"}, text


# hypothesis against the survey answer parser, in-process ----------------------------------------------
_FORM_KEYS = st.sampled_from(["score", "score", "comment", "website", "rendered", "Score", "score[]", ""]) | st.text(
    max_size=8)
_FORM_VALUES = (st.integers(-3, 12).map(str) | st.text(max_size=60)
                | st.sampled_from(["5", " 4 ", "4.0", "٣", "²", "0x4", "+5", "1e0", "<script>alert(1)</script>", "%"]))


@st.composite
def answers(draw: Any) -> tuple[str, bytes, bool]:
    shape = draw(st.sampled_from(["form", "form", "raw_form", "json", "json_object", "bytes"]))
    if shape == "form":
        pairs = draw(st.lists(st.tuples(_FORM_KEYS, _FORM_VALUES), max_size=5))
        body = urlencode(pairs, quote_via=quote).encode()
        return "application/x-www-form-urlencoded", body, True
    if shape == "raw_form":
        return "application/x-www-form-urlencoded; charset=utf-8", draw(st.text(max_size=80)).encode(
            "utf-8", "surrogatepass"), True
    if shape == "json":
        return "application/json", json.dumps(draw(_json_values())).encode(), False
    if shape == "json_object":
        body = {"score": draw(_json_values() | st.integers(-2, 8)),
                **draw(st.dictionaries(st.sampled_from(["comment", "website", "rendered", "extra"]), _json_values(),
                                       max_size=3))}
        return draw(st.sampled_from(["application/json", "application/problem+json", ""])), json.dumps(body).encode(), \
            False
    return draw(st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"])), \
        draw(st.binary(max_size=100)), True


@pytest.fixture
def answer_link(aws: Any) -> str:
    link = mint_link(LinkRequest(customer_id="fuzz-answers", touchpoint="shipping", order_id="F-2"), CATALOG,
                     KeyRing(aws.token_keys), "https://x.example", datetime.now(UTC))
    return link.token


@settings(max_examples=examples(250), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(answer=answers())
def test_random_answer_bodies_never_crash_and_refusals_write_nothing(aws, intake, answer_link, answer):
    content_type, raw, as_base64 = answer
    before = sorted(aws.items(), key=lambda item: item["pk"])
    # When a random body is posted to a genuine survey link (forms base64-encoded, as API Gateway does)
    status, headers, text = intake("POST", f"/s/{answer_link}", raw, headers={"content-type": content_type},
                                   route_key="POST /s/{token}", path_params={"token": answer_link}, b64=as_base64)
    event(f"{content_type.split(';')[0] or 'none'} {status}")
    # Then it is never a 5xx; a refusal has the SPEC body and writes nothing
    assert status < 500, (content_type, raw[:200], text[:300])
    after = sorted(aws.items(), key=lambda item: item["pk"])
    if status >= 400:
        assert_error_body(status, text, raw[:200])
        assert after == before, (status, raw[:200])
    else:
        # And an accepted answer is one record with a CSAT score on the 1-5 scale
        assert status in (200, 201), text
        responses = [item for item in after if item.get("type") == "response"]
        assert len(responses) == 1 and 1 <= responses[0]["score"] <= 5, responses


# hypothesis against the signature timestamps, with a valid MAC over whatever timestamp is sent -------------
_TIMESTAMP_BODY = json.dumps({"event_id": "ts-1", "ticket_id": "T-ts", "customer_id": "cust-ts", "channel": "chat",
                              "event": "created", "occurred_at": "2026-11-16T09:00:00Z"}).encode()
_TIMESTAMP_HEADERS = {"zendesk": ("X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"),
                      "chatwoot": ("X-Chatwoot-Signature", "X-Chatwoot-Timestamp"),
                      "generic": ("X-Touchpoint-Signature", "X-Touchpoint-Timestamp")}


@settings(max_examples=examples(300), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(provider=st.sampled_from(sorted(_TIMESTAMP_HEADERS)),
       timestamp=st.text(max_size=40) | st.integers(-(10**20), 10**20).map(str) | st.sampled_from(
           ["2026-11-22T15:04:05+99:00", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1e9", "NaN", "-0",
            "١٧٦٣٢٨٣٦٠٠", "2026-11-22T15:04:05", "999999999999", "2026-W47", "2026-11-22T15:04:05.123456789Z"]))
def test_any_signature_timestamp_with_a_valid_mac_is_refused_or_accepted_never_a_crash(aws, webhooks, provider,
                                                                                      timestamp):
    import base64
    import hashlib
    import hmac

    # Given a timestamp header of any shape, and a MAC that is valid for it (so the timestamp parser is reached)
    key = WEBHOOK_SECRETS[provider].encode()
    stamp = timestamp.encode("utf-8", "surrogatepass")
    if provider == "zendesk":
        signature = base64.b64encode(hmac.new(key, stamp + _TIMESTAMP_BODY, hashlib.sha256).digest()).decode()
    else:
        signature = "sha256=" + hmac.new(key, stamp + b"." + _TIMESTAMP_BODY, hashlib.sha256).hexdigest()
    signature_header, timestamp_header = _TIMESTAMP_HEADERS[provider]
    headers = {"content-type": "application/json", signature_header: signature, timestamp_header: timestamp}
    before = aws.item_count()
    # When the delivery is posted
    status, _, text = webhooks("POST", f"/webhooks/{provider}", _TIMESTAMP_BODY, headers=headers,
                               route_key="POST /webhooks/{provider}", path_params={"provider": provider})
    # Then it is a 401 without a write, unless the timestamp is a genuine one within the 5-minute window
    assert status < 500, (timestamp, text)
    if status != 202:
        assert status in (200, 401), (timestamp, status, text)
        assert aws.item_count() == before
