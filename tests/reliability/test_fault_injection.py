"""Issue 6, item 2: faults injected into the real code paths on moto (in-process).

* a stream record that fails to parse, in the middle of a batch;
* DynamoDB throttling (``ProvisionedThroughputExceededException`` once botocore's own retries are
  spent) on the aggregator's transactions and reads, on intake's and the webhook's writes;
* EventBridge refusing a DetractorReceived publish;
* SES refusing the scorecard email once.

Each time the failure is reported (a batch item failure, a raised error, a 5xx), and after the
redelivery or retry that Lambda, the helpdesk or the scheduler would make, nothing is lost and
nothing is counted, stored, published or emailed twice.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from reliability_support import WEBHOOK_SECRETS, deliver_like_lambda
from touchpoint import runtime
from touchpoint.catalog import load_catalog
from touchpoint.rollups import plan
from touchpoint.rollups.rebuild import compare, expected_rollups, rebuild
from touchpoint.rollups.store import RollupStore
from touchpoint.surveys.intake import response_record
from touchpoint.surveys.store import ResponseStore
from touchpoint.tickets import TicketEvent, fold, sign
from touchpoint.tickets.store import TicketStore
from touchpoint_local.testing import FakeLambdaContext, StreamReader

CATALOG = load_catalog("ecommerce")
T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # Monday of 2026-W47
THROTTLED = "ProvisionedThroughputExceededException"
CTX = FakeLambdaContext("aggregator")


def throttle(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": THROTTLED, "Message": "Rate of requests exceeds the allowed throughput."},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


class Faulty:
    """Wraps one method of a client: the calls numbered in ``fail_on`` (1-based) raise instead."""

    def __init__(self, client: Any, method: str, fail_on: set[int], error: Exception,
                 when: Any = None) -> None:
        self.real = getattr(client, method)
        self.fail_on, self.error, self.when = fail_on, error, when or (lambda kwargs: True)
        self.calls = 0
        self.failed = 0

    def __call__(self, **kwargs: Any) -> Any:
        if self.when(kwargs):
            self.calls += 1
            if self.calls in self.fail_on:
                self.failed += 1
                raise self.error
        return self.real(**kwargs)


def inject(monkeypatch: pytest.MonkeyPatch, client: Any, method: str, fail_on: set[int], error: Exception,
           when: Any = None) -> Faulty:
    faulty = Faulty(client, method, fail_on, error, when)
    monkeypatch.setattr(client, method, faulty)
    return faulty


# Raw records through the real stores ---------------------------------------------------------------
class Records:
    def __init__(self, aws: Any) -> None:
        self.aws = aws
        self.responses = ResponseStore(aws.dynamodb, aws.table_name)
        self.tickets = TicketStore(aws.dynamodb, aws.table_name)
        self.stream = StreamReader(aws.dynamodb, aws.table_name)

    def answer(self, survey_id: str, customer: str, touchpoint: str, metric: str, score: int, when: datetime,
               comment: str | None = None) -> None:
        self.responses.upsert(response_record(
            survey_id=survey_id, customer_id=customer, touchpoint=CATALOG.get(touchpoint), metric=metric,
            score=score, comment=comment, submitted_at=when, order_id=None, source="link"))

    def ticket_event(self, ticket: str, customer: str, event_id: str, kind: str, when: datetime,
                     handle: int | None = None) -> None:
        event = TicketEvent(event_id=event_id, provider="generic", ticket_id=ticket, customer_id=customer,
                            channel="email", event=kind, occurred_at=when, handle_seconds=handle)
        if self.tickets.add_event(event):
            events = self.tickets.events("generic", ticket)
            self.tickets.save_state(fold(events, default_touchpoint="support"), len(events))

    def raw(self) -> list[dict[str, Any]]:
        return [i for i in RollupStore(self.aws.dynamodb, self.aws.table_name).all_items()
                if i.get("type") in ("response", "ticket")]

    def stored_rollups(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(i["pk"], i["sk"]): i for i in RollupStore(self.aws.dynamodb, self.aws.table_name).all_items()
                if str(i["pk"]).startswith("ROLLUP#")}

    def drift(self) -> list[Any]:
        return rebuild(RollupStore(self.aws.dynamodb, self.aws.table_name)).drift


@pytest.fixture
def records(aws: Any) -> Records:
    return Records(aws)


def a_week_of_feedback(records: Records, customers: int = 12) -> None:
    for i in range(customers):
        score = i % 11
        records.answer(f"s{i}", f"c{i}", "relationship", "nps", score, T0 + timedelta(minutes=i),
                       comment=f"comment {i}" if score <= 6 else None)
    records.ticket_event("T1", "c1", "e1", "created", T0)
    records.ticket_event("T1", "c1", "e2", "agent_replied", T0 + timedelta(minutes=20), handle=90)
    records.ticket_event("T1", "c1", "e3", "solved", T0 + timedelta(hours=3))


def drain_alerts(aggregator: Any, records: Records) -> None:
    """Deliver the aggregator's own new records (alert items) until quiet."""
    for _ in range(10):
        batch = records.stream.new_records()
        if not batch:
            return
        deliver_like_lambda(aggregator.lambda_handler, batch)
    raise AssertionError("the stream never went quiet")


