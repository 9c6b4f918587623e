"""A survey link that cannot be answered shows a browser a page it can read, with the same status;
API clients (and anything not asking for HTML) keep getting the JSON error body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from touchpoint.surveys.tokens import KeyRing, SurveyClaims, mint_token

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FORM = {**BROWSER, "content-type": "application/x-www-form-urlencoded"}


def expired_link(aws: Any) -> str:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    claims = SurveyClaims("o" + "f" * 31, "cust-1", "shipping", "csat", "order-9", yesterday)
    return mint_token(KeyRing(aws.token_keys), claims)


def broken_link(client: Any) -> str:
    token = client.mint()["token"]
    return token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]


@pytest.mark.parametrize(("link", "status", "words"), [
    ("expired", 410, "This survey link has expired"),
    ("broken", 403, "This survey link does not work"),
])
def test_a_browser_opening_a_bad_link_gets_a_friendly_page(client, aws, link: str, status: int, words: str) -> None:
    # Given an expired or damaged link
    token = expired_link(aws) if link == "expired" else broken_link(client)
    # When a browser opens it, or posts the page's form
    for reply in (client.survey("GET", token, headers=BROWSER),
                  client.survey("POST", token, "score=5&comment=ok", headers=FORM)):
        # Then it gets a page in HTML with the error's status, the page's usual protections, and no write
        assert reply.status == status, reply.body
        assert reply.header("content-type").startswith("text/html")
        assert words in reply.body and reply.body.lower().startswith("<!doctype html>")
        assert "default-src 'none'" in reply.header("content-security-policy")
    assert aws.item_count() == 0


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "application/json, text/html;q=0.5"])
def test_an_api_client_gets_the_json_error(client, aws, accept: str | None) -> None:
    # Given an expired link, When a client that does not ask for HTML first opens it
    headers = {"accept": accept} if accept else {}
    reply = client.survey("GET", expired_link(aws), headers=headers)
    # Then it gets the JSON error body
    assert reply.status == 410
    assert reply.json()["error"]["code"] == "token_expired"


def test_other_routes_answer_json_even_to_a_browser(client) -> None:
    # Given an admin route refusing a bad request, When a browser sends it, Then the refusal stays JSON
    reply = client.request("POST", "/v1/links", {"customer_id": "c", "touchpoint": "teleport"}, headers=BROWSER)
    assert reply.status == 422 and reply.json()["error"]["code"] == "unknown_touchpoint"
