"""SurveyIntakeFunction end to end in-process: the real handler, real HTTP API v2 events (built from
the SAM sample event), and moto DynamoDB and Secrets Manager created from template.yaml."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from touchpoint import runtime
from touchpoint.catalog import load_catalog
from touchpoint.platform.http import MAX_BODY_BYTES
from touchpoint.surveys.intake import mint_link
from touchpoint.surveys.models import LinkRequest
from touchpoint.surveys.tokens import KeyRing, SurveyClaims, mint_token, verify_token

FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def assert_error(reply: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The SPEC §3 error body, exactly: {"error": {"code": str, "message": str, "field": str|null}}."""
    assert reply.status == status, reply.body
    assert reply.header("content-type").startswith("application/json")
    body = reply.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["field"] == field
    return body["error"]


@pytest.fixture
def keyring(aws: Any) -> KeyRing:
    """The ring of the deployed secret (the function's own keys)."""
    return KeyRing(aws.token_keys)


def checked_scores(html: str) -> list[str]:
    return re.findall(r'<input type="radio" name="score" value="(\d+)"[^>]*\bchecked\b', html)


def tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def import_item(**changes: Any) -> dict[str, Any]:
    return {"customer_id": "cust-9", "touchpoint": "support", "metric": "csat", "score": 4, **changes}


