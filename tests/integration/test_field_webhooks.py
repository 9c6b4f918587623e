"""The field lifecycles of tests/fixtures/field through the real ticket webhook handler (loaded like a
cold start) on moto: every delivery signed the way its helpdesk signs it, then the normalized ticket
read back through GET /v1/tickets/{provider}/{ticket_id}. Freshdesk is here rather than in the unit
tests because its identity depends on what is stored: no delivery id, no time, and a second "Resolved"
byte-identical to the first."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from ticket_webhook_env import SECRETS, start_ticket_webhook
from touchpoint_local.testing import (
    FIELD_T3,
    FIELD_T5,
    FIELD_TICKETS,
    EventTap,
    FieldDelivery,
    HandlerClient,
    Reply,
    chatwoot_in_account,
    expected_field_view,
    field_delivery,
    field_lifecycle,
    field_view,
    sign_as_helpdesk,
    unload,
)

URL_TOKEN = "it-chatwoot-url-token-5f0c2a9e71d84b36"  # at least 24 characters

AwsAccount = Any  # tests/conftest.py's account (fixture ``aws``)
Windows = dict[str, tuple[datetime, datetime]]

LIFECYCLES = ("zendesk", "intercom", "helpscout", "chatwoot", "freshdesk-advanced", "freshdesk-simple")
SELF_IDENTIFYING = ("zendesk", "intercom", "helpscout", "chatwoot")
FRESHDESK = ("freshdesk-advanced", "freshdesk-simple")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def provider_of(label: str) -> str:
    return label.split("-")[0]


def solve_names(label: str) -> tuple[str, str]:
    """The Freshdesk deliveries of the first and the second solve."""
    return {"freshdesk-advanced": ("advanced/04-solved", "advanced/06-solved"),
            "freshdesk-simple": ("simple/04-status-resolved", "simple/06-status-resolved-again")}[label]


class FieldClient(HandlerClient):
    """The ticket webhook handler, fed deliveries as API Gateway passes them on."""

    def __init__(self, module: ModuleType, tap: EventTap, secrets: dict[str, str]) -> None:
        super().__init__(module)
        self.tap, self.secrets = tap, secrets

    def post(self, delivery: FieldDelivery, auth: dict[str, str], query: dict[str, str] | None = None) -> Reply:
        return self.request("POST", f"/webhooks/{delivery.provider}", delivery.raw,
                            headers={**delivery.headers, **auth}, query=query,
                            path_params={"provider": delivery.provider}, route_key="POST /webhooks/{provider}")

    def deliver(self, delivery: FieldDelivery) -> Reply:
        """The delivery as the helpdesk sends it: its headers and its signature made now."""
        auth = sign_as_helpdesk(delivery.provider, delivery.raw, self.secrets[delivery.provider], datetime.now(UTC))
        return self.post(delivery, auth)

    def replay(self, deliveries: list[FieldDelivery]) -> Windows:
        """Deliver each in turn; every one is accepted. Answers when each arrived: {name: (before, after)}."""
        windows: Windows = {}
        for delivery in deliveries:
            before = datetime.now(UTC)
            reply = self.deliver(delivery)
            windows[delivery.name] = (before, datetime.now(UTC))
            assert reply.status in (200, 202), (delivery.name, reply.status, reply.body)
        return windows

    def ticket(self, provider: str, ticket_id: str) -> Reply:
        return self.request("GET", f"/v1/tickets/{provider}/{ticket_id}",
                            path_params={"provider": provider, "ticket_id": ticket_id},
                            route_key="GET /v1/tickets/{provider}/{ticket_id}")

    def view(self, provider: str, ticket_id: str) -> dict[str, Any]:
        reply = self.ticket(provider, ticket_id)
        assert reply.status == 200, reply.body
        return reply.json()

    def solves_announced(self, provider: str, ticket_id: str) -> list[dict[str, Any]]:
        return [event["detail"] for event in self.tap.published("TicketSolved")
                if (event["detail"]["provider"], event["detail"]["ticket_id"]) == (provider, ticket_id)]


@pytest.fixture
def start(aws: AwsAccount, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, str]], FieldClient]]:
    """Starts the handler inside the moto account with the given webhook secrets and a tapped event bus."""
    modules: list[ModuleType] = []

    def start_with(secrets: dict[str, str]) -> FieldClient:
        module, tap = start_ticket_webhook(aws, monkeypatch, secrets)
        modules.append(module)
        return FieldClient(module, tap, secrets)

    yield start_with
    for module in modules:
        unload(module)


@pytest.fixture
def client(start: Callable[[dict[str, str]], FieldClient]) -> FieldClient:
    return start(SECRETS)


def snapshot(aws: AwsAccount) -> list[dict[str, Any]]:
    return sorted(aws.items(), key=lambda item: (item["pk"], item["sk"]))


def expected_view(label: str, windows: Windows | None = None, **changes: Any) -> dict[str, Any]:
    """The lifecycle's ticket; Freshdesk's times are the receipts of its deliveries (no time placeholder)."""
    ticket = FIELD_TICKETS[provider_of(label)]
    if label not in FRESHDESK:
        return expected_field_view(ticket, **changes)
    names = list(windows or {})
    return expected_field_view(ticket, created_at=names[0], first_agent_reply_at=names[1],
                               solved_at=solve_names(label)[1], **changes)


# Whole lifecycles in delivery order -------------------------------------------------------------------
@pytest.mark.parametrize("label", LIFECYCLES)
def test_a_lifecycle_in_delivery_order_is_one_ticket_reopened_once(client: FieldClient, label: str) -> None:
    # Given the helpdesk's deliveries of one ticket's lifecycle, signed as the helpdesk signs them
    deliveries = field_lifecycle(label)
    ticket = FIELD_TICKETS[provider_of(label)]

    # When they arrive in dispatch order
    windows = client.replay(deliveries)

    # Then the ticket reads solved at the second solve, reopened once, not a first-contact resolution,
    # created and first answered when the files say (Freshdesk: when those deliveries arrived), with the
    # customer, channel and agent replies of the files
    view = client.view(ticket.provider, ticket.ticket_id)
    assert field_view(view, windows if label in FRESHDESK else None) == expected_view(label, windows)


@pytest.mark.parametrize("label", LIFECYCLES)
def test_each_solve_of_the_lifecycle_announces_one_support_survey(client: FieldClient, label: str) -> None:
    # Given a lifecycle with two solves
    ticket = FIELD_TICKETS[provider_of(label)]

    # When it arrives in dispatch order
    windows = client.replay(field_lifecycle(label))

    # Then TicketSolved (with its support CSAT link) went out once per solve, dated by that solve
    solves = [field_view(detail, windows if label in FRESHDESK else None)["solved_at"]
              for detail in client.solves_announced(ticket.provider, ticket.ticket_id)]
    expected = list(solve_names(label)) if label in FRESHDESK else [iso(FIELD_T3), iso(FIELD_T5)]
    assert sorted(solves) == expected


# Any order ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("label", SELF_IDENTIFYING)
def test_a_shuffled_lifecycle_gives_the_same_ticket(client: FieldClient, label: str, seed: int) -> None:
    # Given the lifecycle's deliveries in a shuffled order (no helpdesk guarantees the order)
    deliveries = field_lifecycle(label)
    random.Random(seed).shuffle(deliveries)
    ticket = FIELD_TICKETS[label]

    # When they arrive in that order
    client.replay(deliveries)

    # Then the ticket is the one of the dispatch order
    assert field_view(client.view(ticket.provider, ticket.ticket_id)) == expected_view(label), [
        d.name for d in deliveries]


# Retries --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("label", SELF_IDENTIFYING)
def test_redelivering_every_applied_delivery_changes_nothing(client: FieldClient, aws: AwsAccount,
                                                             label: str) -> None:
    # Given the whole lifecycle applied
    deliveries = field_lifecycle(label)
    ticket = FIELD_TICKETS[label]
    client.replay(deliveries)
    before, items = client.view(ticket.provider, ticket.ticket_id), snapshot(aws)

    # When the helpdesk sends each delivery again, unchanged (same Zendesk event id, Intercom notification
    # id, Help Scout body, Chatwoot message), signed afresh as a retry is
    for delivery in deliveries:
        reply = client.deliver(delivery)
        # Then each is a 200 that applies nothing
        assert reply.status == 200, (delivery.name, reply.body)
        assert reply.json()["applied"] == 0, (delivery.name, reply.body)

    # And the ticket and the table are exactly as they were
    assert client.view(ticket.provider, ticket.ticket_id) == before
    assert snapshot(aws) == items
    assert field_view(before) == expected_view(label)


@pytest.mark.parametrize("label", FRESHDESK)
def test_a_freshdesk_retry_right_after_its_delivery_is_a_duplicate(client: FieldClient, aws: AwsAccount,
                                                                   label: str) -> None:
    ticket = FIELD_TICKETS["freshdesk"]
    windows: Windows = {}
    # Given the Freshdesk lifecycle, each delivery followed at once by its retry (the same body with
    # nothing of the ticket in between: Freshdesk retries at +5, +30 and +60 min)
    for delivery in field_lifecycle(label):
        started = datetime.now(UTC)
        first = client.deliver(delivery)
        windows[delivery.name] = (started, datetime.now(UTC))
        assert first.status == 202 and first.json()["applied"] == 1, (delivery.name, first.body)
        items = snapshot(aws)

        # When the retry arrives
        retry = client.deliver(delivery)

        # Then it is a duplicate that applies nothing and writes nothing
        assert retry.status == 200, (delivery.name, retry.body)
        assert (retry.json()["applied"], retry.json()["duplicates"]) == (0, 1), (delivery.name, retry.body)
        assert snapshot(aws) == items, delivery.name

    # And the ticket is the lifecycle's, dated by the first arrivals, not by the retries
    assert field_view(client.view(ticket.provider, ticket.ticket_id), windows) == expected_view(label, windows)


@pytest.mark.parametrize("label", FRESHDESK)
def test_freshdesk_solves_with_the_same_body_around_a_reopen_are_two_solves(client: FieldClient,
                                                                          label: str) -> None:
    ticket = FIELD_TICKETS["freshdesk"]
    first_solve, second_solve = (field_delivery("freshdesk", name) for name in solve_names(label))
    if label == "freshdesk-advanced":
        # (the README: nothing in the body tells the second solve from a retry of the first)
        assert first_solve.raw == second_solve.raw
    # Given the lifecycle up to the reopen
    deliveries = field_lifecycle(label)
    windows = client.replay(deliveries[:-1])

    # When the second "Resolved" arrives
    started = datetime.now(UTC)
    reply = client.deliver(second_solve)
    windows[second_solve.name] = (started, datetime.now(UTC))

    # Then it is a new event, not a retry
    assert reply.status == 202, reply.body
    assert (reply.json()["applied"], reply.json()["duplicates"]) == (1, 0), reply.body
    # And the ticket is solved again when it arrived, with one reopen
    view = field_view(client.view(ticket.provider, ticket.ticket_id), windows)
    assert (view["status"], view["solved_at"], view["reopens"], view["fcr"]) == (
        "solved", second_solve.name, 1, False)
    # And each solve announced its own support survey
    solves = [field_view(detail, windows)["solved_at"] for detail in
              client.solves_announced(ticket.provider, ticket.ticket_id)]
    assert sorted(solves) == [first_solve.name, second_solve.name]


# Chatwoot: accounts and unsigned installs ------------------------------------------------------------------
def test_the_same_chatwoot_conversation_in_two_accounts_is_two_tickets(client: FieldClient) -> None:
    # Given conversation 87 of account 3 and conversation 87 of account 4 of one install (same webhook)
    account_3 = field_lifecycle("chatwoot")
    account_4 = [chatwoot_in_account(delivery, 4) for delivery in account_3]

    # When both lifecycles arrive, interleaved
    client.replay([delivery for pair in zip(account_3, account_4, strict=True) for delivery in pair])

    # Then each account's conversation is its own ticket, found under "<account>:<conversation>"
    assert field_view(client.view("chatwoot", "3:87")) == expected_view("chatwoot")
    assert field_view(client.view("chatwoot", "4:87")) == expected_view("chatwoot", ticket_id="4:87")


def as_old_install(delivery: FieldDelivery) -> FieldDelivery:
    """The delivery as Chatwoot before 4.11.2 sends it: no signature, no timestamp, no delivery id."""
    headers = {k: v for k, v in delivery.headers.items() if k.lower() != "x-chatwoot-delivery"}
    return FieldDelivery(delivery.provider, delivery.name, delivery.raw, headers)


def assert_refused(reply: Reply) -> None:
    assert reply.status == 401, reply.body
    assert set(reply.json()) == {"error"}, reply.body


@pytest.mark.parametrize("query", [None, {"token": URL_TOKEN}], ids=["no token", "a token"])
def test_unsigned_chatwoot_is_refused_while_no_url_token_is_configured(client: FieldClient, aws: AwsAccount,
                                                                      query: dict[str, str] | None) -> None:
    # Given webhook secrets without a chatwoot_url_token (the default)
    delivery = as_old_install(field_delivery("chatwoot", "01-conversation_created"))
    before = aws.item_count()

    # When an unsigned Chatwoot delivery arrives, with or without a token in the URL
    reply = client.post(delivery, {}, query)

    # Then it is refused and nothing is written
    assert_refused(reply)
    assert aws.item_count() == before
    assert client.ticket("chatwoot", "3:87").status == 404


def test_an_unsigned_chatwoot_install_is_accepted_with_its_url_token(start: Callable[[dict[str, str]], FieldClient],
                                                                     ) -> None:
    # Given a chatwoot_url_token among the webhook secrets
    client = start({**SECRETS, "chatwoot_url_token": URL_TOKEN})

    # When an install that cannot sign posts the whole lifecycle to /webhooks/chatwoot?token=<token>
    for delivery in map(as_old_install, field_lifecycle("chatwoot")):
        reply = client.post(delivery, {}, {"token": URL_TOKEN})
        assert reply.status in (200, 202), (delivery.name, reply.body)

    # Then the ticket is the lifecycle's
    assert field_view(client.view("chatwoot", "3:87")) == expected_view("chatwoot")


@pytest.mark.parametrize("query", [None, {"token": "it-chatwoot-url-token-guessed-000000"}, {"token": URL_TOKEN[:-1]},
                                   {"token": ""}], ids=["missing", "wrong", "a prefix", "empty"])
def test_an_unsigned_chatwoot_delivery_without_the_right_token_is_refused(
        start: Callable[[dict[str, str]], FieldClient], aws: AwsAccount, query: dict[str, str] | None) -> None:
    # Given a chatwoot_url_token among the webhook secrets
    client = start({**SECRETS, "chatwoot_url_token": URL_TOKEN})
    before = aws.item_count()

    # When an unsigned delivery comes with a missing or wrong token
    reply = client.post(as_old_install(field_delivery("chatwoot", "01-conversation_created")), {}, query)

    # Then it is refused and nothing is written
    assert_refused(reply)
    assert aws.item_count() == before
    assert client.ticket("chatwoot", "3:87").status == 404


def test_a_signed_chatwoot_delivery_is_still_verified_when_a_url_token_is_configured(
        start: Callable[[dict[str, str]], FieldClient], aws: AwsAccount) -> None:
    # Given a chatwoot_url_token among the webhook secrets
    client = start({**SECRETS, "chatwoot_url_token": URL_TOKEN})
    delivery = field_delivery("chatwoot", "01-conversation_created")
    before = aws.item_count()

    # When a delivery signed with the wrong secret arrives, even with the right token in the URL
    forged = sign_as_helpdesk("chatwoot", delivery.raw, "an-attacker-guess-0123456789", datetime.now(UTC))
    reply = client.post(delivery, forged, {"token": URL_TOKEN})

    # Then the signature decides: it is refused and nothing is written
    assert_refused(reply)
    assert aws.item_count() == before

    # And a genuinely signed delivery without any token is accepted
    genuine = client.deliver(delivery)
    assert genuine.status == 202, genuine.body
    assert client.ticket("chatwoot", "3:87").status == 200


# An age limit for helpdesks that sign no timestamp ----------------------------------------------------
@pytest.mark.parametrize("provider", ["intercom", "helpscout"])
def test_with_an_age_limit_a_captured_old_delivery_replayed_today_writes_nothing(
        provider: str, start: Callable[[dict[str, str]], FieldClient], aws: AwsAccount,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a shop that set WebhookMaxEventAgeDays to 7, and a genuine delivery captured in March
    monkeypatch.setenv("WEBHOOK_MAX_EVENT_AGE_DAYS", "7")
    client = start(SECRETS)
    delivery = field_lifecycle(provider)[0]
    # When it is replayed today, correctly signed (the signature covers no time)
    reply = client.deliver(delivery)
    # Then it is acknowledged but dropped as stale: nothing written, nothing published
    assert reply.status == 200, reply.body
    assert reply.json()["applied"] == 0 and reply.json()["stale"] >= 1
    assert [item for item in aws.items() if item.get("type") == "ticket"] == []


def test_without_an_age_limit_old_deliveries_are_applied(client: FieldClient) -> None:
    # The default (0): a backfill or the field lifecycles' March payloads are taken as they come
    reply = client.deliver(field_lifecycle("intercom")[0])
    assert reply.status == 202 and reply.json()["stale"] == 0