def detractor_ids(tap: Any) -> Counter[str]:
    return Counter(e["detail"]["alert_id"] for e in tap.published("DetractorReceived"))


# 1. A record that fails to parse ---------------------------------------------------------------------
def _poison(record: dict[str, Any], how: str) -> dict[str, Any]:
    bad = copy.deepcopy(record)
    if how == "unknown_event_name":
        bad["eventName"] = "UPSERT"
    elif how == "unknown_attribute_type":
        bad["dynamodb"]["NewImage"]["score"] = {"Q": "7"}
    else:  # images that are not objects
        bad["dynamodb"]["NewImage"] = ["not", "an", "image"]
    return bad


def _response_insert(batch: list[dict[str, Any]], survey_id: str) -> int:
    """The first record of the batch carrying the answer (moto writes an upserted item in two steps, the
    first one a bare key that the aggregator ignores)."""
    return next(i for i, r in enumerate(batch) if r["dynamodb"]["Keys"]["pk"]["S"] == f"RESP#{survey_id}"
                and (r["dynamodb"].get("NewImage") or {}).get("type", {}).get("S") == "response")


@pytest.mark.parametrize("how", ["unknown_event_name",
                                 "unknown_attribute_type",
                                 "image_not_an_object"])
def test_a_record_that_fails_to_parse_is_reported_and_the_rest_apply_exactly_once(aws, tap, aggregator, records,
                                                                                   how):
    # Given a batch of answers (some detractors) and a solved ticket, with one record poisoned mid-batch
    a_week_of_feedback(records)
    batch = records.stream.new_records()
    k = _response_insert(batch, "s4")  # a detractor (score 4) of customer c4
    poisoned_sequence = batch[k]["dynamodb"]["SequenceNumber"]
    delivered = [*batch[:k], _poison(batch[k], how), *batch[k + 1:]]
    # When Lambda delivers it
    result = aggregator.lambda_handler({"Records": delivered}, CTX)
    # Then the handler reports exactly the poisoned record
    assert result == {"batchItemFailures": [{"itemIdentifier": poisoned_sequence}]}
    without_poison = [r for r in records.raw() if r.get("survey_id") != "s4"]
    assert compare(expected_rollups(without_poison), records.stored_rollups()) == []
    # When Lambda redelivers from the failed record on, twice (the poison still in it)
    tail = delivered[k:]
    for _ in range(2):
        again = aggregator.lambda_handler({"Records": tail}, CTX)
        assert again == {"batchItemFailures": [{"itemIdentifier": poisoned_sequence}]}
    # Then everything else is counted exactly once, and only the poisoned answer is missing
    assert compare(expected_rollups(without_poison), records.stored_rollups()) == []
    drain_alerts(aggregator, records)
    assert detractor_ids(tap) == Counter(f"detractor:s{i}" for i in range(12) if i % 11 <= 6 and i != 4)
    # When the intact record is redriven (e.g. from the stream, once the parser is fixed)
    assert aggregator.lambda_handler({"Records": [batch[k]]}, CTX) == {"batchItemFailures": []}
    drain_alerts(aggregator, records)
    # Then nothing is missing and nothing is doubled
    assert records.drift() == []
    assert detractor_ids(tap) == Counter(f"detractor:s{i}" for i in range(12) if i % 11 <= 6)


