"""The local stack over HTTP on loopback: what a user's curl or browser sees, and what lands in the
moto table behind it."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from touchpoint.surveys.tokens import KeyRing, SurveyClaims, mint_token
from touchpoint_local.testing import touchpoint_exe

pytestmark = pytest.mark.e2e


def error_of(reply) -> dict:
    body = reply.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    return body["error"]


def mint(stack, **overrides) -> dict:
    body = {"customer_id": "cust-e2e", "touchpoint": "shipping", **overrides}
    reply = stack.request("POST", "/v1/links", json_body=body, admin=True)
    assert reply.status == 201, reply.text
    return reply.json()


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_info_names_the_template_resources_with_their_keys_and_stream(local_stack):
    # Given the running stack, When its info and the table behind it are read
    info = local_stack.info
    table = local_stack.dynamodb().describe_table(TableName=info["resources"]["FeedbackTable"])["Table"]
    # Then the table is the template's: pk/sk keys, the ByCustomer index and a NEW_AND_OLD_IMAGES stream
    assert {"aws_endpoint", "dynamodb_endpoint", "region", "resources"} <= set(info)
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert [g["IndexName"] for g in table["GlobalSecondaryIndexes"]] == ["ByCustomer"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_admin_routes_need_the_api_key(local_stack):
    assert local_stack.request("GET", "/v1/touchpoints").status == 401
    assert local_stack.request("GET", "/v1/touchpoints", headers={"x-api-key": "wrong"}).status == 401
    reply = local_stack.request("GET", "/v1/touchpoints", admin=True)
    assert reply.status == 200
    assert {"id": "support", "label": "Customer support", "family": "cs", "stage": "support",
            "metric": "csat"} in reply.json()


def test_opening_a_link_never_writes_and_answering_twice_keeps_one_record(local_stack):
    # Given a fresh link
    link = mint(local_stack, customer_id="cust-twice", order_id="A-100")
    before = local_stack.record_count()
    # When a link scanner and the customer open it, with and without a preselected score
    for query in ("", "?score=5", "?score=99", "?score=abc"):
        page = local_stack.request("GET", path_of(link["url"]) + query)
        assert page.status == 200 and "text/html" in page.header("Content-Type")
    # Then nothing is written
    assert local_stack.record_count() == before
    # When the customer answers, then changes their mind
    first = local_stack.request("POST", path_of(link["url"]), json_body={"score": 2, "comment": "late"})
    second = local_stack.request("POST", path_of(link["url"]), json_body={"score": 4})
    # Then the first answer creates, the second replaces: one record with the latest score, and the
    # comment of the first (the second gave none)
    assert (first.status, second.status) == (201, 200)
    assert local_stack.record_count() == before + 1
    records = [i for i in local_stack.items() if i.get("survey_id") == link["survey_id"] and i["type"] == "response"]
    assert len(records) == 1
    assert records[0]["score"] == 4 and records[0]["comment"] == "late" and records[0]["customer_id"] == "cust-twice"


def test_form_post_gets_an_escaped_thank_you_page(local_stack):
    link = mint(local_stack, customer_id="cust-form")
    reply = local_stack.request(
        "POST", path_of(link["url"]), data=b"score=5&comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 201
    assert "<script>alert(1)</script>" not in reply.text and "&lt;script&gt;" in reply.text
    stored = [i for i in local_stack.items() if i.get("survey_id") == link["survey_id"] and i.get("type") == "response"]
    assert stored[0]["comment"] == "<script>alert(1)</script>"  # kept verbatim, escaped where rendered


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("tampered", 403, "invalid_token"),
        ("expired", 410, "token_expired"),
        ("score_out_of_range", 422, "score_out_of_range"),
        ("oversize", 413, "payload_too_large"),
        ("invalid_json", 400, "invalid_json"),
    ],
)
def test_rejected_answers_write_nothing(local_stack, case, status, code):
    link = mint(local_stack, customer_id=f"cust-{case}")
    path, body = path_of(link["url"]), {"score": 3}
    data = None
    if case == "tampered":
        token = link["token"]
        path = "/s/" + token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif case == "expired":
        ring = KeyRing(local_stack.secrets["token_keys"])
        past = datetime.now(UTC) - timedelta(days=1)
        claims = SurveyClaims("rexpired", "cust-expired", "shipping", "csat", None, past)
        path = "/s/" + mint_token(ring, claims)
    elif case == "score_out_of_range":
        body = {"score": 6}
    elif case == "oversize":
        body = {"score": 3, "comment": "x" * (65 * 1024)}
    elif case == "invalid_json":
        data, body = b'{"score": 3,', None
    with local_stack.quiet_pump():  # nothing else writes while we count: not even the aggregator
        before = local_stack.item_count()
        reply = local_stack.request("POST", path, json_body=body, data=data,
                                    headers={"content-type": "application/json"})
        assert reply.status == status
        assert error_of(reply)["code"] == code
        assert local_stack.item_count() == before


def test_unknown_touchpoint_is_422_with_the_field(local_stack):
    reply = local_stack.request("POST", "/v1/links", json_body={"customer_id": "c", "touchpoint": "nope"},
                                admin=True)
    assert reply.status == 422
    assert error_of(reply) | {"message": ""} == {"code": "unknown_touchpoint", "message": "", "field": "touchpoint"}


def test_import_is_idempotent_on_response_id_and_keeps_submitted_at(local_stack):
    item = {"customer_id": "cust-import", "touchpoint": "relationship", "metric": "nps", "score": 9,
            "response_id": "zendesk-survey-881", "submitted_at": "2026-10-05T08:30:00+02:00"}
    before = local_stack.record_count()
    first = local_stack.request("POST", "/v1/responses", json_body=item, admin=True)
    again = local_stack.request("POST", "/v1/responses", json_body=[item], admin=True)
    assert (first.status, again.status) == (201, 200)
    assert again.json()["results"][0]["status"] == "duplicate"
    assert local_stack.record_count() == before + 1
    stored = [i for i in local_stack.items() if i.get("response_id") == "zendesk-survey-881"]
    assert stored[0]["submitted_at"] == "2026-10-05T06:30:00.000Z"


def test_a_batch_with_one_bad_item_writes_nothing(local_stack):
    good = {"customer_id": "cust-batch", "touchpoint": "relationship", "metric": "nps", "score": 10}
    before = local_stack.record_count()
    reply = local_stack.request("POST", "/v1/responses", json_body=[good, {**good, "score": 11}], admin=True)
    assert reply.status == 422
    assert error_of(reply)["field"] == "[1].score"
    assert local_stack.record_count() == before


def test_openapi_document_lists_the_intake_routes(local_stack):
    reply = local_stack.request("GET", "/openapi.json")
    assert reply.status == 200
    paths = reply.json()["paths"]
    assert {"/v1/links", "/s/{token}", "/v1/responses", "/v1/touchpoints"} <= set(paths)


def test_unknown_route_is_404_with_the_error_body(local_stack):
    reply = local_stack.request("GET", "/v2/nothing-here")
    assert reply.status == 404
    assert error_of(reply)["code"] == "not_found"


def test_touchpoint_link_command_mints_a_link_the_stack_accepts(local_stack):
    done = subprocess.run(
        [touchpoint_exe(), "link", "--offline", "--customer", "cust-cli", "--touchpoint", "relationship",
         "--order", "A-7", "--base-url", local_stack.base], capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith(local_stack.base + "/s/")
    page = local_stack.request("GET", path_of(url))
    assert page.status == 200 and "recommend" in page.text  # relationship asks the NPS question
    answer = local_stack.request("POST", path_of(url), json_body={"score": 10})
    assert answer.status == 201


def test_a_retried_mint_returns_the_same_link_and_a_different_request_a_new_one(local_stack):
    # Given a mailer that retries the same request (network blip), When it mints twice
    body = {"customer_id": "cust-retry", "touchpoint": "checkout"}
    first, retry = mint(local_stack, **body), mint(local_stack, **body)
    other = mint(local_stack, customer_id="cust-retry-2", touchpoint="packaging")
    # Then the retry gets the very same link (one survey), a different request a new one
    assert retry == first
    assert other["survey_id"] != first["survey_id"]


def test_a_second_survey_for_the_customer_within_14_days_is_held_back_over_http(local_stack):
    # Given a link sent to a customer
    mint(local_stack, customer_id="cust-held")
    # When another touchpoint asks for a survey of the same customer
    reply = local_stack.request("POST", "/v1/links", json_body={"customer_id": "cust-held", "touchpoint": "checkout"},
                                admin=True)
    # Then the answer is 200 {throttled, reason, next_allowed_at} with no token
    assert reply.status == 200
    assert set(reply.json()) == {"throttled", "reason", "next_allowed_at"} and reply.json()["throttled"] is True
    # And `touchpoint link --stack` says so in one line, no traceback
    done = subprocess.run([touchpoint_exe(), "link", "--customer", "cust-held", "--touchpoint", "returns",
                           "--stack", local_stack.base], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.startswith("held back: ") and done.stderr.count("\n") == 1
