"""Issue 6, item 4: hostile input against the real handlers on moto (in-process).

Forged, stale, replayed and tampered webhook deliveries; tampered and expired survey tokens; key
rotation; script and HTML in comments, link properties, ticket fields, catalog labels and the brand
(survey page, thank-you page, scorecard email HTML); spreadsheet formulas in the CSV; header
injection into the email; bodies over 64 KiB, deeply nested JSON and bodies that are not UTF-8.
Everything refused is refused without a write.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any
from urllib.parse import urlencode

import pytest
from reliability_support import WEBHOOK_SECRETS
from touchpoint.catalog import load_catalog, parse_catalog
from touchpoint.scorecards.compute import build_scorecard
from touchpoint.scorecards.csv import render_csv
from touchpoint.scorecards.email import render_email, render_html
from touchpoint.surveys.intake import mint_link
from touchpoint.surveys.models import LinkRequest
from touchpoint.surveys.tokens import KeyRing, SurveyClaims, mint_token
from touchpoint.tickets import sign
from touchpoint_local.payloads import SUPPORTED, TicketAction, delivery
from touchpoint_local.testing import TIMESTAMPED, FakeLambdaContext, StreamReader, b64url, legacy_v1_token, unb64url

CATALOG = load_catalog("ecommerce")
PROVIDERS = ("zendesk", "intercom", "helpscout", "chatwoot", "freshdesk", "generic")
SIGNED_BODY = ("zendesk", "intercom", "helpscout", "chatwoot", "generic")  # freshdesk sends a shared secret
SCRIPT = "<script>alert('xss')</script>"
IMG = '"><img src=x onerror="alert(1)">'
HOSTILE = f"{SCRIPT}{IMG}<a href=\"javascript:alert(2)\">x</a>"
RAW_MARKERS = ("<script", "onerror=\"alert", "<img src=x", "<a href=\"javascript", "<b onmouseover")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
OVER = 64 * 1024 + 1


def no_raw_markup(html: str) -> list[str]:
    """Hostile markup that came through unescaped."""
    return [marker for marker in RAW_MARKERS if marker in html]


def snapshot(aws: Any) -> list[dict[str, Any]]:
    return sorted(aws.items(), key=lambda item: (item["pk"], item["sk"]))


def error_code(text: str) -> str:
    body = json.loads(text)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, text
    return body["error"]["code"]


# Webhook deliveries -----------------------------------------------------------------------------------
def genuine(provider: str, ticket: str = "4242", kind: str = "created",
            when: datetime | None = None) -> tuple[dict[str, str], bytes, TicketAction]:
    action = TicketAction(provider=provider, ticket_id=ticket, kind=kind,
                          occurred_at=datetime(2026, 11, 16, 9, 0, tzinfo=UTC), customer_email="Ann@Example.com",
                          customer_external_id="cust-ann" if provider != "helpscout" else None, channel="email",
                          handle_seconds=30 if kind == "agent_replied" else None)
    headers, raw = delivery(action, WEBHOOK_SECRETS[provider], when or datetime.now(UTC))
    return headers, raw, action


def post_webhook(webhooks: Any, provider: str, headers: dict[str, str], raw: bytes) -> tuple[int, str]:
    status, _, text = webhooks("POST", f"/webhooks/{provider}", raw, headers=headers,
                               route_key="POST /webhooks/{provider}", path_params={"provider": provider})
    return status, text


def _without_signature(provider: str, headers: dict[str, str]) -> dict[str, str]:
    signed = set(sign(provider, b"{}", "x" * 20, datetime.now(UTC)))
    return {k: v for k, v in headers.items() if k not in signed}


def refusal(aws: Any, webhooks: Any, provider: str, headers: dict[str, str], raw: bytes) -> tuple[int, str]:
    """Post a delivery that must be refused: its status and error code, once the table is seen unchanged."""
    before = snapshot(aws)
    status, text = post_webhook(webhooks, provider, headers, raw)
    assert snapshot(aws) == before, (provider, status, text)
    return status, error_code(text)


def test_a_forged_signature_is_refused_without_a_write(aws, webhooks):
    for provider in PROVIDERS:
        # Given a realistic delivery signed with the wrong secret
        headers, raw, _ = genuine(provider)
        forged = {**_without_signature(provider, headers),
                  **sign(provider, raw, "not-the-secret-0123456789", datetime.now(UTC))}
        # When it is posted / Then it is refused as an invalid signature and nothing is written
        assert refusal(aws, webhooks, provider, forged, raw) == (401, "invalid_signature"), provider


def test_a_missing_or_garbled_signature_is_refused_without_a_write(aws, webhooks):
    for provider in PROVIDERS:
        for how in ("missing", "empty", "garbled", "other_provider"):
            # Given a genuine delivery without its signature, or with an empty, garbled or another one's
            headers, raw, _ = genuine(provider)
            bare = _without_signature(provider, headers)
            if how == "empty":
                bare.update({name: "" for name in sign(provider, raw, "x" * 20, datetime.now(UTC))})
            elif how == "garbled":
                bare.update({name: "sha256=ééé\u202e" + value[::-1] for name, value in
                             sign(provider, raw, WEBHOOK_SECRETS[provider], datetime.now(UTC)).items()})
            elif how == "other_provider":
                other = "generic" if provider != "generic" else "chatwoot"
                bare.update(sign(other, raw, WEBHOOK_SECRETS[other], datetime.now(UTC)))
            # When it is posted / Then it is refused as unsigned (or stale) and nothing is written
            status, code = refusal(aws, webhooks, provider, bare, raw)
            assert status == 401 and code in ("invalid_signature", "stale_signature"), (provider, how)


def test_a_body_changed_after_signing_is_refused_without_a_write(aws, webhooks):
    for provider in SIGNED_BODY:
        # Given a genuine signature over one body, sent with another (a different ticket id)
        headers, raw, _ = genuine(provider, ticket="4242")
        _, other_raw, _ = genuine(provider, ticket="4243")
        assert other_raw != raw
        # When it is posted / Then it is refused as an invalid signature and nothing is written
        assert refusal(aws, webhooks, provider, headers, other_raw) == (401, "invalid_signature"), provider


def test_a_stale_or_future_signature_is_refused_without_a_write(aws, webhooks):
    for provider in TIMESTAMPED:
        for skew in (timedelta(minutes=-6), timedelta(minutes=6), timedelta(days=-400)):
            # Given a genuine delivery signed 6 minutes ago, 6 minutes ahead, or a year ago
            headers, raw, _ = genuine(provider, when=datetime.now(UTC) + skew)
            # When it is posted / Then it is refused as stale and nothing is written
            assert refusal(aws, webhooks, provider, headers, raw) == (401, "stale_signature"), (provider, skew)


def test_a_replayed_delivery_changes_nothing(aws, webhooks, tap):
    for number, provider in enumerate(PROVIDERS):
        # Given a genuine delivery that was applied
        headers, raw, _ = genuine(provider, ticket=str(6000 + number),
                                  kind="solved" if "solved" in SUPPORTED[provider] else "created")
        assert post_webhook(webhooks, provider, headers, raw)[0] == 202, provider
        before = snapshot(aws)
        published = len(tap.published())
        # When the very same request is replayed, twice
        replies = [post_webhook(webhooks, provider, headers, raw) for _ in range(2)]
        # Then each replay is a 200 that applies nothing, and nothing is written or published again
        for status, text in replies:
            assert status == 200 and json.loads(text)["applied"] == 0, (provider, text)
        assert snapshot(aws) == before, provider
        assert len(tap.published()) == published, provider


def test_a_delivery_replayed_after_the_window_is_refused(aws, webhooks, monkeypatch):
    class SixMinutesLater(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return datetime.now(tz) + timedelta(minutes=6)

    for number, provider in enumerate(TIMESTAMPED):
        # Given a genuine delivery, applied
        headers, raw, _ = genuine(provider, ticket=str(5150 + number))
        assert post_webhook(webhooks, provider, headers, raw)[0] == 202, provider
        # When an eavesdropper replays the captured request six minutes later
        with monkeypatch.context() as later:
            later.setattr(webhooks.module, "datetime", SixMinutesLater)
            refused = refusal(aws, webhooks, provider, headers, raw)
        # Then it is refused as stale and nothing changes
        assert refused == (401, "stale_signature"), provider


# Survey tokens ---------------------------------------------------------------------------------------
def _mint(keys: dict[str, str], *, customer: str = "cust-tok", order: str = "O-1", days: int = 30,
          now: datetime | None = None, properties: dict[str, Any] | None = None) -> str:
    link = mint_link(LinkRequest(customer_id=customer, touchpoint="shipping", order_id=order, ttl_days=days,
                                 properties=properties), CATALOG, KeyRing(keys), "https://x.example",
                     now or datetime.now(UTC))
    return link.token


def _tampered(aws: Any) -> dict[str, str]:
    token = _mint(aws.token_keys)
    raw = unb64url(token)
    key_id = raw[2:2 + raw[1]].decode()
    middle = len(raw) // 2
    attacker = KeyRing({key_id: "attacker-chosen-key-0123456789"})
    forged = mint_token(attacker, SurveyClaims(survey_id="o" + "0" * 31, customer_id="victim", touchpoint="shipping",
                                               metric="csat", order_id="O-1",
                                               expires_at=datetime.now(UTC) + timedelta(days=3)))
    expired_and_tampered = _mint(aws.token_keys, days=1, now=datetime.now(UTC) - timedelta(days=3))
    legacy = legacy_v1_token({"v": 1, "k": key_id, "s": "o" + "1" * 31, "c": "cust-tok", "t": "shipping",
                              "m": "csat", "o": "O-1", "e": int((datetime.now(UTC) + timedelta(days=3)).timestamp())},
                             aws.token_keys[key_id])
    legacy_payload, legacy_signature = legacy.split(".")
    legacy_claims = json.loads(unb64url(legacy_payload))
    other_customer = b64url(json.dumps({**legacy_claims, "c": "someone-else"}, separators=(",", ":")).encode())
    return {
        "ciphertext_flipped": b64url(raw[:middle] + bytes([raw[middle] ^ 1]) + raw[middle + 1:]),
        "tag_flipped": b64url(raw[:-1] + bytes([raw[-1] ^ 0x80])),
        "version_changed": b64url(bytes([3]) + raw[1:]),
        "legacy_version_byte": b64url(bytes([1]) + raw[1:]),
        "unknown_key_id": b64url(bytes([2, 5]) + b"k-nop" + raw[2 + raw[1]:]),
        "signed_by_an_attacker_key": forged,
        "truncated": token[:-4],
        "extended": token + "AAAA",
        "last_character_changed": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "with_a_dot": f"{token}.{token}",
        "not_base64": f"{token}!!",
        "non_ascii": f"{token}é",
        "huge": "A" * 5000,
        "expired_and_tampered": expired_and_tampered[:-3] + "abc",
        "legacy_claims_changed": f"{other_customer}.{legacy_signature}",
        "legacy_signature_removed": f"{legacy_payload}.",
        "legacy_two_dots": f"{legacy_payload}.{legacy_signature}.{legacy_signature}",
        "legacy_nested_arrays": b64url(b"[" * 2000) + ".c2ln",
    }


def _answer(intake: Any, token: str, body: Any = None, content_type: str = "application/json") -> tuple[int, str]:
    status, _, text = intake("POST", f"/s/{token}", body if body is not None else {"score": 5},
                             headers={"content-type": content_type}, route_key="POST /s/{token}",
                             path_params={"token": token})
    return status, text


def _page(intake: Any, token: str) -> tuple[int, dict[str, str], str]:
    return intake("GET", f"/s/{token}", route_key="GET /s/{token}", path_params={"token": token})


def test_tampered_tokens_are_refused_on_the_page_and_the_answer_without_a_write(aws, intake):
    tokens = _tampered(aws)
    for name, token in tokens.items():
        # When a tampered token is opened and answered
        page_status, _, page_text = _page(intake, token)
        status, text = _answer(intake, token)
        # Then both are a 403 (never a 410, never a 2xx), and nothing is written
        assert (page_status, status) == (403, 403), (name, page_text, text)
        assert error_code(text) == "invalid_token", name
    assert aws.item_count() == 0


def test_an_expired_token_is_gone_on_the_page_and_the_answer_without_a_write(aws, intake):
    token = _mint(aws.token_keys, days=1, now=datetime.now(UTC) - timedelta(days=1, seconds=1))
    assert _page(intake, token)[0] == 410
    status, text = _answer(intake, token)
    assert (status, error_code(text)) == (410, "token_expired")
    assert aws.item_count() == 0


def test_an_old_key_verifies_while_listed_and_is_refused_once_removed(aws, intake):
    # Given a link signed by the old key (the ring then had only k-old)
    old_only = {"k-old": aws.token_keys["k-old"]}
    old_link = _mint(old_only, order="O-rot")
    # When the ring lists the old and the new key (the new one signs), the old link still works
    assert _page(intake, old_link)[0] == 200
    assert _answer(intake, old_link, {"score": 4})[0] == 201
    before = snapshot(aws)
    # When the old key is removed from the secret
    aws.set_token_keys({"k-new": aws.token_keys["k-new"]})
    # Then the old link is refused and writes nothing, while a link of the new key works
    assert _page(intake, old_link)[0] == 403
    status, text = _answer(intake, old_link, {"score": 2})
    assert (status, error_code(text)) == (403, "invalid_token")
    assert snapshot(aws) == before
    new_link = _mint({"k-new": aws.token_keys["k-new"]}, order="O-rot-2")
    assert _answer(intake, new_link, {"score": 5})[0] == 201


# Escaping ----------------------------------------------------------------------------------------------
def test_the_thank_you_page_escapes_a_hostile_comment(aws, intake):
    token = _mint(aws.token_keys, order="O-xss")
    form = urlencode({"score": "2", "comment": HOSTILE})
    status, headers, html = intake("POST", f"/s/{token}", form.encode(),
                                   headers={"content-type": "application/x-www-form-urlencoded"},
                                   route_key="POST /s/{token}", path_params={"token": token}, b64=True)
    assert status == 201 and headers["content-type"].startswith("text/html"), html
    assert no_raw_markup(html) == [], html
    assert "&lt;script&gt;" in html  # shown, escaped, not dropped
    assert "script-src" not in headers.get("content-security-policy", "x") and \
        "default-src 'none'" in headers["content-security-policy"]
    stored = next(i for i in aws.items() if i.get("type") == "response")
    assert stored["comment"] == HOSTILE  # kept as the customer wrote it; escaping is the renderer's job


def test_the_survey_page_escapes_hostile_link_properties_and_ids(aws, intake):
    token = _mint(aws.token_keys, customer=f"cust{SCRIPT}", order=f"O{IMG}"[:128],
                  properties={"note": SCRIPT, "ticket": IMG})
    status, _, html = _page(intake, token)
    assert status == 200
    assert no_raw_markup(html) == [], html


def test_the_survey_page_escapes_a_hostile_brand_and_touchpoint_label(aws, intake, tmp_path, monkeypatch):
    from touchpoint import runtime

    catalog = tmp_path / "hostile.yaml"
    catalog.write_text(
        "name: hostile\n"
        f"brand: {json.dumps('<b onmouseover=alert(1)>Shop</b>' + SCRIPT)}\n"
        "touchpoints:\n"
        f"  - {{id: shipping, label: {json.dumps(SCRIPT + IMG)}, family: cx, stage: delivery, metric: csat}}\n"
        "  - {id: support, label: Support, family: cs, stage: support, metric: csat}\n"
        "ticket_mapping:\n  default: support\n", "utf-8")
    monkeypatch.setenv("TOUCHPOINT_CATALOG", str(catalog))
    runtime.reset()
    token = _mint(aws.token_keys, order="O-brand")
    status, _, html = _page(intake, token)
    assert status == 200, html
    assert no_raw_markup(html) == [] and "<b onmouseover" not in html, html
    status, _, thanks = intake("POST", f"/s/{token}", b"score=5", route_key="POST /s/{token}",
                               headers={"content-type": "application/x-www-form-urlencoded"},
                               path_params={"token": token}, b64=True)
    assert status == 201 and no_raw_markup(thanks) == [] and "<b onmouseover" not in thanks, thanks


def test_hostile_ticket_fields_are_escaped_on_the_support_survey_they_lead_to(aws, intake, webhooks, tap):
    # Given a solved ticket whose id and customer id carry markup (the helpdesk's data, not ours)
    ticket, customer = f"T{SCRIPT}", f"cust{IMG}"
    for event_id, kind, when in (("h1", "created", "2026-11-16T09:00:00Z"), ("h2", "solved", "2026-11-16T10:00:00Z")):
        raw = json.dumps({"event_id": event_id, "ticket_id": ticket, "customer_id": customer, "channel": "chat",
                          "event": kind, "occurred_at": when, "tags": [SCRIPT]}).encode()
        headers = {"content-type": "application/json",
                   **sign("generic", raw, WEBHOOK_SECRETS["generic"], datetime.now(UTC))}
        assert post_webhook(webhooks, "generic", headers, raw)[0] == 202
    # When the customer opens and answers the support CSAT link the solve published
    solved = tap.published("TicketSolved")
    assert len(solved) == 1
    token = solved[0]["detail"]["survey"]["token"]
    status, _, html = _page(intake, token)
    form_status, _, thanks = intake("POST", f"/s/{token}", b"score=1&comment=%3Cscript%3Ex%3C%2Fscript%3E",
                                    headers={"content-type": "application/x-www-form-urlencoded"},
                                    route_key="POST /s/{token}", path_params={"token": token}, b64=True)
    # Then neither page carries the markup raw
    assert status == 200 and form_status == 201
    assert no_raw_markup(html) == [] and no_raw_markup(thanks) == [], (html, thanks)


def _hostile_scorecard() -> tuple[dict[str, Any], str]:
    catalog = parse_catalog(
        "name: hostile\n"
        f"brand: {json.dumps('Shop' + SCRIPT)}\n"
        "touchpoints:\n"
        f"  - {{id: relationship, label: {json.dumps('=HYPERLINK(1)' + SCRIPT)}, family: cx, stage: loyalty, "
        "metric: nps}\n"
        f"  - {{id: support, label: {json.dumps(IMG)}, family: cs, stage: support, metric: csat}}\n"
        "ticket_mapping:\n  default: support\n")
    comments = [
        {"touchpoint": "relationship", "metric": "nps", "score": 0, "comment": HOSTILE,
         "submitted_at": "2026-11-17T08:00:00Z"},
        {"touchpoint": "support", "metric": "csat", "score": 1, "comment": '=HYPERLINK("http://evil","x")',
         "submitted_at": "2026-11-17T09:00:00Z"},
        {"touchpoint": "support", "metric": "csat", "score": 1, "comment": "+1+cmd|' /C calc'!A0",
         "submitted_at": "2026-11-17T09:01:00Z"},
        {"touchpoint": "relationship", "metric": "nps", "score": 2, "comment": "-2+3",
         "submitted_at": "2026-11-17T09:02:00Z"},
        {"touchpoint": "relationship", "metric": "nps", "score": 3, "comment": "@SUM(1+1)*cmd",
         "submitted_at": "2026-11-17T09:03:00Z"},
        {"touchpoint": "=retired", "metric": "nps", "score": 3, "comment": "\t=1+1\r\n=2",
         "submitted_at": "2026-11-17T09:04:00Z"},
    ]
    day = "ROLLUP#D#2026-11-17"
    card = build_scorecard("2026-W47", {
        (day, "TP#relationship"): {"nps_0": 3, "nps_10": 1, "s2e_fcr_0": 1},
        (day, "TP#support"): {"csat_1": 2, "csat_5": 1},
        (day, "TP#=cmd"): {"nps_3": 1},
        (day, "CH#chat"): {"solved": 2, "fcr": 1, "reopened": 1, "aht_n": 1, "aht_sum": 100},
    }, {"2026-W47": {"active": 3}, "2026-W46": {"active": 2}}, catalog, top_comments=comments)
    return card, catalog.brand


def test_the_scorecard_email_html_escapes_hostile_comments_labels_and_brand():
    card, brand = _hostile_scorecard()
    html = render_html(card, brand)
    assert no_raw_markup(html) == [], [m.start() for m in re.finditer("<script", html)]
    assert "&lt;script&gt;" in html and "=HYPERLINK(1)" in html  # shown, escaped
    message = render_email(card, brand="Shop", sender="scorecards@shop.example.com",
                           recipients=["cx@shop.example.com"])
    parsed = message_from_bytes(message.as_bytes(), policy=default_policy)
    part = parsed.get_body(preferencelist=("html",)).get_content()
    assert no_raw_markup(part) == []


def test_no_csv_cell_can_run_as_a_spreadsheet_formula():
    card, _ = _hostile_scorecard()
    rows = list(csv.reader(io.StringIO(render_csv(card), newline="")))
    assert len(rows) > 10
    cells = [cell for row in rows for cell in row]
    live = [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    assert live == []
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)  # kept, neutralized
    assert any(cell.startswith("'-") for cell in cells)  # negative deltas too (documented)


@pytest.mark.parametrize(("field", "value"), [
    ("brand", "Shop\r\nBcc: victim@evil.example"),
    ("brand", "Shop\nX-Injected: 1"),
    ("brand", "Shop\u2028Bcc: victim@evil.example"),
    ("brand", "Shop\x85Bcc: victim@evil.example"),
    ("subject_prefix", "Scorecard\r\nBcc: victim@evil.example"),
    ("sender", "scorecards@shop.example.com\r\nBcc: victim@evil.example"),
    ("sender", "Shop <scorecards@shop.example.com>, victim@evil.example"),
    ("recipient", "cx@shop.example.com\nBcc: victim@evil.example"),
    ("recipient", "cx@shop.example.com, victim@evil.example"),
    ("recipient", "cx@shop.example.com\x00"),
    ("recipient", "not an address"),
])
def test_header_injection_into_the_email_is_refused(field, value):
    card, _ = _hostile_scorecard()
    arguments = {"brand": "Shop", "sender": "scorecards@shop.example.com", "recipients": ["cx@shop.example.com"],
                 "subject_prefix": "Touchpoint scorecard"}
    # The clean message renders (the test can tell a refusal from a broken renderer) ...
    assert render_email(card, **arguments)["Subject"]
    if field == "recipient":
        arguments["recipients"] = ["ops@shop.example.com", value]
    else:
        arguments[field] = value
    # ... and the hostile one is refused
    with pytest.raises(ValueError):
        render_email(card, **arguments)


# Size and structure of bodies ---------------------------------------------------------------------------
def _routes(aws: Any) -> dict[str, tuple[str, str, dict[str, str]]]:
    token = _mint(aws.token_keys, order="O-size")
    return {
        "answer": (f"/s/{token}", "POST /s/{token}", {"token": token}),
        "import": ("/v1/responses", "POST /v1/responses", {}),
        "links": ("/v1/links", "POST /v1/links", {}),
        **{f"webhook-{p}": (f"/webhooks/{p}", "POST /webhooks/{provider}", {"provider": p}) for p in PROVIDERS},
    }


def _post(aws: Any, intake: Any, webhooks: Any, route: str, raw: bytes, content_type: str = "application/json",
          b64: bool | None = None) -> tuple[int, str]:
    path, route_key, params = _routes(aws)[route]
    handler = webhooks if route.startswith("webhook-") else intake
    headers = {"content-type": content_type}
    if route.startswith("webhook-"):
        provider = route.removeprefix("webhook-")
        headers.update(sign(provider, raw, WEBHOOK_SECRETS[provider], datetime.now(UTC)))
        if provider == "helpscout":
            headers["X-HelpScout-Event"] = "convo.created"
    status, _, text = handler("POST", path, raw, headers=headers, route_key=route_key, path_params=params, b64=b64)
    return status, text


ROUTES = ["answer", "import", "links", *(f"webhook-{p}" for p in PROVIDERS)]
WEBHOOK_ROUTES = [f"webhook-{p}" for p in PROVIDERS]


def test_a_body_over_64_kib_is_a_413_without_a_write(aws, intake, webhooks):
    # Given a JSON body one byte over 64 KiB, and one exactly at the limit
    def body(size: int) -> bytes:
        raw = json.dumps({"score": 5, "comment": ""}).encode()
        return raw[:-2] + b"x" * (size - len(raw)) + raw[-2:]

    over, at_limit = body(OVER), body(OVER - 1)
    assert (len(over), len(at_limit)) == (65537, 65536)
    for route in ROUTES:
        for encoding in ("text", "base64"):  # API Gateway base64-encodes bodies it does not see as text
            before = aws.item_count()
            # When they are posted
            status, text = _post(aws, intake, webhooks, route, over, b64=encoding == "base64")
            limit_status, _ = _post(aws, intake, webhooks, route, at_limit, b64=encoding == "base64")
            # Then the larger is a 413 with the SPEC body, the other is not, and nothing was written
            assert (status, error_code(text)) == (413, "payload_too_large"), (route, encoding)
            assert limit_status != 413, (route, encoding)
            assert aws.item_count() == before, (route, encoding)


NESTED = {"lists": ("[" * 10_000 + "]" * 10_000).encode(), "objects": ('{"a":' * 10_000 + "1" + "}" * 10_000).encode()}


def _refused_without_a_write(aws: Any, intake: Any, webhooks: Any, routes: list[str], raw: bytes,
                             statuses: tuple[int, ...]) -> list[str]:
    problems = []
    for route in routes:
        before = aws.item_count()
        status, text = _post(aws, intake, webhooks, route, raw)
        if status not in statuses:
            problems.append(f"{route}: {status} {text[:120]}")
            continue
        error_code(text)
        if aws.item_count() != before:
            problems.append(f"{route}: wrote")
    return problems


def test_deeply_nested_json_is_refused_by_every_webhook(aws, intake, webhooks):
    for shape, raw in NESTED.items():
        assert len(raw) < 64 * 1024
        assert _refused_without_a_write(aws, intake, webhooks, WEBHOOK_ROUTES, raw, (400, 422)) == [], shape


@pytest.mark.parametrize("route", ["answer", "import", "links"])
def test_deeply_nested_json_is_refused_by_the_intake_routes(aws, intake, webhooks, route):
    problems = [p for shape, raw in NESTED.items()
                for p in _refused_without_a_write(aws, intake, webhooks, [route], raw, (400, 422))]
    assert problems == []


NON_UTF8 = b'{"score": 5, "comment": "caf\xe9"}'


def test_a_body_that_is_not_utf8_is_a_400_on_the_answer_and_the_webhooks(aws, intake, webhooks):
    assert _refused_without_a_write(aws, intake, webhooks, ["answer", *WEBHOOK_ROUTES], NON_UTF8, (400,)) == []


@pytest.mark.parametrize("route", ["import", "links"])
def test_a_body_that_is_not_utf8_is_a_400(aws, intake, webhooks, route):
    assert _refused_without_a_write(aws, intake, webhooks, [route], NON_UTF8, (400,)) == []


# The same limits through the local stack's gateway (forms arrive base64-encoded, as on API Gateway) ----------
@pytest.mark.e2e
def test_over_http_oversize_and_nested_bodies_are_refused_without_a_write(shared_stack):
    stack = shared_stack
    link = stack.request("POST", "/v1/links", admin=True,
                         json_body={"customer_id": "hostile-http", "touchpoint": "shipping", "order_id": "H-1"})
    assert link.status == 201, link.text
    token = link.json()["token"]
    assert stack.request("POST", "/_local/drain").status == 200  # nothing pending: the count below is stable
    before = stack.item_count()
    form = b"score=5&comment=" + b"x" * OVER
    signed_nested = NESTED["lists"]
    cases = [
        ("POST", f"/s/{token}", form, {"content-type": "application/x-www-form-urlencoded"}, (413,)),
        ("POST", f"/s/{token}", b'{"score": 5, "comment": "' + b"x" * OVER + b'"}',
         {"content-type": "application/json"}, (413,)),
        ("POST", "/v1/responses", b"[" + b" " * OVER + b"]",
         {"content-type": "application/json", "x-api-key": stack.admin_key}, (413,)),
        ("POST", "/webhooks/generic", signed_nested,
         {"content-type": "application/json",
          **sign("generic", signed_nested, stack.secrets["webhook_secrets"]["generic"], datetime.now(UTC))},
         (400, 422)),
    ]
    for method, path, body, headers, statuses in cases:
        reply = stack.http.request(method, path, body, headers)
        assert reply.status in statuses, (path, reply.status, reply.text[:200])
        error_code(reply.text)
    assert stack.item_count() == before


# History from before year 1000 ------------------------------------------------------------------------------
def test_an_import_dated_before_year_1000_is_refused_or_counted_and_never_blocks_the_stream(aws, intake, aggregator):
    from touchpoint.rollups.rebuild import rebuild
    from touchpoint.rollups.store import RollupStore

    # Given an import of an answer dated in year 999, with two ordinary answers
    body = [{"customer_id": f"hist-{i}", "touchpoint": "relationship", "metric": "nps", "score": 9,
             "submitted_at": when, "response_id": f"hist-{i}"}
            for i, when in enumerate(["0999-12-31T00:00:00Z", "2026-11-16T10:00:00Z", "2026-11-17T10:00:00Z"])]
    status, _, text = intake("POST", "/v1/responses", body, headers={"content-type": "application/json"},
                             route_key="POST /v1/responses")
    # Then it is either refused without a write ...
    if status == 422:
        assert aws.item_count() == 0
        return
    assert status == 201, text
    # ... or the stream batch that carries it is applied, and every answer is counted
    batch = StreamReader(aws.dynamodb, aws.table_name).new_records()
    assert aggregator.lambda_handler({"Records": batch}, FakeLambdaContext()) == {"batchItemFailures": []}
    assert rebuild(RollupStore(aws.dynamodb, aws.table_name)).drift == []