def test_a_poisoned_record_followed_by_a_change_of_the_same_item_is_applied_when_redelivered(aws, tap, aggregator,
                                                                                            records):
    # Given an answer and its resubmission (a MODIFY of the same item) in one batch, the INSERT poisoned
    records.answer("s1", "c1", "relationship", "nps", 3, T0, comment="slow")
    records.answer("s2", "c2", "relationship", "nps", 10, T0)
    records.answer("s1", "c1", "relationship", "nps", 9, T0 + timedelta(minutes=5))
    batch = records.stream.new_records()
    k = _response_insert(batch, "s1")
    delivered = [*batch[:k], _poison(batch[k], "unknown_event_name"), *batch[k + 1:]]
    # When it is delivered, and Lambda redelivers from the reported record with that record intact
    result = aggregator.lambda_handler({"Records": delivered}, CTX)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [batch[k]["dynamodb"]["SequenceNumber"]]
    assert aggregator.lambda_handler({"Records": batch[k:]}, CTX) == {"batchItemFailures": []}
    # Then the rollups are those of a recount: no counter below zero, nothing lost
    negative = {key: {a: v for a, v in item.items() if isinstance(v, int) and v < 0}
                for key, item in records.stored_rollups().items()}
    assert not any(negative.values()), negative
    assert records.drift() == []


# 2. DynamoDB throttling -------------------------------------------------------------------------------
def test_throttled_rollup_transactions_are_reported_and_redelivery_counts_each_record_once(aws, tap, aggregator,
                                                                                         records, monkeypatch):
    # Given 60 answers from 60 customers, in transactions small enough that the batch needs several
    for i in range(60):
        records.answer(f"s{i}", f"c{i}", "relationship", "nps", i % 11, T0 + timedelta(minutes=i),
                       comment="meh" if i % 11 <= 6 else None)
    batch = records.stream.new_records()
    monkeypatch.setattr(plan, "MAX_TRANSACTION_ACTIONS", 10)
    # ... and DynamoDB throttling the 2nd and 5th TransactWriteItems (after botocore's own retries)
    faulty = inject(monkeypatch, runtime.aws_client("dynamodb"), "transact_write_items", {2, 5},
                    throttle("TransactWriteItems"))
    # When Lambda delivers the batch and retries from each reported failure
    attempts = deliver_like_lambda(aggregator.lambda_handler, batch)
    # Then two deliveries reported a failure, and after the retries every answer counts exactly once
    assert faulty.failed == 2 and sum(1 for failures in attempts if failures) == 2, attempts
    counts = records.stored_rollups()[("ROLLUP#D#2026-11-16", "TP#relationship")]
    assert {k: v for k, v in counts.items() if k.startswith("nps_")} == \
        {f"nps_{s}": sum(1 for i in range(60) if i % 11 == s) for s in range(11)}
    drain_alerts(aggregator, records)
    assert records.drift() == []
    assert detractor_ids(tap) == Counter(f"detractor:s{i}" for i in range(60) if i % 11 <= 6)


def test_a_throttled_activity_read_fails_the_batch_and_the_retry_counts_it_once(aws, tap, aggregator, records,
                                                                               monkeypatch):
    # Given a week of feedback, and the activity read throttled on the first delivery
    a_week_of_feedback(records)
    batch = records.stream.new_records()
    inject(monkeypatch, runtime.aws_client("dynamodb"), "batch_get_item", {1}, throttle("BatchGetItem"))
    # When Lambda delivers it, then retries
    attempts = deliver_like_lambda(aggregator.lambda_handler, batch)
    # Then the first delivery failed (the function raised or reported records), the retry applied it once
    assert attempts[0] and attempts[-1] == [], attempts
    drain_alerts(aggregator, records)
    assert records.drift() == []
    assert detractor_ids(tap) == Counter(f"detractor:s{i}" for i in range(12) if i % 11 <= 6)


def test_a_refused_detractor_publish_is_retried_and_announced_once(aws, tap, aggregator, records, monkeypatch):
    # Given detractor answers whose alerts are in the stream
    a_week_of_feedback(records)
    deliver_like_lambda(aggregator.lambda_handler, records.stream.new_records())
    alerts = records.stream.new_records()
    # ... and EventBridge refusing the second PutEvents
    events = runtime.aws_client("events")
    refused = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents")
    faulty = inject(monkeypatch, events, "put_events", {2}, refused)
    # When Lambda delivers the alert records and retries from the reported failure
    attempts = deliver_like_lambda(aggregator.lambda_handler, alerts)
    # Then the refusal was reported, and every detractor is announced exactly once
    assert faulty.failed == 1 and attempts[0], attempts
    assert detractor_ids(tap) == Counter(f"detractor:s{i}" for i in range(12) if i % 11 <= 6)