# POST /v1/links ----------------------------------------------------------------------------------
def test_create_link_returns_token_url_and_expiry_on_the_api_domain(client: Any, aws: Any, keyring: KeyRing) -> None:
    # Given no PUBLIC_BASE_URL (the API's own URL is used)
    # When an admin mints a link
    before = datetime.now(UTC)
    reply = client.request("POST", "/v1/links", {"customer_id": "cust-1", "touchpoint": "shipping",
                                                  "order_id": "order-77", "ttl_days": 14})
    # Then 201 with {token, url, expires_at}, the url on the request's domain
    assert reply.status == 201, reply.body
    link = reply.json()
    assert {"token", "url", "expires_at"} <= set(link)
    assert link["url"] == f"https://{client.domain}/s/{link['token']}"
    expires = datetime.fromisoformat(link["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=14) - timedelta(seconds=5) <= expires - before <= timedelta(days=14, seconds=5)
    # And the token is genuine and carries the claims, metric defaulting to the touchpoint's (csat)
    claims = verify_token(keyring, link["token"])
    assert (claims.customer_id, claims.touchpoint, claims.metric, claims.order_id) == (
        "cust-1", "shipping", "csat", "order-77")
    # And minting writes no feedback record, only the customer's contact item (the contact policy)
    assert aws.item_count() == 0
    assert [item["customer_id"] for item in aws.contact_items()] == ["cust-1"]


def test_create_link_uses_public_base_url_when_set(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a custom domain for survey links
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://feedback.example.com/")
    runtime.reset()
    # When a link is minted
    link = client.mint()
    # Then its url is on that domain
    assert link["url"] == f"https://feedback.example.com/s/{link['token']}"


def test_create_link_on_a_named_stage_keeps_the_stage_in_the_url(client: Any) -> None:
    # Given an API served from a named stage (https://domain/prod/...)
    event = client.http_event("POST", "/prod/v1/links", {"customer_id": "c", "touchpoint": "support"},
                              route_key="POST /v1/links")
    event["requestContext"]["stage"] = "prod"
    # When a link is minted
    reply = client.send(event)
    # Then the survey url includes the stage
    assert reply.status == 201, reply.body
    assert reply.json()["url"] == f"https://{client.domain}/prod/s/{reply.json()['token']}"


def test_create_link_with_an_explicit_metric(client: Any, keyring: KeyRing) -> None:
    link = client.mint(touchpoint="shipping", metric="nps")
    assert verify_token(keyring, link["token"]).metric == "nps"


def test_create_link_for_unknown_touchpoint_is_422(client: Any, aws: Any) -> None:
    # Sent twice: a refused mint must not leave an idempotency record that breaks the retry
    for _ in range(2):
        reply = client.request("POST", "/v1/links", {"customer_id": "c", "touchpoint": "teleport"})
        assert_error(reply, 422, "unknown_touchpoint", "touchpoint")
    assert aws.item_count() == 0


def test_retried_mint_returns_the_same_link(client: Any, aws: Any) -> None:
    # Given a mailer that mints a link and retries the same request (a timeout on its side)
    first = client.mint(customer_id="cust-r", touchpoint="packaging")
    again = client.mint(customer_id="cust-r", touchpoint="packaging")
    # Then it gets the very same link back, not a second survey
    assert again["token"] == first["token"] and again["url"] == first["url"]
    # And a different request gets a different survey
    other = client.mint(customer_id="cust-s", touchpoint="packaging")
    assert other["token"] != first["token"]
    # And minting writes no feedback record
    assert aws.item_count() == 0
    # And the replayed reply is whole (email block included), while the retry record keeps the link's
    # fields only: under 1 KB, one write unit (the rendered email block would make it about nine)
    assert again == first and "<a " in again["email_html"]
    records = aws.dynamodb.scan(TableName=aws.idempotency_table_name)["Items"]
    assert records and max(len(json.dumps(item)) for item in records) < 1024


def test_create_link_invalid_fields_are_422_naming_the_field(client: Any) -> None:
    assert_error(client.request("POST", "/v1/links", {"touchpoint": "shipping"}), 422, "invalid_field", "customer_id")
    reply = client.request("POST", "/v1/links", {"customer_id": "c", "touchpoint": "shipping", "ttl_days": 0})
    assert_error(reply, 422, "invalid_field", "ttl_days")


def test_create_link_with_invalid_json_is_400(client: Any) -> None:
    reply = client.request("POST", "/v1/links", '{"customer_id": "c",', headers=JSON)
    assert_error(reply, 400, "invalid_json")


# GET /s/{token} ----------------------------------------------------------------------------------
def test_survey_page_is_html_and_never_writes(client: Any, aws: Any) -> None:
    # Given a link for an NPS touchpoint
    token = client.mint(touchpoint="relationship")["token"]
    # When it is opened, as an email link scanner would, several times
    replies = [client.survey("GET", token) for _ in range(3)]
    # Then each is a 200 HTML page with the 0-10 scale
    for reply in replies:
        assert reply.status == 200
        assert reply.header("content-type").startswith("text/html")
        assert "How likely are you to recommend" in reply.body
        assert reply.body.count('name="score"') == 11
        assert checked_scores(reply.body) == []
    # And nothing was written
    assert aws.item_count() == 0


def test_survey_page_preselects_the_score_from_the_query(client: Any, aws: Any) -> None:
    # Given a CSAT link (1-5)
    token = client.mint(touchpoint="shipping")["token"]
    # When the "4" button of the email is followed
    reply = client.survey("GET", token, query={"score": "4"})
    # Then the page has 4 preselected and still writes nothing
    assert reply.status == 200
    assert checked_scores(reply.body) == ["4"]
    assert aws.item_count() == 0
    # And an off-scale score preselects nothing
    reply = client.survey("GET", token, query={"score": "9"})
    assert reply.status == 200 and checked_scores(reply.body) == []


def test_survey_page_sends_protective_headers(client: Any) -> None:
    reply = client.survey("GET", client.mint()["token"])
    assert "default-src 'none'" in reply.header("content-security-policy")
    assert reply.header("cache-control") == "no-store"
    assert reply.header("referrer-policy") == "no-referrer"


# POST /s/{token} ---------------------------------------------------------------------------------
def test_json_answer_twice_is_201_then_200_with_one_record(client: Any, aws: Any) -> None:
    # Given a link
    token = client.mint(touchpoint="relationship", order_id="order-5")["token"]
    # When the customer answers, then changes the answer
    first = client.survey("POST", token, {"score": 3, "comment": "slow"})
    second = client.survey("POST", token, {"score": 9})
    # Then 201, then 200
    assert first.status == 201, first.body
    assert second.status == 200, second.body
    assert first.json()["status"] == "created" and second.json()["status"] == "updated"
    assert first.header("content-type").startswith("application/json")
    # And there is exactly one record, holding the second answer and the first submission time
    items = aws.records()
    assert len(items) == 1
    item = items[0]
    assert item["score"] == 9
    assert item["comment"] == "slow"  # an answer without a comment keeps the one given before
    assert item["first_submitted_at"] == first.json()["submitted_at"]
    assert item["submitted_at"] == second.json()["submitted_at"]
    assert item["first_submitted_at"] <= item["submitted_at"]
    assert item["submissions"] == 2
    assert (item["customer_id"], item["touchpoint"], item["metric"], item["order_id"]) == (
        "cust-1", "relationship", "nps", "order-5")
    assert item["family"] == "cx"


def test_two_links_for_the_same_order_are_one_survey(client: Any, aws: Any, keyring: Any) -> None:
    # Given two links minted for the same customer, touchpoint and order (say a reminder email)
    # (the reminder minted offline, as the contact policy would hold a second mint back)
    first = client.mint(order_id="order-1", ttl_days=10)["token"]
    second = mint_link(LinkRequest(customer_id="cust-1", touchpoint="shipping", order_id="order-1", ttl_days=20),
                       load_catalog("ecommerce"), keyring, "https://x.example", datetime.now(UTC)).token
    assert first != second
    # When the customer answers through both
    assert client.survey("POST", first, {"score": 2}).status == 201
    assert client.survey("POST", second, {"score": 5}).status == 200
    # Then it counts once
    assert aws.item_count() == 1
    assert aws.records()[0]["score"] == 5


@pytest.mark.parametrize("encoded", [False, True], ids=["plain", "base64"])
def test_form_answer_gets_an_html_thank_you(client: Any, aws: Any, encoded: bool) -> None:
    # Given a link, and the survey page's form (API Gateway base64-encodes form posts)
    token = client.mint(touchpoint="checkout")["token"]
    form = urlencode({"score": "6", "comment": "Easy enough, thanks!"})
    # When the form is posted
    reply = client.survey("POST", token, form, headers=FORM, base64=encoded)
    # Then a 201 HTML thank-you page echoes the answer
    assert reply.status == 201, reply.body
    assert reply.header("content-type").startswith("text/html")
    assert "Thank you" in reply.body and "<strong>6</strong>" in reply.body
    assert "Easy enough, thanks!" in reply.body
    # And the answer is stored
    item = aws.records()[0]
    assert (item["score"], item["comment"], item["metric"]) == (6, "Easy enough, thanks!", "ces")
    # When the form is posted again with another score
    again = client.survey("POST", token, urlencode({"score": "7", "comment": ""}), headers=FORM, base64=encoded)
    # Then 200, the page says it is updated, and still one record
    assert again.status == 200
    assert "your answer is updated" in again.body
    assert aws.item_count() == 1
    assert aws.records()[0]["score"] == 7


def test_form_with_charset_in_content_type(client: Any, aws: Any) -> None:
    token = client.mint()["token"]
    reply = client.survey("POST", token, "score=5", headers={"content-type": FORM["content-type"] + "; charset=UTF-8"},
                          base64=True)
    assert reply.status == 201 and reply.header("content-type").startswith("text/html")
    assert aws.item_count() == 1


def test_hostile_comment_is_stored_verbatim_and_escaped_in_the_page(client: Any, aws: Any) -> None:
    # Given a comment with markup
    hostile = '<script>alert("pwned")</script><img src=x onerror=alert(1)> & friends'
    token = client.mint()["token"]
    # When it is posted through the form
    reply = client.survey("POST", token, urlencode({"score": "1", "comment": hostile}), headers=FORM, base64=True)
    # Then the thank-you page shows it escaped, never as markup
    assert reply.status == 201
    assert "<script>" not in reply.body and "<img" not in reply.body
    assert "&lt;script&gt;alert(" in reply.body and "&amp; friends" in reply.body
    # And the record keeps exactly what the customer wrote
    assert aws.records()[0]["comment"] == hostile


def test_tampered_token_is_403_and_writes_nothing(client: Any, aws: Any) -> None:
    # Given a link whose signature was altered
    forged = tampered(client.mint()["token"])
    # When it is opened or answered (JSON or form)
    replies = [
        client.survey("GET", forged),
        client.survey("POST", forged, {"score": 5}),
        client.survey("POST", forged, "score=5", headers=FORM, base64=True),
    ]
    # Then each is 403 invalid_token with the SPEC error body, and nothing is written
    for reply in replies:
        assert_error(reply, 403, "invalid_token", "token")
    assert aws.item_count() == 0


def test_expired_token_is_410_and_writes_nothing(client: Any, aws: Any, keyring: KeyRing) -> None:
    # Given a genuine link that expired yesterday
    claims = SurveyClaims("o" + "e" * 31, "cust-1", "shipping", "csat", "order-1",
                          datetime.now(UTC) - timedelta(days=1))
    token = mint_token(keyring, claims)
    # When it is opened or answered
    # Then 410 token_expired, and nothing is written
    assert_error(client.survey("GET", token), 410, "token_expired", "token")
    assert_error(client.survey("POST", token, {"score": 5}), 410, "token_expired", "token")
    assert aws.item_count() == 0
    # And the same token tampered is 403, not 410
    assert_error(client.survey("POST", tampered(token), {"score": 5}), 403, "invalid_token", "token")


def test_token_signed_by_an_unknown_key_is_403(client: Any, aws: Any) -> None:
    stranger = KeyRing({"k-new": "not-our-key-but-long-enough"})
    token = mint_token(stranger, SurveyClaims("s", "c", "shipping", "csat", None, datetime.now(UTC) + timedelta(1)))
    assert_error(client.survey("POST", token, {"score": 5}), 403, "invalid_token", "token")
    assert aws.item_count() == 0


def test_key_rotation_keeps_links_in_inboxes_working(client: Any, aws: Any) -> None:
    # Given a link minted with the current signing key
    old_link = client.mint()["token"]
    # When a new key is appended to the secret
    aws.set_token_keys({**aws.token_keys, "k-2027": "brand-new-signing-key-2027"})
    new_link = client.mint(customer_id="cust-2")["token"]
    # Then new links use the new key, and the old link still works
    assert verify_token(KeyRing({"k-2027": "brand-new-signing-key-2027"}), new_link).key_id == "k-2027"
    assert client.survey("POST", old_link, {"score": 4}).status == 201
    # When the old keys are removed
    aws.set_token_keys({"k-2027": "brand-new-signing-key-2027"})
    # Then the old link is refused, the new one accepted
    assert_error(client.survey("POST", old_link, {"score": 5}), 403, "invalid_token", "token")
    assert client.survey("POST", new_link, {"score": 5}).status == 201
    assert aws.item_count() == 2


@pytest.mark.parametrize(("touchpoint", "score"), [("relationship", 11), ("shipping", 0), ("checkout", 8)])
def test_score_out_of_range_is_422_and_writes_nothing(client: Any, aws: Any, touchpoint: str,
                                                      score: int) -> None:
    token = client.mint(touchpoint=touchpoint)["token"]
    assert_error(client.survey("POST", token, {"score": score}), 422, "score_out_of_range", "score")
    assert_error(client.survey("POST", token, f"score={score}", headers=FORM, base64=True),
                 422, "score_out_of_range", "score")
    assert aws.item_count() == 0


@pytest.mark.parametrize("body", [{"comment": "no score"}, {"score": "five"}, {"score": 4.5}])
def test_invalid_answer_is_422_naming_score(client: Any, aws: Any, body: dict) -> None:
    token = client.mint()["token"]
    assert_error(client.survey("POST", token, body), 422, "invalid_field", "score")
    assert aws.item_count() == 0


def test_form_without_a_score_is_422(client: Any, aws: Any) -> None:
    token = client.mint()["token"]
    assert_error(client.survey("POST", token, "comment=hi", headers=FORM, base64=True), 422, "invalid_field", "score")
    assert aws.item_count() == 0


def test_comment_over_2000_characters_is_422(client: Any, aws: Any) -> None:
    token = client.mint()["token"]
    assert_error(client.survey("POST", token, {"score": 5, "comment": "x" * 2001}), 422, "invalid_field", "comment")
    assert aws.item_count() == 0


@pytest.mark.parametrize("raw", ['{"score": 5', "score=5", "", "not json"])
def test_invalid_json_answer_is_400(client: Any, aws: Any, raw: str) -> None:
    token = client.mint()["token"]
    assert_error(client.survey("POST", token, raw, headers=JSON), 400, "invalid_json")
    assert aws.item_count() == 0


def test_json_answer_that_is_not_an_object_is_422(client: Any, aws: Any) -> None:
    token = client.mint()["token"]
    assert_error(client.survey("POST", token, [5]), 422, "invalid_field")
    assert aws.item_count() == 0


def test_unsupported_content_type_is_400(client: Any, aws: Any) -> None:
    token = client.mint()["token"]
    reply = client.survey("POST", token, "score=5", headers={"content-type": "text/plain"})
    assert_error(reply, 400, "unsupported_content_type")
    assert aws.item_count() == 0


def test_body_that_is_not_utf8_is_400(client: Any, aws: Any) -> None:
    token = client.mint()["token"]
    reply = client.survey("POST", token, b"score=5&comment=caf\xe9", headers=FORM, base64=True)
    assert_error(reply, 400, reply.json()["error"]["code"])
    assert aws.item_count() == 0


# Body cap (64 KiB) -------------------------------------------------------------------------------
def padded_answer(size: int) -> str:
    """A JSON answer of exactly ``size`` bytes."""
    skeleton = '{"score": 5, "pad": ""}'
    return skeleton.replace('""', '"' + "x" * (size - len(skeleton)) + '"')


@pytest.mark.parametrize("encoded", [False, True], ids=["plain", "base64"])
def test_body_over_64_kib_is_413_and_writes_nothing(client: Any, aws: Any, encoded: bool) -> None:
    token = client.mint()["token"]
    # Given a body one byte over 64 KiB
    body = padded_answer(MAX_BODY_BYTES + 1)
    assert len(body.encode()) == 64 * 1024 + 1
    # When it is posted (as is, or base64-encoded by API Gateway)
    reply = client.survey("POST", token, body, headers=JSON, base64=encoded)
    # Then 413 with the SPEC error body and nothing written
    assert_error(reply, 413, "payload_too_large")
    assert aws.item_count() == 0
    # And a big import is refused the same way
    batch = json.dumps([import_item(comment="x" * 2000) for _ in range(40)])
    assert len(batch) > MAX_BODY_BYTES
    assert_error(client.request("POST", "/v1/responses", batch, headers=JSON, base64=encoded), 413,
                 "payload_too_large")
    assert aws.item_count() == 0


@pytest.mark.parametrize("encoded", [False, True], ids=["plain", "base64"])
def test_body_of_exactly_64_kib_is_accepted(client: Any, aws: Any, encoded: bool) -> None:
    token = client.mint()["token"]
    reply = client.survey("POST", token, padded_answer(MAX_BODY_BYTES), headers=JSON, base64=encoded)
    assert reply.status == 201, reply.body
    assert aws.item_count() == 1


def test_body_cap_counts_bytes_not_characters(client: Any, aws: Any) -> None:
    # 30,000 three-byte characters are 90,000 bytes: over the cap though under 64 Ki characters
    token = client.mint()["token"]
    body = json.dumps({"score": 5, "pad": "€" * 30_000}, ensure_ascii=False)
    assert len(body) < MAX_BODY_BYTES < len(body.encode())
    assert_error(client.survey("POST", token, body, headers=JSON), 413, "payload_too_large")
    assert aws.item_count() == 0


# POST /v1/responses ------------------------------------------------------------------------------
def test_import_one_object(client: Any, aws: Any) -> None:
    # When one response is imported
    reply = client.request("POST", "/v1/responses", import_item(comment="Great agent"))
    # Then 201 and one record, with its survey id reported
    assert reply.status == 201, reply.body
    body = reply.json()
    assert body["created"] == 1 and body["duplicates"] == 0
    assert body["results"][0]["status"] == "created"
    item = aws.records()[0]
    assert item["survey_id"] == body["results"][0]["survey_id"]
    assert (item["customer_id"], item["touchpoint"], item["family"], item["score"], item["comment"]) == (
        "cust-9", "support", "cs", 4, "Great agent")


def test_import_a_list(client: Any, aws: Any) -> None:
    batch = [import_item(response_id=f"r{i}", score=1 + i % 5) for i in range(10)]
    reply = client.request("POST", "/v1/responses", batch)
    assert reply.status == 201, reply.body
    assert reply.json()["created"] == 10
    assert sorted(i["score"] for i in aws.records()) == sorted(1 + i % 5 for i in range(10))


def test_import_same_response_id_twice_is_one_record(client: Any, aws: Any) -> None:
    # Given a response imported once
    first = client.request("POST", "/v1/responses", import_item(response_id="zd-123", score=2))
    # When the same response id is imported again (a retried import)
    second = client.request("POST", "/v1/responses", import_item(response_id="zd-123", score=5))
    # Then 201 then 200, reported as a duplicate, one record, the first kept
    assert first.status == 201 and second.status == 200
    assert second.json()["duplicates"] == 1 and second.json()["results"][0]["status"] == "duplicate"
    assert aws.item_count() == 1
    assert aws.records()[0]["score"] == 2
    assert aws.records()[0]["response_id"] == "zd-123"


def test_import_a_list_with_one_known_response_id(client: Any, aws: Any) -> None:
    client.request("POST", "/v1/responses", import_item(response_id="a"))
    reply = client.request("POST", "/v1/responses", [import_item(response_id="a"), import_item(response_id="b")])
    assert reply.status == 201
    assert [r["status"] for r in reply.json()["results"]] == ["duplicate", "created"]
    assert aws.item_count() == 2


def test_import_honours_submitted_at_in_utc(client: Any, aws: Any) -> None:
    # Given history from another tool, with a zone offset
    reply = client.request("POST", "/v1/responses", [
        import_item(response_id="h1", submitted_at="2025-03-09T23:15:00-05:00"),
        import_item(response_id="h2", submitted_at="2025-12-31T23:59:59Z"),
    ])
    # Then each is stored at the instant given, in UTC
    assert reply.status == 201, reply.body
    stamps = {i["response_id"]: i["submitted_at"] for i in aws.records()}
    assert stamps == {"h1": "2025-03-10T04:15:00.000Z", "h2": "2025-12-31T23:59:59.000Z"}
    assert {i["first_submitted_at"] for i in aws.records()} == set(stamps.values())


def test_import_list_with_one_out_of_range_item_writes_nothing(client: Any, aws: Any) -> None:
    batch = [import_item(response_id="a"), import_item(response_id="b", score=6), import_item(response_id="c")]
    assert_error(client.request("POST", "/v1/responses", batch), 422, "score_out_of_range", "[1].score")
    assert aws.item_count() == 0


def test_import_list_with_one_unknown_touchpoint_writes_nothing(client: Any, aws: Any) -> None:
    batch = [import_item(), import_item(), import_item(touchpoint="teleport")]
    assert_error(client.request("POST", "/v1/responses", batch), 422, "unknown_touchpoint", "[2].touchpoint")
    assert aws.item_count() == 0


def test_import_single_unknown_touchpoint_or_bad_score_is_422(client: Any, aws: Any) -> None:
    assert_error(client.request("POST", "/v1/responses", import_item(touchpoint="teleport")),
                 422, "unknown_touchpoint", "touchpoint")
    assert_error(client.request("POST", "/v1/responses", import_item(metric="nps", score=11)),
                 422, "score_out_of_range", "score")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert_error(client.request("POST", "/v1/responses", import_item(submitted_at=future)),
                 422, "submitted_in_future", "submitted_at")
    assert aws.item_count() == 0


@pytest.mark.parametrize("size", [0, 101])
def test_import_batch_size_is_1_to_100(client: Any, aws: Any, size: int) -> None:
    reply = client.request("POST", "/v1/responses", [import_item()] * size)
    assert reply.status == 422, reply.body
    assert_error(reply, 422, reply.json()["error"]["code"], reply.json()["error"]["field"])
    assert aws.item_count() == 0


def test_import_batch_of_100_is_accepted(client: Any, aws: Any) -> None:
    assert client.request("POST", "/v1/responses", [import_item()] * 100).status == 201
    assert aws.item_count() == 100


def test_import_invalid_json_is_400(client: Any, aws: Any) -> None:
    assert_error(client.request("POST", "/v1/responses", "[{", headers=JSON), 400, "invalid_json")
    assert aws.item_count() == 0


def test_import_single_object_with_invalid_field_is_422(client: Any, aws: Any) -> None:
    reply = client.request("POST", "/v1/responses", import_item(metric="stars"))
    assert reply.status == 422
    assert "metric" in (reply.json()["error"]["field"] or "")
    assert aws.item_count() == 0


def test_import_single_object_invalid_field_is_named_plainly(client: Any) -> None:
    assert_error(client.request("POST", "/v1/responses", import_item(metric="stars")), 422, "invalid_field", "metric")


def test_import_list_item_with_invalid_field_names_its_index(client: Any, aws: Any) -> None:
    bad = {k: v for k, v in import_item().items() if k != "customer_id"}
    reply = client.request("POST", "/v1/responses", [import_item(), bad])
    assert aws.item_count() == 0
    assert_error(reply, 422, "invalid_field", "[1].customer_id")


def test_import_list_item_with_invalid_field_writes_nothing(client: Any, aws: Any) -> None:
    bad = {k: v for k, v in import_item().items() if k != "customer_id"}
    reply = client.request("POST", "/v1/responses", [import_item(), bad, import_item()])
    assert reply.status == 422
    assert aws.item_count() == 0


# GET /v1/touchpoints, /openapi.json, unknown routes ----------------------------------------------
def test_touchpoints_lists_the_active_catalog(client: Any) -> None:
    reply = client.request("GET", "/v1/touchpoints")
    assert reply.status == 200
    touchpoints = reply.json()
    assert isinstance(touchpoints, list)
    for entry in touchpoints:
        assert set(entry) == {"id", "label", "family", "stage", "metric"}
    by_id = {t["id"]: t for t in touchpoints}
    assert by_id["support"] == {"id": "support", "label": "Customer support", "family": "cs", "stage": "support",
                                "metric": "csat"}
    assert by_id["relationship"]["metric"] == "nps" and by_id["shipping"]["family"] == "cx"


def test_touchpoints_follow_the_configured_preset(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_CATALOG", "saas")
    runtime.reset()
    ids = {t["id"] for t in client.request("GET", "/v1/touchpoints").json()}
    assert {"onboarding", "billing_support"} <= ids and "checkout" not in ids


def test_custom_catalog_with_hostile_label_is_escaped_on_the_page(client: Any, monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    # Given a custom catalog whose brand and label contain markup
    path = tmp_path / "catalog.yaml"
    path.write_text("""
name: custom
brand: '<script>alert(1)</script>'
touchpoints:
  - {id: visit, label: '<img src=x onerror=alert(2)>', family: cx, stage: visit, metric: csat}
  - {id: support, label: Support, family: cs, stage: support, metric: csat}
ticket_mapping: {default: support}
""", "utf-8")
    monkeypatch.setenv("TOUCHPOINT_CATALOG", str(path))
    runtime.reset()
    # When its survey page is opened
    reply = client.survey("GET", client.mint(touchpoint="visit")["token"])
    # Then the markup is shown as text
    assert reply.status == 200
    assert "<script>" not in reply.body and "<img" not in reply.body
    assert "&lt;img src=x onerror=alert(2)&gt;" in reply.body


def test_openapi_document_lists_the_intake_paths(client: Any) -> None:
    reply = client.request("GET", "/openapi.json")
    assert reply.status == 200
    document = reply.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert {"/v1/links", "/s/{token}", "/v1/responses", "/v1/touchpoints"} <= set(paths)
    assert {"get", "post"} <= set(paths["/s/{token}"])
    assert "post" in paths["/v1/links"] and "post" in paths["/v1/responses"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("GET", "/v1/links"), ("POST", "/v1/touchpoints"),
                                              ("GET", "/s")])
def test_unknown_route_is_404_with_the_error_body(client: Any, aws: Any, method: str, path: str) -> None:
    body = {"score": 5} if method == "POST" else None
    assert_error(client.request(method, path, body), 404, "not_found")
    assert aws.item_count() == 0


def test_answering_again_without_a_comment_keeps_it_and_a_new_comment_replaces_it(client: Any, aws: Any) -> None:
    # Given a link answered with a comment
    token = client.mint(touchpoint="shipping", order_id="order-keep")["token"]
    assert client.survey("POST", token, {"score": 2, "comment": "Box arrived crushed"}).status == 201
    # When the customer answers again from an email button, with a score only
    assert client.survey("POST", token, {"score": 3}).status == 200
    # Then the comment is still there, beside the new score
    (item,) = aws.records()
    assert (item["score"], item["comment"]) == (3, "Box arrived crushed")
    # When they answer again with a new comment, Then it replaces the old one
    assert client.survey("POST", token, {"score": 4, "comment": "Replacement came fast"}).status == 200
    (item,) = aws.records()
    assert (item["score"], item["comment"]) == (4, "Replacement came fast")


def test_a_link_answered_before_opens_on_the_earlier_answer(client: Any, aws: Any) -> None:
    # Given a link answered with a score and a comment that needs escaping
    token = client.mint(touchpoint="shipping", order_id="order-reopen")["token"]
    assert client.survey("POST", token, {"score": 2, "comment": "<b>late</b> & broken"}).status == 201
    before = aws.item_count()
    # When the customer opens the link again
    page = client.survey("GET", token)
    # Then the page shows the earlier answer: the score chosen, the comment filled in (escaped)
    assert page.status == 200
    assert 'value="2" required checked' in page.body
    assert "You answered 2" in page.body
    assert "&lt;b&gt;late&lt;/b&gt; &amp; broken</textarea>" in page.body
    # And a one-click ?score= still picks the score, and opening wrote nothing
    assert 'value="5" required checked' in client.survey("GET", token, query={"score": "5"}).body
    assert aws.item_count() == before

