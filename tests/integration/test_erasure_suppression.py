"""Erasure that holds: after DELETE /v1/customers/{id}, nothing of the customer comes back — not a
helpdesk's late retry, not a re-import, not an answer through an old link, not a new survey — and
the shop's other systems hear of it (CustomerErased). The suppression list names nobody."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from ticket_webhook_env import SECRETS, start_ticket_webhook
from touchpoint.tickets import sign
from touchpoint_local.testing import HandlerClient, Reply, load_handler, unload

PSEUDONYM_KEY = "test-pseudonym-key-0123456789abcdef"  # tests/conftest.py's

CUSTOMER = "Mia.Late+erase@Example.com"
OTHER = "stays@example.com"


class Intake(HandlerClient):
    def mint(self, customer_id: str, touchpoint: str = "shipping") -> Reply:
        return self.request("POST", "/v1/links", {"customer_id": customer_id, "touchpoint": touchpoint})

    def answer(self, token: str, score: int, comment: str | None = None) -> Reply:
        body = {"score": score, **({"comment": comment} if comment else {})}
        return self.request("POST", f"/s/{token}", body, path_params={"token": token}, route_key="POST /s/{token}")

    def import_one(self, customer_id: str, response_id: str) -> Reply:
        return self.request("POST", "/v1/responses", {"customer_id": customer_id, "touchpoint": "relationship",
                                                      "metric": "nps", "score": 2, "comment": "never again",
                                                      "response_id": response_id})

    def erase(self, customer_id: str) -> Reply:
        encoded = quote(customer_id, safe="")
        return self.request("DELETE", f"/v1/customers/{encoded}", path_params={"customer_id": encoded},
                            route_key="DELETE /v1/customers/{customer_id}")

    def release(self, customer_id: str) -> Reply:
        encoded = quote(customer_id, safe="")
        return self.request("DELETE", f"/v1/customers/{encoded}/suppression", path_params={"customer_id": encoded},
                            route_key="DELETE /v1/customers/{customer_id}/suppression")


@pytest.fixture
def handlers(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Intake, Any, Any]]:
    """Both entry points in one account, publishing to one tapped bus: (intake, webhook handler, tap)."""
    webhook_module, tap = start_ticket_webhook(aws, monkeypatch, SECRETS)
    intake_module = load_handler("survey_intake")
    yield Intake(intake_module), HandlerClient(webhook_module), tap
    unload(intake_module)
    unload(webhook_module)


def deliver(webhooks: HandlerClient, raw: bytes, at: datetime | None = None) -> Reply:
    headers = {"content-type": "application/json", **sign("generic", raw, SECRETS["generic"], at or datetime.now(UTC))}
    return webhooks.request("POST", "/webhooks/generic", raw, headers=headers, path_params={"provider": "generic"},
                            route_key="POST /webhooks/generic")


def ticket_events(customer_id: str, ticket_id: str) -> bytes:
    opened = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    solved = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps([
        {"event_id": f"{ticket_id}-1", "ticket_id": ticket_id, "customer_id": customer_id, "channel": "email",
         "event": "created", "occurred_at": opened},
        {"event_id": f"{ticket_id}-2", "ticket_id": ticket_id, "customer_id": customer_id, "channel": "email",
         "event": "solved", "occurred_at": solved, "handle_seconds": 300},
    ]).encode("utf-8")


def mentions(item: dict[str, Any], customer_id: str) -> bool:
    text = json.dumps(item, default=str, ensure_ascii=False)
    unsalted = hashlib.sha256(customer_id.encode("utf-8")).hexdigest()[:32]
    return customer_id in text or unsalted in text


def test_after_an_erasure_nothing_of_the_customer_comes_back(handlers, aws) -> None:
    intake, webhooks, tap = handlers
    # Given a customer with a link (answered with a comment), an imported detractor answer and a solved
    # ticket, and another customer beside them
    link = intake.mint(CUSTOMER).json()
    assert intake.answer(link["token"], 2, "late and broken").status == 201
    assert intake.import_one(CUSTOMER, "crm-7").status == 201
    first_delivery = ticket_events(CUSTOMER, "T-77")
    assert deliver(webhooks, first_delivery).status == 202
    assert intake.import_one(OTHER, "crm-8").status == 201
    solved_before = len(tap.published("TicketSolved"))

    # When the customer is erased
    erased = intake.erase(CUSTOMER)
    assert erased.status == 200 and erased.json()["status"] == "erased" and erased.json()["suppressed"] is True

    # Then the shop's other systems hear of it
    [event] = tap.published("CustomerErased")
    assert event["detail"] == {"customer_id": CUSTOMER, "erased_at": erased.json()["erased_at"],
                               "records": erased.json()["deleted_records"]}

    # When everything late arrives: the helpdesk retries its old delivery and sends a new event, the CRM
    # re-imports, the customer answers the old link again, and a mailer asks for a new survey
    retry = deliver(webhooks, first_delivery)
    later = deliver(webhooks, ticket_events(CUSTOMER, "T-78"))
    reimport = intake.import_one(CUSTOMER, "crm-7")
    old_link = intake.answer(link["token"], 1, "still here?")
    new_survey = intake.mint(CUSTOMER, "relationship")

    # Then the helpdesk gets a 2xx it will not retry, saying the events were dropped
    for reply in (retry, later):
        assert reply.status == 200, reply.body
        assert reply.json()["applied"] == 0 and reply.json()["suppressed"] == 2
    # And the import says suppressed, the old link is closed, and no survey is minted
    assert reimport.status == 200 and reimport.json()["results"][0]["status"] == "suppressed"
    assert old_link.status == 410 and old_link.json()["error"]["code"] == "survey_closed"
    assert new_survey.status == 409 and new_survey.json()["error"]["code"] == "customer_erased"
    # And nothing of theirs is in the table, under their id or its old unsalted hash, and no new
    # TicketSolved (with a CSAT link for them) was published
    assert [item for item in aws.items() if mentions(item, CUSTOMER)] == []
    assert len(tap.published("TicketSolved")) == solved_before
    # And the other customer is untouched
    assert any(item.get("customer_id") == OTHER for item in aws.items())


def test_the_suppression_list_names_nobody(handlers, aws) -> None:
    intake, _webhooks, _tap = handlers
    intake.erase(CUSTOMER)
    [item] = [item for item in aws.items() if item.get("type") == "suppression"]
    # A keyed hash: only a holder of the pseudonym key can tell whose entry it is
    expected = hmac.new(PSEUDONYM_KEY.encode(), CUSTOMER.encode(), hashlib.sha256).hexdigest()[:40]
    assert item["pk"] == f"SUPPRESSED#{expected}"
    assert not mentions(item, CUSTOMER)
    assert set(item) == {"pk", "sk", "type", "erased_at", "erased_records"}


def test_a_customer_who_comes_back_can_be_released(handlers) -> None:
    intake, _webhooks, _tap = handlers
    intake.import_one(CUSTOMER, "crm-9")
    intake.erase(CUSTOMER)
    assert intake.mint(CUSTOMER).status == 409
    # When the customer signs up again of their own will and the shop lifts the suppression
    released = intake.release(CUSTOMER)
    assert released.status == 200 and released.json() == {"customer_id": CUSTOMER, "status": "released"}
    # Then they can be surveyed again; releasing twice says so
    assert intake.mint(CUSTOMER).status == 201
    assert intake.release(CUSTOMER).json()["status"] == "not_suppressed"


def test_an_unanswered_link_is_closed_by_a_tombstone_and_stays_closed_after_a_release(handlers, aws) -> None:
    intake, _webhooks, _tap = handlers
    # Given a link sent through the API and not answered yet
    pending = intake.mint(CUSTOMER, "shipping").json()
    # When the customer is erased
    erased = intake.erase(CUSTOMER).json()
    # Then its survey id holds a tombstone that names nobody and expires with the link
    [closed] = [item for item in aws.items() if item.get("type") == "closed"]
    assert closed["pk"] == f"RESP#{pending['survey_id']}"
    assert set(closed) == {"pk", "sk", "type", "expires_at"} and not mentions(closed, CUSTOMER)
    expires = datetime.fromisoformat(pending["expires_at"].replace("Z", "+00:00"))
    assert int(closed["expires_at"]) == int(expires.timestamp())
    assert erased["deleted_records"] == 1  # the contact item
    # When the customer comes back of their own will and is released
    assert intake.release(CUSTOMER).status == 200
    # Then a new survey can be sent, but the link sent before the erasure stays closed, page and answer
    assert intake.mint(CUSTOMER, "checkout").status == 201
    reply = intake.answer(pending["token"], 5)
    assert reply.status == 410 and reply.json()["error"]["code"] == "survey_closed"
    assert intake.request("GET", f"/s/{pending['token']}", path_params={"token": pending["token"]},
                          route_key="GET /s/{token}").status == 410