def _import_body(count: int, tag: str) -> list[dict[str, Any]]:
    return [{"customer_id": f"{tag}-{i}", "touchpoint": "shipping", "metric": "csat", "score": 1 + i % 5,
             "response_id": f"{tag}-{i}", "submitted_at": "2026-11-17T10:00:00Z"} for i in range(count)]


def _error(status: int, body: str) -> dict[str, Any]:
    parsed = json.loads(body)
    assert set(parsed) == {"error"} and set(parsed["error"]) == {"code", "message", "field"}, body
    return parsed["error"]


def test_a_throttled_import_is_a_5xx_and_its_retry_stores_each_response_once(aws, tap, aggregator, intake, records,
                                                                             monkeypatch):
    # Given an import of 6 responses and DynamoDB throttling the 4th PutItem
    body = _import_body(6, "thr")
    headers = {"content-type": "application/json"}
    faulty = inject(monkeypatch, runtime.aws_client("dynamodb"), "put_item", {4}, throttle("PutItem"))
    # When it is posted
    status, _, text = intake("POST", "/v1/responses", body, headers=headers, route_key="POST /v1/responses")
    # Then the client is told to retry (a 5xx with the SPEC error body)
    assert faulty.failed == 1 and status >= 500, text
    _error(status, text)
    # When the client retries the same batch
    status, _, text = intake("POST", "/v1/responses", body, headers=headers, route_key="POST /v1/responses")
    # Then the three already stored are duplicates, the rest are created, each response is there once
    assert status == 201, text
    assert [r["status"] for r in json.loads(text)["results"]] == ["duplicate"] * 3 + ["created"] * 3
    stored = Counter(r["response_id"] for r in records.raw() if r.get("response_id"))
    assert stored == Counter(f"thr-{i}" for i in range(6))
    deliver_like_lambda(aggregator.lambda_handler, records.stream.new_records())
    assert records.drift() == []


def test_a_throttled_link_answer_writes_nothing_and_its_retry_is_the_first_answer(aws, intake, monkeypatch):
    from touchpoint.surveys.intake import mint_link
    from touchpoint.surveys.models import LinkRequest
    from touchpoint.surveys.tokens import KeyRing

    # Given a survey link, and DynamoDB throttling the answer's first write, whichever call it is
    link = mint_link(LinkRequest(customer_id="c-thr", touchpoint="shipping", order_id="A-1"), CATALOG,
                     KeyRing(aws.token_keys), "https://x.example", datetime.now(UTC))
    path = f"/s/{link.token}"
    client = runtime.aws_client("dynamodb")
    writes = {"n": 0}

    def first_write_only(kwargs: dict[str, Any]) -> bool:
        writes["n"] += 1
        return writes["n"] == 1

    faults = [inject(monkeypatch, client, method, {1}, throttle(method), when=first_write_only)
              for method in ("put_item", "update_item", "transact_write_items")]
    # When the customer answers
    status, _, text = intake("POST", path, {"score": 5}, route_key="POST /s/{token}",
                             path_params={"token": link.token})
    # Then it is a 5xx and nothing was written
    assert sum(f.failed for f in faults) == 1 and status >= 500, text
    _error(status, text)
    assert aws.item_count() == 0
    # When the answer is sent again, it is the first answer (201), stored once
    status, _, text = intake("POST", path, {"score": 5}, route_key="POST /s/{token}",
                             path_params={"token": link.token})
    assert status == 201, text
    stored = [i for i in aws.items() if i.get("type") == "response"]
    assert len(stored) == 1 and stored[0]["score"] == 5 and stored[0]["submissions"] == 1


def _generic(ticket: str, event_id: str, kind: str, when: str) -> bytes:
    return json.dumps({"event_id": event_id, "ticket_id": ticket, "customer_id": "cust-thr", "channel": "chat",
                       "event": kind, "occurred_at": when, "handle_seconds": 60}).encode()


