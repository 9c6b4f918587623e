"""Intake's reads stay flat for a heavy customer (a B2B account, a shared support mailbox): linking
an NPS answer to the customer's latest solved ticket reads one index entry, whatever their history,
on moto and on DynamoDB Local. A table written by an earlier version is re-keyed by the repair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from touchpoint.catalog import load_catalog
from touchpoint.rollups.rebuild import rebuild
from touchpoint.surveys.intake import link_service_outcome, response_record
from touchpoint.surveys.store import ResponseStore
from touchpoint.tickets import TicketEvent, fold
from touchpoint.tickets.store import TicketStore

CATALOG = load_catalog("ecommerce")
ANSWERED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class QueryMeter:
    """Items DynamoDB read (ScannedCount) for each Query the client sends."""

    def __init__(self, client: Any) -> None:
        self.scanned: list[int] = []
        client.meta.events.register("after-call.dynamodb.Query", self._count)

    def _count(self, parsed: dict[str, Any], **_: Any) -> None:
        self.scanned.append(int(parsed.get("ScannedCount", 0)))


def _ticket(store: TicketStore, customer: str, ticket: str, created: datetime, solved: datetime | None,
            reopened: datetime | None = None, fcr_replies: int = 1) -> None:
    events = [TicketEvent(event_id=f"{ticket}-c", provider="zendesk", ticket_id=ticket, customer_id=customer,
                          channel="email", event="created", occurred_at=created)]
    for n in range(fcr_replies):
        events.append(TicketEvent(event_id=f"{ticket}-r{n}", provider="zendesk", ticket_id=ticket,
                                  customer_id=customer, channel="email", event="agent_replied",
                                  occurred_at=created + timedelta(minutes=5 + n)))
    if solved:
        events.append(TicketEvent(event_id=f"{ticket}-s", provider="zendesk", ticket_id=ticket, customer_id=customer,
                                  channel="email", event="solved", occurred_at=solved))
    if reopened:
        events.append(TicketEvent(event_id=f"{ticket}-o", provider="zendesk", ticket_id=ticket, customer_id=customer,
                                  channel="email", event="reopened", occurred_at=reopened))
    for event in events:
        store.add_event(event)
    stored = store.events("zendesk", ticket)
    store.save_state(fold(stored, default_touchpoint="support"), len(stored))


def _nps(customer: str) -> dict[str, Any]:
    return response_record(survey_id=f"s-{customer}", customer_id=customer, touchpoint=CATALOG.get("relationship"),
                           metric="nps", score=7, comment=None, submitted_at=ANSWERED, order_id=None, source="link")


def test_an_nps_answer_of_a_customer_with_200_tickets_reads_one_index_entry(aws):
    tickets = TicketStore(aws.dynamodb, aws.table_name)
    # Given a shared support mailbox with 200 tickets over a year: solved ones, open ones, one solved
    # after the answer, one reopened after its solve, and the latest solve before the answer (T-150,
    # two replies: not first-contact)
    heavy = "support@acme.example"
    for n in range(200):
        created = ANSWERED - timedelta(days=365) + timedelta(days=n * 1.8)
        solved = created + timedelta(hours=4) if n % 3 else None
        _ticket(tickets, heavy, f"T-{n}", created, solved)
    _ticket(tickets, heavy, "T-150b", ANSWERED - timedelta(days=3), ANSWERED - timedelta(days=2), fcr_replies=2)
    _ticket(tickets, heavy, "T-reopened", ANSWERED - timedelta(days=2), ANSWERED - timedelta(days=1),
            reopened=ANSWERED - timedelta(hours=20))
    _ticket(tickets, heavy, "T-after", ANSWERED - timedelta(hours=2), ANSWERED + timedelta(hours=1))
    # And a newcomer with one solved ticket
    _ticket(tickets, "new@example.com", "T-new", ANSWERED - timedelta(days=1), ANSWERED - timedelta(hours=20))
    meter = QueryMeter(aws.dynamodb)
    store = ResponseStore(aws.dynamodb, aws.table_name)
    # When each answers an NPS survey
    linked_heavy = link_service_outcome(_nps(heavy), store)
    linked_new = link_service_outcome(_nps("new@example.com"), store)
    # Then each is linked to their latest solve before the answer (not the reopened one, not the later one)
    assert (linked_heavy["s2e_ticket"], linked_heavy["s2e_fcr"]) == ("zendesk#T-150b", False)
    assert (linked_new["s2e_ticket"], linked_new["s2e_fcr"]) == ("zendesk#T-new", True)
    # And each link read one index entry, 200 tickets of history or one
    assert meter.scanned == [1, 1]


def test_no_solve_in_the_30_days_before_the_answer_links_nothing(aws):
    tickets = TicketStore(aws.dynamodb, aws.table_name)
    _ticket(tickets, "old@example.com", "T-old", ANSWERED - timedelta(days=40), ANSWERED - timedelta(days=31))
    linked = link_service_outcome(_nps("old@example.com"), ResponseStore(aws.dynamodb, aws.table_name))
    assert "s2e_ticket" not in linked


def test_the_repair_gives_tickets_of_an_earlier_version_their_solve_time_index_key(aws):
    tickets = TicketStore(aws.dynamodb, aws.table_name)
    # Given a solved ticket whose state an earlier version indexed as TICKET#<provider>#<ticket>
    _ticket(tickets, "ann@example.com", "T-1", ANSWERED - timedelta(days=2), ANSWERED - timedelta(days=1))
    aws.dynamodb.update_item(TableName=aws.table_name, Key={"pk": {"S": "TICKET#zendesk#T-1"}, "sk": {"S": "STATE"}},
                             UpdateExpression="SET gsi1sk = :old",
                             ExpressionAttributeValues={":old": {"S": "TICKET#zendesk#T-1"}})
    store = ResponseStore(aws.dynamodb, aws.table_name)
    assert "s2e_ticket" not in link_service_outcome(_nps("ann@example.com"), store)
    # When the table is repaired
    report = rebuild(aws.rollup_store(), repair=True)
    # Then the ticket is found again
    assert report.repaired_items >= 1
    assert link_service_outcome(_nps("ann@example.com"), store)["s2e_ticket"] == "zendesk#T-1"
