"""The contact policy through the real survey intake and ticket webhook handlers on moto: one survey
per customer per 14 days, held-back mints answer 200 without a token, concurrent mints give one link,
TicketSolved's CSAT link obeys it, and erasure removes the contact item."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from touchpoint.catalog import load_catalog
from touchpoint.surveys.intake import issue_link
from touchpoint.surveys.models import LinkCreated, LinkRequest, LinkThrottled
from touchpoint.surveys.store import ContactStore
from touchpoint.surveys.tokens import KeyRing

CATALOG = load_catalog("ecommerce")


def links(client: Any, **fields: Any) -> Any:
    return client.request("POST", "/v1/links", {"customer_id": "cust-p", "touchpoint": "shipping", **fields})


def test_a_second_survey_within_14_days_is_held_back_with_a_200_and_no_token(client: Any, aws: Any) -> None:
    # Given a shipping link sent to the customer
    assert links(client).status == 201
    # When a relationship survey is asked for the same customer
    reply = links(client, touchpoint="relationship")
    # Then it is held back: 200, throttled, a reason and when the next survey is allowed, and no token
    assert reply.status == 200
    body = reply.json()
    assert body["throttled"] is True and body["reason"] and "token" not in body
    allowed = datetime.fromisoformat(body["next_allowed_at"].replace("Z", "+00:00"))
    assert timedelta(days=14) - timedelta(minutes=5) < allowed - datetime.now(UTC) <= timedelta(days=14)
    # And the one contact item remembers one link and one held-back mint
    [contact] = aws.contact_items()
    assert (int(contact["mints"]), int(contact["held_back"])) == (1, 1)


def test_after_n_days_a_new_survey_is_allowed(aws: Any) -> None:
    ring, contacts = KeyRing(aws.token_keys), ContactStore(aws.dynamodb, aws.table_name)
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def issue(at: datetime, touchpoint: str) -> Any:
        return issue_link(LinkRequest(customer_id="cust-n", touchpoint=touchpoint), CATALOG, ring, contacts,
                          "https://x.example", at)

    assert isinstance(issue(start, "shipping"), LinkCreated)
    assert isinstance(issue(start + timedelta(days=13), "checkout"), LinkThrottled)
    assert isinstance(issue(start + timedelta(days=14), "checkout"), LinkCreated)


def test_concurrent_mints_for_one_customer_give_exactly_one_token(aws: Any) -> None:
    ring, contacts = KeyRing(aws.token_keys), ContactStore(aws.dynamodb, aws.table_name)
    now = datetime.now(UTC)
    results: list[Any] = []
    gate = threading.Barrier(6)

    def mint(touchpoint: str) -> None:
        gate.wait()
        results.append(issue_link(LinkRequest(customer_id="cust-c", touchpoint=touchpoint), CATALOG, ring, contacts,
                                  "https://x.example", now))

    # When six mints at six touchpoints race for one customer
    threads = [threading.Thread(target=mint, args=(t,)) for t in
               ("ads", "website", "checkout", "packaging", "shipping", "returns")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly one link went out, the others were held back
    assert sum(isinstance(r, LinkCreated) for r in results) == 1
    assert sum(isinstance(r, LinkThrottled) for r in results) == 5


def test_erasure_removes_the_contact_item(client: Any, aws: Any) -> None:
    # Given a customer sent a link
    assert links(client, customer_id="cust-e").status == 201
    assert len(aws.contact_items()) == 1
    # When the customer is erased
    reply = client.request("DELETE", "/v1/customers/cust-e", path_params={"customer_id": "cust-e"},
                           route_key="DELETE /v1/customers/{customer_id}")
    assert reply.status == 200
    # Then nothing of them is left, the contact item included
    assert aws.contact_items() == [] and "cust-e" not in json.dumps(aws.items(), default=str)