def _deliver(webhooks: Any, raw: bytes) -> tuple[int, dict[str, str], str]:
    headers = {"content-type": "application/json",
               **sign("generic", raw, WEBHOOK_SECRETS["generic"], datetime.now(UTC))}
    return webhooks("POST", "/webhooks/generic", raw, headers=headers, route_key="POST /webhooks/{provider}",
                    path_params={"provider": "generic"})


@pytest.mark.parametrize("fault", ["event_put", "state_update"])
def test_a_throttled_webhook_write_is_a_5xx_and_the_helpdesk_retry_leaves_the_right_ticket(aws, tap, webhooks,
                                                                                           monkeypatch, fault):
    # Given a ticket created and replied to
    for event_id, kind, when in (("e1", "created", "2026-11-16T09:00:00Z"),
                                 ("e2", "agent_replied", "2026-11-16T09:10:00Z")):
        assert _deliver(webhooks, _generic("T-thr", event_id, kind, when))[0] == 202
    # ... and DynamoDB throttling the next event write, or the state write after it
    client = runtime.aws_client("dynamodb")
    if fault == "event_put":
        faulty = inject(monkeypatch, client, "put_item", {1}, throttle("PutItem"))
    else:
        faulty = inject(monkeypatch, client, "update_item", {1}, throttle("UpdateItem"),
                        when=lambda kwargs: kwargs["Key"]["sk"]["S"] == "STATE")
    solve = _generic("T-thr", "e3", "solved", "2026-11-16T11:00:00Z")
    # When the solve is delivered
    status, _, text = _deliver(webhooks, solve)
    # Then the helpdesk gets a 5xx (it will retry)
    assert faulty.failed == 1 and status >= 500, text
    _error(status, text)
    # When the helpdesk retries, twice
    retried = [_deliver(webhooks, solve)[0] for _ in range(2)]
    first_retry = 202 if fault == "event_put" else 200  # the event was stored before the state write failed
    # Then the event is stored once, the state is the fold of all three, and the solve announced once
    assert retried == [first_retry, 200], retried
    events = [i for i in aws.items() if i.get("type") == "ticket_event"]
    assert sorted(e["event"]["event_id"] for e in events) == ["e1", "e2", "e3"]
    state = next(i for i in aws.items() if i.get("type") == "ticket")
    assert (state["status"], state["solved_at"], state["agent_replies"], state["fcr"], state["handle_seconds"]) == \
        ("solved", "2026-11-16T11:00:00Z", 1, True, 180)
    assert len(tap.published("TicketSolved")) == 1


# 3. SES refusing the scorecard email once ------------------------------------------------------------
def sent_markers(aws: Any, period: str) -> list[dict[str, Any]]:
    """The exactly-once markers of a period's scorecard email (one per recipient list)."""
    return [item for item in aws.items() if item["pk"] == f"SENT#{period}"]


def test_a_refused_scorecard_email_is_sent_exactly_once_by_the_retry(aws, tap, aggregator, records,
                                                                     scorecard_function, monkeypatch):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    # Given a week of feedback aggregated
    a_week_of_feedback(records)
    deliver_like_lambda(aggregator.lambda_handler, records.stream.new_records())
    outbox = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    before = len(outbox)
    # ... and SES refusing the first SendEmail
    ses = runtime.aws_client("sesv2")
    refused = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Too many requests"}},
                          "SendEmail")
    faulty = inject(monkeypatch, ses, "send_email", {1}, refused)
    schedule = {"period": "2026-W47"}
    # When the scheduled run fails on it
    with pytest.raises(ClientError):
        scorecard_function.lambda_handler(schedule, CTX)
    # Then nothing went out and the sent marker was released
    assert faulty.failed == 1 and len(outbox) == before
    assert sent_markers(aws, "2026-W47") == []
    # When the scheduler retries, and then runs again
    first = scorecard_function.lambda_handler(schedule, CTX)
    second = scorecard_function.lambda_handler(schedule, CTX)
    # Then exactly one email is in the outbox, and the marker says sent with its message id
    assert first["delivery"]["status"] == "sent" and second["delivery"]["status"] == "already_sent"
    assert len(outbox) == before + 1
    markers = sent_markers(aws, "2026-W47")
    assert len(markers) == 1
    assert markers[0]["status"] == "sent" and markers[0]["message_id"] == first["delivery"]["message_id"]
    assert outbox[-1].id == first["delivery"]["message_id"]
