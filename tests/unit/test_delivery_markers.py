"""Exactly once per delivery, planned without a table (``touchpoint.rollups.plan``): what a retry
skips, what an activity item and an alert become, and what the aggregator hands over to the record a
failure is reported at. The integration tests (test_aggregation.py) run the same on moto and DynamoDB
Local through the real handler."""

from __future__ import annotations

from typing import Any

from touchpoint.rollups.aggregator import Aggregator
from touchpoint.rollups.changes import Delivery, StreamChange
from touchpoint.rollups.plan import ActivityItem, DeliveryMarker, plan


def answer(survey: str, score: int, customer: str = "ann", when: str = "2026-11-16T09:00:00Z",
           metric: str = "nps") -> dict[str, Any]:
    return {"type": "response", "survey_id": survey, "customer_id": customer, "touchpoint": "relationship",
            "metric": metric, "score": score, "submitted_at": when}


def change(sequence: int, old: dict[str, Any] | None, new: dict[str, Any] | None) -> StreamChange:
    image = new or old or {}
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    return StreamChange(f"e{sequence}", str(sequence), name, f"RESP#{image['survey_id']}", "RESPONSE", old, new)


def activity(*customers: str, **periods: dict[str, int]) -> dict[str, ActivityItem]:
    return {c: ActivityItem(c, dict(periods.get(c, {})), version=1 if c in periods else 0) for c in customers}


def test_a_change_the_delivery_applied_before_is_skipped_and_the_rest_is_planned():
    # Given a delivery whose marker lists the first of two answers
    changes = [change(100, None, answer("s1", 9)), change(101, None, answer("s2", 10, customer="bob"))]
    marker = DeliveryMarker("e100", frozenset({"100"}), version=1)
    # When the retry is planned
    [chunk] = plan(changes, activity("ann", "bob"), marker)
    # Then only the second answer is counted, and the marker is carried for the transaction
    assert chunk.applied == ["101"]
    assert dict(chunk.rollups) == {("ROLLUP#D#2026-11-16", "TP#relationship", "nps_10"): 1}
    assert set(chunk.changed_customers()) == {"bob"} and chunk.marker is marker


def test_a_retry_of_a_fully_applied_delivery_writes_nothing():
    changes = [change(100, None, answer("s1", 2))]
    [chunk] = plan(changes, activity("ann"), DeliveryMarker("e100", frozenset({"100"}), version=1))
    assert not chunk.effective and not chunk.alerts


def test_an_earlier_versions_checkpoint_is_still_honoured():
    # Given ann's activity item as an earlier version left it: a checkpoint per source item
    item = ActivityItem("ann", {"2026-W47": 1}, version=3, legacy_applied={"RESP#s1|RESPONSE": "100"})
    # When the change it names comes again, in a new delivery
    [chunk] = plan([change(100, None, answer("s1", 9))], {"ann": item}, DeliveryMarker("e100"))
    # Then it is skipped
    assert not chunk.effective


def test_a_resubmission_in_the_same_period_leaves_the_activity_item_alone():
    # Given ann answered 9, then 10 the same day: her period counts do not change
    before, after = answer("s1", 9), answer("s1", 10, when="2026-11-16T09:05:00Z")
    [chunk] = plan([change(200, before, after)], activity("ann", ann={"2026-W47": 1, "2026-11": 1}),
                   DeliveryMarker("e200"))
    # Then the counters move, and no activity item is written (one write less per resubmission)
    assert chunk.effective and chunk.changed_customers() == {}
    assert chunk.action_count() == 2  # the day's rollup item and the marker


def test_an_alert_follows_the_answer_a_detractor_gets_one_and_loses_it_when_erased_or_improved():
    detractor = answer("s1", 3)
    # A new detractor gets an alert
    [chunk] = plan([change(1, None, detractor)], activity("ann"), DeliveryMarker("e1"))
    [(pk, sk)] = chunk.alerts
    assert pk == "ALERT#2026-11-16" and sk.startswith("03#")
    # A detractor answer resubmitted as a worse detractor gets no second alert
    [chunk] = plan([change(2, detractor, answer("s1", 1))], activity("ann"), DeliveryMarker("e2"))
    assert not chunk.alerts and not chunk.withdrawn
    # A detractor answer erased (REMOVE) or improved loses its alert
    for new in (None, answer("s1", 9)):
        [chunk] = plan([change(3, detractor, new)], activity("ann", ann={"2026-W47": 1, "2026-11": 1}),
                       DeliveryMarker("e3"))
        assert chunk.withdrawn == {(pk, sk)} and not chunk.alerts


def test_an_answer_inserted_and_erased_in_one_batch_leaves_no_alert_and_one_action_per_item():
    # Given the stream brings an erased customer's detractor INSERT and its REMOVE in one batch
    detractor = answer("s1", 0)
    [chunk] = plan([change(1, None, detractor), change(2, detractor, None)], activity("ann"), DeliveryMarker("e1"))
    # Then the alert is neither put nor deleted (a transaction may touch an item only once)
    assert not chunk.alerts and not chunk.withdrawn and chunk.applied == ["1", "2"]


class StoreDouble:
    """The RollupStore calls the aggregator makes, in memory."""

    def __init__(self) -> None:
        self.markers: dict[str, set[str]] = {}
        self.transactions = 0

    def read_activity(self, customers: Any) -> dict[str, ActivityItem]:
        return {c: ActivityItem(c) for c in customers}

    def read_delivery(self, event_id: str) -> DeliveryMarker:
        return DeliveryMarker(event_id, frozenset(self.markers.get(event_id, set())))

    def commit(self, chunk: Any) -> None:
        if chunk.effective:
            self.markers.setdefault(chunk.marker.event_id, set()).update(chunk.applied)

    def hand_over(self, event_id: str, sequences: list[str]) -> None:
        self.markers.setdefault(event_id, set()).update(sequences)


def test_a_failure_reported_mid_batch_hands_what_was_applied_after_it_to_that_records_marker():
    # Given a delivery e1..e4 that applied 1, 3 and 4 (2 could not be read)
    store = StoreDouble()
    aggregator = Aggregator(store)  # type: ignore[arg-type]
    changes = [change(n, None, answer(f"s{n}", 9, customer=f"c{n}")) for n in (1, 3, 4)]
    delivery = Delivery("e1", {"1": "e1", "2": "e2", "3": "e3", "4": "e4"})
    aggregator.apply(changes, delivery)
    # When the failure is reported at 2, and when it is reported at the first record
    aggregator.hand_over(delivery, "2")
    aggregator.hand_over(delivery, "1")
    # Then the retry that starts at 2 finds 3 and 4 applied; one that starts at 1 has its own marker
    assert store.markers == {"e1": {"1", "3", "4"}, "e2": {"3", "4"}}
