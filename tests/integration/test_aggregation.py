"""The aggregator on moto: real stream records from the table, delivered to the real handler the way
Lambda delivers them — twice, split, interrupted — and the rollups checked against a recount."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from touchpoint.catalog import load_catalog
from touchpoint.platform.pseudonyms import Pseudonyms
from touchpoint.rollups import plan
from touchpoint.rollups.changes import sequence_key
from touchpoint.rollups.rebuild import expected_rollups, rebuild
from touchpoint.rollups.store import RollupStore
from touchpoint.surveys.intake import response_record
from touchpoint.surveys.store import ResponseStore
from touchpoint.tickets import TicketEvent, fold
from touchpoint.tickets.store import TicketStore
from touchpoint_local.testing import EventTap, FakeLambdaContext, StreamReader, load_handler, unload

CATALOG = load_catalog("ecommerce")
BUS = "touchpoint-test-bus"


@pytest.fixture
def pipeline(aws, monkeypatch):
    """The aggregator handler loaded like Lambda loads it, an event bus with a tap queue, and helpers
    to write raw records and deliver the table's stream."""
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    tap = EventTap(BUS, "tap")
    module = load_handler("aggregator")
    yield Pipeline(aws, module, tap)
    unload(module)


class Pipeline:
    def __init__(self, aws, module, tap: EventTap) -> None:
        self.aws, self.module, self.tap = aws, module, tap
        self.responses = ResponseStore(aws.dynamodb, aws.table_name)
        self.tickets = TicketStore(aws.dynamodb, aws.table_name)
        self.stream = StreamReader(aws.dynamodb, aws.table_name)

    # writing raw records through the real stores
    def answer(self, survey_id: str, customer: str, touchpoint: str, metric: str, score: int, when: datetime,
               comment: str | None = None) -> None:
        tp = CATALOG.get(touchpoint)
        self.responses.upsert(response_record(
            survey_id=survey_id, customer_id=customer, touchpoint=tp, metric=metric, score=score, comment=comment,
            submitted_at=when, order_id=None, source="link"))

    def ticket_event(self, ticket: str, customer: str, event_id: str, kind: str, when: datetime,
                     channel: str = "email", handle: int | None = None) -> None:
        event = TicketEvent(event_id=event_id, provider="generic", ticket_id=ticket, customer_id=customer,
                            channel=channel, event=kind, occurred_at=when, handle_seconds=handle)
        if self.tickets.add_event(event):
            events = self.tickets.events("generic", ticket)
            self.tickets.save_state(fold(events, default_touchpoint="support"), len(events))

    def delete(self, pk: str, sk: str) -> None:
        self.aws.dynamodb.delete_item(TableName=self.aws.table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}})

    # the stream
    def new_records(self) -> list[dict[str, Any]]:
        """The stream records written since the last call, as Lambda would receive them."""
        return self.stream.new_records()

    def deliver(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return self.module.lambda_handler({"Records": records}, FakeLambdaContext("aggregator"))

    def drain(self) -> None:
        """Deliver everything new (the aggregator's alert items make more records) until quiet."""
        for _ in range(10):
            records = self.new_records()
            if not records:
                return
            for start in range(0, len(records), 100):
                assert self.deliver(records[start:start + 100]) == {"batchItemFailures": []}

    def drift(self) -> list[Any]:
        return rebuild(RollupStore(self.aws.dynamodb, self.aws.table_name)).drift

    def rollups(self) -> dict[tuple[str, str], dict[str, int]]:
        out = {}
        for item in RollupStore(self.aws.dynamodb, self.aws.table_name).all_items():
            if str(item["pk"]).startswith("ROLLUP#"):
                counters = {k: int(v) for k, v in item.items() if k not in ("pk", "sk", "type") and int(v)}
                if counters:
                    out[(item["pk"], item["sk"])] = counters
        return out

    def published(self) -> list[dict[str, Any]]:
        return self.tap.published()


T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # Monday of 2026-W47


def test_a_batch_delivered_twice_counts_once(pipeline):
    # Given three answers and a solved ticket
    pipeline.answer("s1", "ann", "relationship", "nps", 9, T0)
    pipeline.answer("s2", "bob", "relationship", "nps", 3, T0 + timedelta(hours=1), comment="late again")
    pipeline.answer("s3", "ann", "shipping", "csat", 5, T0 + timedelta(days=1))
    pipeline.ticket_event("T1", "bob", "e1", "created", T0)
    pipeline.ticket_event("T1", "bob", "e2", "agent_replied", T0 + timedelta(minutes=30), handle=120)
    pipeline.ticket_event("T1", "bob", "e3", "solved", T0 + timedelta(hours=2))
    batch = pipeline.new_records()
    # When Lambda delivers the same batch twice
    assert pipeline.deliver(batch) == {"batchItemFailures": []}
    assert pipeline.deliver(batch) == {"batchItemFailures": []}
    # Then every counter is counted once
    rollups = pipeline.rollups()
    assert rollups[("ROLLUP#D#2026-11-16", "TP#relationship")] == {"nps_9": 1, "nps_3": 1}
    assert rollups[("ROLLUP#D#2026-11-17", "TP#shipping")] == {"csat_5": 1}
    channel = rollups[("ROLLUP#D#2026-11-16", "CH#email")]
    assert (channel["solved"], channel["fcr"], channel["aht_sum"], channel["frt_sum"], channel["res_sum"]) == \
        (1, 1, 120, 1800, 7200)
    assert rollups[("ROLLUP#P#2026-W47", "CUSTOMERS")] == {"active": 2}
    assert pipeline.drift() == []


def test_a_resubmitted_score_moves_between_buckets_and_a_reopen_moves_the_solve(pipeline):
    # Given an answer and a ticket solved on the first day
    pipeline.answer("s1", "ann", "relationship", "nps", 4, T0)
    pipeline.ticket_event("T9", "ann", "e1", "created", T0)
    pipeline.ticket_event("T9", "ann", "e2", "agent_replied", T0 + timedelta(minutes=5))
    pipeline.ticket_event("T9", "ann", "e3", "solved", T0 + timedelta(hours=1))
    pipeline.drain()
    # When the customer changes the score and the ticket is reopened and solved two days later
    pipeline.answer("s1", "ann", "relationship", "nps", 10, T0 + timedelta(minutes=10))
    pipeline.ticket_event("T9", "ann", "e4", "reopened", T0 + timedelta(days=1))
    pipeline.ticket_event("T9", "ann", "e5", "solved", T0 + timedelta(days=2))
    pipeline.drain()
    # Then the score sits only in its new bucket, and the ticket only on its new solve day, without FCR
    rollups = pipeline.rollups()
    assert rollups[("ROLLUP#D#2026-11-16", "TP#relationship")] == {"nps_10": 1}
    assert ("ROLLUP#D#2026-11-16", "CH#email") not in rollups
    moved = rollups[("ROLLUP#D#2026-11-18", "CH#email")]
    assert moved["solved"] == 1 and moved["reopened"] == 1 and "fcr" not in moved
    assert pipeline.drift() == []


def _sixty_answers_in_small_transactions(pipeline, monkeypatch) -> list[dict[str, Any]]:
    # The planner groups answers by the rollup item they change, so the few checkout answers (the first,
    # and a later one) are planned before the relationship ones: chunks are not in stream order.
    for i in range(60):
        touchpoint = "checkout" if i in CHECKOUT_ANSWERS else "relationship"
        pipeline.answer(f"s{i}", f"c{i}", touchpoint, "nps", i % 11, T0 + timedelta(minutes=i))
    monkeypatch.setattr(plan, "MAX_TRANSACTION_ACTIONS", 10)
    return pipeline.new_records()


CHECKOUT_ANSWERS = (0, 40)


def _failing_transaction(monkeypatch, pipeline, number: int, error: BaseException, touching: str = "") -> None:
    """The ``number``-th TransactWriteItems (counting those whose request mentions ``touching``) fails."""
    from touchpoint import runtime

    real = pipeline.aws.dynamodb.transact_write_items
    calls = {"n": 0}

    def fail_one(**kwargs):
        calls["n"] += touching in json.dumps(kwargs)
        if calls["n"] == number:
            calls["n"] += 1
            raise error
        return real(**kwargs)

    monkeypatch.setattr(runtime.aws_client("dynamodb"), "transact_write_items", fail_one)


def _every_answer_once(pipeline) -> None:
    rollups = pipeline.rollups()
    for touchpoint, answers in (("checkout", CHECKOUT_ANSWERS),
                                ("relationship", [i for i in range(60) if i not in CHECKOUT_ANSWERS])):
        counts = rollups[("ROLLUP#D#2026-11-16", f"TP#{touchpoint}")]
        assert counts == dict(Counter(f"nps_{i % 11}" for i in answers))
    assert pipeline.drift() == []


def _answers_counted(pipeline) -> int:
    rollups = pipeline.rollups()
    return sum(sum(rollups.get(("ROLLUP#D#2026-11-16", f"TP#{tp}"), {}).values())
               for tp in ("relationship", "checkout"))


def test_a_failed_transaction_mid_batch_then_the_retry_from_the_reported_record_counts_each_once(pipeline,
                                                                                                   monkeypatch):
    # Given 60 answers from 60 customers, in transactions small enough that the batch needs several
    batch = _sixty_answers_in_small_transactions(pipeline, monkeypatch)
    # When the second transaction of relationship answers fails (the checkout ones committed before it)
    _failing_transaction(monkeypatch, pipeline, 2, RuntimeError("injected failure"), touching="TP#relationship")
    first = pipeline.deliver(batch)
    # Then the handler reports the first record it did not apply, and only part of the batch counts
    failed = first["batchItemFailures"]
    assert len(failed) == 1
    assert 0 < _answers_counted(pipeline) < 60
    # When Lambda retries from the reported record, twice (the second retry finding everything applied);
    # records applied after it in the first attempt come again and are skipped
    resume = [r for r in batch if sequence_key(r["dynamodb"]["SequenceNumber"])
              >= sequence_key(failed[0]["itemIdentifier"])]
    applied_after_it = [r for r in resume if r["dynamodb"]["SequenceNumber"] in _applied(pipeline, batch[0])]
    assert resume[0] is not batch[0] and applied_after_it == [batch[40]]
    assert pipeline.deliver(resume) == {"batchItemFailures": []}
    assert pipeline.deliver(resume) == {"batchItemFailures": []}
    # Then every answer counts exactly once
    _every_answer_once(pipeline)


def _applied(pipeline, first_record: dict[str, Any]) -> set[str]:
    """The sequence numbers the delivery that started with ``first_record`` has applied (its marker)."""
    item = pipeline.aws.dynamodb.get_item(TableName=pipeline.aws.table_name, Key={
        "pk": {"S": f"BATCH#{first_record['eventID']}"}, "sk": {"S": "BATCH"}}).get("Item") or {}
    return set(item.get("applied", {}).get("SS", []))


class FunctionTimedOut(BaseException):
    """What Lambda does to an invocation that runs out of time: it ends, nothing is returned."""


def test_an_invocation_killed_mid_batch_then_the_whole_batch_again_counts_each_once(pipeline, monkeypatch):
    # Given 60 answers from 60 customers, in transactions small enough that the batch needs several
    batch = _sixty_answers_in_small_transactions(pipeline, monkeypatch)
    # When the invocation is killed during its third transaction (a timeout: no failure is reported)
    _failing_transaction(monkeypatch, pipeline, 3, FunctionTimedOut())
    with pytest.raises(FunctionTimedOut):
        pipeline.deliver(batch)
    assert 0 < _answers_counted(pipeline) < 60
    # When Lambda retries the whole batch, and once more (as after a second timeout that came too late)
    assert pipeline.deliver(batch) == {"batchItemFailures": []}
    assert pipeline.deliver(batch) == {"batchItemFailures": []}
    # Then every answer counts exactly once
    _every_answer_once(pipeline)


def test_erasure_leaves_the_rollups_of_a_dataset_that_never_had_the_customer(pipeline):
    # Given two customers with answers and tickets across two weeks
    pipeline.answer("a1", "ann", "relationship", "nps", 9, T0 - timedelta(days=7))
    pipeline.answer("a2", "ann", "shipping", "csat", 2, T0)
    pipeline.answer("b1", "bob", "relationship", "nps", 6, T0, comment="meh")
    pipeline.ticket_event("TB", "bob", "e1", "created", T0 - timedelta(days=8))
    pipeline.ticket_event("TB", "bob", "e2", "solved", T0 - timedelta(days=7))
    pipeline.ticket_event("TA", "ann", "e1", "created", T0)
    pipeline.ticket_event("TA", "ann", "e2", "closed", T0 + timedelta(hours=3))
    pipeline.drain()
    records = RollupStore(pipeline.aws.dynamodb, pipeline.aws.table_name).all_items()
    expected_without_bob = expected_rollups([item for item in records if item.get("type") in ("response", "ticket")
                                             and item.get("customer_id") != "bob"])
    # When bob is erased and the stream is drained (twice, as a retry would)
    from touchpoint.customers.erasure import erase_customer
    from touchpoint.customers.store import CustomerStore, SuppressionStore

    dynamodb, table = pipeline.aws.dynamodb, pipeline.aws.table_name
    suppressions = SuppressionStore(dynamodb, table, Pseudonyms(b"a-test-pseudonym-key"))
    told: list[tuple[str, dict[str, Any]]] = []
    publisher = type("Told", (), {"publish": lambda _self, kind, detail: told.append((kind, detail))})()
    erased = erase_customer(CustomerStore(dynamodb, table), suppressions, publisher, "bob", datetime.now(UTC))
    assert erased.deleted_records > 0 and told[0][0] == "CustomerErased"
    records = pipeline.new_records()
    pipeline.deliver(records)
    pipeline.deliver(records)
    # Then the rollups equal those of a dataset that only ever had ann, and nothing of bob is left
    assert pipeline.rollups() == {k: {a: v for a, v in c.items() if v} for k, c in expected_without_bob.items()
                                  if any(c.values())}
    left = [i for i in RollupStore(pipeline.aws.dynamodb, pipeline.aws.table_name).all_items()
            if "bob" in json.dumps(i)]
    assert left == []
    # And bob's activity item, kept for late redeliveries, is named by his keyed pseudonym, never by
    # his id or a plain hash of it
    activity = {i["pk"] for i in pipeline.aws.items() if i.get("type") == "activity"}
    assert pipeline.aws.rollup_store().activity_pk("bob") in activity
    assert pipeline.aws.rollup_store().activity_pk("bob") != RollupStore(
        None, "t", pseudonyms=Pseudonyms(b"some-other-pseudonym-key")).activity_pk("bob")
    plain = hashlib.sha256(b"bob").hexdigest()
    assert not any(plain[:32] in pk for pk in activity)


def test_an_answer_closed_by_an_erasure_tombstone_leaves_the_rollups(pipeline):
    from touchpoint.customers.erasure import erase_customer
    from touchpoint.customers.store import CustomerStore, SuppressionStore
    from touchpoint.surveys.intake import issue_link, submit_answer
    from touchpoint.surveys.models import LinkRequest, SurveyAnswer
    from touchpoint.surveys.store import ContactStore
    from touchpoint.surveys.tokens import KeyRing

    dynamodb, table = pipeline.aws.dynamodb, pipeline.aws.table_name
    ring, now = KeyRing({"k1": "aggregation-test-key-0123456789"}), datetime.now(UTC)
    # Given bob answered a link minted through the contact policy (listed on his contact item), beside ann
    link = issue_link(LinkRequest(customer_id="bob", touchpoint="shipping"), CATALOG, ring,
                      ContactStore(dynamodb, table), "https://x.example", now)
    submit_answer(link.token, SurveyAnswer(score=2, comment="dented"), CATALOG, ring, pipeline.responses, now)
    pipeline.answer("a1", "ann", "shipping", "csat", 2, now)
    pipeline.drain()
    records = list(RollupStore(dynamodb, table).all_items())
    without_bob = expected_rollups([i for i in records if i.get("type") == "response" and i["customer_id"] == "ann"])
    # When bob is erased: his answer is replaced by a tombstone (a MODIFY), the rest deleted
    suppressions = SuppressionStore(dynamodb, table, Pseudonyms(b"a-test-pseudonym-key"))
    publisher = type("Told", (), {"publish": lambda _self, kind, detail: None})()
    erased = erase_customer(CustomerStore(dynamodb, table), suppressions, publisher, "bob", now)
    assert erased.deleted_records == 3  # the answer, its detractor alert and the contact item
    pipeline.drain()
    # Then his answer left the rollups as a deletion would have taken it, and a rebuild agrees
    measured = {k: c for k, c in pipeline.rollups().items() if any(not a.startswith("minted_") for a in c)}
    assert {k: {a: v for a, v in c.items() if not a.startswith("minted_")} for k, c in measured.items()} == \
        {k: {a: v for a, v in c.items() if v} for k, c in without_bob.items() if any(c.values())}
    assert pipeline.drift() == []


def test_a_detractor_is_announced_once_per_response(pipeline):
    # Given a detractor answer, a promoter answer and a detractor CES
    pipeline.answer("d1", "dan", "relationship", "nps", 2, T0, comment="<b>never again</b>")
    pipeline.answer("p1", "pia", "relationship", "nps", 10, T0)
    pipeline.answer("c1", "cy", "returns", "ces", 3, T0)
    batch = pipeline.new_records()
    # When the batch is delivered twice and the resulting alert records are drained twice
    pipeline.deliver(batch)
    pipeline.deliver(batch)
    alerts = pipeline.new_records()
    pipeline.deliver(alerts)
    pipeline.deliver(alerts)
    # Then exactly one DetractorReceived per detractor response went out
    published = pipeline.published()
    assert sorted(event["detail"]["alert_id"] for event in published) == ["detractor:c1", "detractor:d1"]
    assert all(event["detail-type"] == "DetractorReceived" for event in published)
    detail = next(e["detail"] for e in published if e["detail"]["alert_id"] == "detractor:d1")
    assert detail["comment"] == "<b>never again</b>" and detail["score"] == 2 and detail["customer_id"] == "dan"


operations = st.lists(
    st.tuples(
        st.sampled_from(["answer", "answer", "reanswer", "delete_answer", "ticket", "ticket"]),
        st.integers(0, 5),   # which survey / ticket
        st.integers(0, 3),   # which customer
        st.integers(0, 10),  # score or event kind
        st.integers(0, 40),  # days after T0 - 20
    ),
    min_size=1, max_size=25,
)
KINDS = ["created", "agent_replied", "customer_replied", "solved", "reopened", "closed", "agent_replied",
         "solved", "created", "agent_replied", "solved"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, seed=st.integers(0, 10_000))
def test_random_interleavings_and_deliveries_give_the_rollups_of_a_recount(pipeline, ops, seed):
    # Given a fresh table for this example
    from touchpoint.customers.store import CustomerStore

    customers = CustomerStore(pipeline.aws.dynamodb, pipeline.aws.table_name)
    for customer in ("c0", "c1", "c2", "c3"):
        customers.delete(customers.keys_of(customer))
    pipeline.drain()
    rng = random.Random(seed)
    # When random inserts, updates and deletes of answers and ticket events happen...
    for op, which, customer, value, day in ops:
        when = T0 + timedelta(days=day - 20, minutes=which)
        if op in ("answer", "reanswer"):
            metric = ["nps", "csat", "ces"][which % 3]
            low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[metric]
            pipeline.answer(f"s{which}", f"c{which % 4}", ["relationship", "shipping", "returns"][which % 3],
                            metric, min(high, max(low, value)), when)
        elif op == "delete_answer":
            pipeline.delete(f"RESP#s{which}", "RESPONSE")
        else:
            pipeline.ticket_event(f"T{which}", f"c{customer}", f"e{which}-{value}-{day}", KINDS[value], when,
                                  handle=value * 10 if value % 2 else None)
        # ...and the stream is delivered in random batches, some twice, some cut short by a failure
        if rng.random() < 0.4:
            records = pipeline.new_records()
            while records:
                size = rng.randint(1, max(1, len(records)))
                batch, records = records[:size], records[size:]
                result = pipeline.deliver(batch)
                assert result == {"batchItemFailures": []}
                if rng.random() < 0.3:
                    pipeline.deliver(batch[: rng.randint(1, len(batch))])  # a partial redelivery
    pipeline.drain()
    # Then the rollups are exactly those recounted from the raw records
    assert pipeline.drift() == []


# Response rate: links minted (contact item steps) and answered ------------------------------------------------
def test_one_answered_of_four_minted_links_reads_25_percent_exactly_once_with_drift_0(pipeline):
    from touchpoint.scorecards.compute import build_scorecard
    from touchpoint.surveys.intake import issue_link, submit_answer
    from touchpoint.surveys.models import LinkRequest, SurveyAnswer
    from touchpoint.surveys.store import ContactStore
    from touchpoint.surveys.tokens import KeyRing

    ring = KeyRing(pipeline.aws.token_keys)
    contacts = ContactStore(pipeline.aws.dynamodb, pipeline.aws.table_name)
    # Given 4 customers sent a shipping link on Monday, one link retried, one more mint held back
    links = [issue_link(LinkRequest(customer_id=f"c{i}", touchpoint="shipping", order_id="o"), CATALOG, ring,
                        contacts, "https://x.example", T0) for i in range(4)]
    issue_link(LinkRequest(customer_id="c0", touchpoint="shipping", order_id="o"), CATALOG, ring, contacts,
               "https://x.example", T0 + timedelta(hours=1))  # the retry: the same link again
    issue_link(LinkRequest(customer_id="c1", touchpoint="relationship"), CATALOG, ring, contacts,
               "https://x.example", T0 + timedelta(days=1))  # held back
    # And one of them answered on Wednesday
    submit_answer(links[0].token, SurveyAnswer(score=5), CATALOG, ring, pipeline.responses, T0 + timedelta(days=2))
    # When the stream is delivered twice (a redelivery)
    records = pipeline.new_records()
    pipeline.deliver(records)
    pipeline.deliver(records)
    pipeline.drain()
    # Then the week reads 1 of 4, 25 %, with the held-back mint apart
    card = build_scorecard("2026-W47", pipeline.rollups(), {}, CATALOG)
    assert card["cx"]["response_rate"] == {"value": 25.0, "answered": 1, "minted": 4, "held_back": 1}
    assert card["cx"]["touchpoints"]["shipping"]["response_rate"]["value"] == 25.0
    # And a rebuild finds no drift
    assert pipeline.drift() == []


def test_checkpoints_an_earlier_version_wrote_are_honoured_for_two_days_then_dropped(pipeline):
    from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamRecordModel
    from touchpoint.platform.dynamo import from_item, to_item
    from touchpoint.platform.pseudonyms import Pseudonyms
    from touchpoint.rollups.aggregator import Aggregator
    from touchpoint.rollups.changes import change_from_record
    from touchpoint.rollups.store import RETRY_HORIZON_SECONDS

    dynamodb, table = pipeline.aws.dynamodb, pipeline.aws.table_name
    # Given ann's answer applied by an earlier version: counted, and checkpointed in her activity item
    pipeline.answer("s1", "ann", "relationship", "nps", 9, T0)
    [record] = [r for r in pipeline.new_records() if r["dynamodb"]["Keys"]["pk"]["S"] == "RESP#s1"]
    pipeline.deliver([record])
    activity_pk = pipeline.aws.rollup_store().activity_pk("ann")
    key = {"pk": {"S": activity_pk}, "sk": {"S": "ACTIVITY"}}
    item = from_item(dynamodb.get_item(TableName=table, Key=key)["Item"])
    dynamodb.put_item(TableName=table, Item=to_item({**item, "applied": {
        "RESP#s1|RESPONSE": record["dynamodb"]["SequenceNumber"]}}))
    clock = {"now": 1_800_000_000}

    def aggregator() -> Aggregator:
        store = RollupStore(dynamodb, table, pseudonyms=Pseudonyms(b"test-pseudonym-key-0123456789abcdef"),
                            now_epoch=lambda: clock["now"])  # the functions' key (tests/conftest.py)
        return Aggregator(store)

    def stored() -> dict[str, Any]:
        return from_item(dynamodb.get_item(TableName=table, Key=key)["Item"])

    # When the upgraded aggregator gets that record again in a delivery it has no marker for
    change = change_from_record(DynamoDBStreamRecordModel.model_validate(record))
    aggregator().apply([change])
    # Then the old checkpoint keeps it from counting twice
    assert pipeline.rollups()[("ROLLUP#D#2026-11-16", "TP#relationship")] == {"nps_9": 1}
    # When a new answer of hers is applied: the checkpoints are kept, with the day they may go
    pipeline.answer("s2", "ann", "relationship", "nps", 3, T0 + timedelta(days=7))
    [second] = [r for r in pipeline.new_records() if r["dynamodb"]["Keys"]["pk"]["S"] == "RESP#s2"]
    aggregator().apply([change_from_record(DynamoDBStreamRecordModel.model_validate(second))])
    assert stored().get("applied") and stored().get("legacy_until") == clock["now"] + RETRY_HORIZON_SECONDS, stored()
    # When her next answer comes after that day
    clock["now"] += RETRY_HORIZON_SECONDS
    pipeline.answer("s3", "ann", "relationship", "nps", 10, T0 + timedelta(days=14))
    [third] = [r for r in pipeline.new_records() if r["dynamodb"]["Keys"]["pk"]["S"] == "RESP#s3"]
    aggregator().apply([change_from_record(DynamoDBStreamRecordModel.model_validate(third))])
    # Then the activity item holds her period counts only, and everything counted once
    assert set(stored()) == {"pk", "sk", "type", "periods", "version"}
    assert pipeline.drift() == []
