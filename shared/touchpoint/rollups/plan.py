"""Planning a batch of stream changes into transactions, exactly once (docs/aggregation.md).

Exactly once per *delivery*: Lambda hands the aggregator a batch and, when an attempt fails, retries
it from its first record (or from the record a failure was reported at). The delivery's marker item
(``DeliveryMarker``, named by the event id of that first record) lists the stream sequence numbers the
delivery has applied; a chunk of changes is planned as ONE transaction holding the combined rollup
counters, the customer counters, the customers' activity items (per-period record counts, guarded by
a version), detractor alerts and the marker with the chunk's sequence numbers added. A retried
change finds its sequence number in the marker and changes nothing. Nothing here grows with a
customer's history: the marker holds one batch's sequence numbers and expires after two days, the
activity item holds periods. Pure: the store reads and writes what is planned here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any

from touchpoint.metrics import is_detractor_score
from touchpoint.periods import day_of, parse_time
from touchpoint.platform.table import alert_keys, checkpoint_name
from touchpoint.rollups.changes import StreamChange, sequence_key
from touchpoint.rollups.contribution import RollupKey, activity_delta, combine, customer_counters_delta, delta

MAX_TRANSACTION_ACTIONS = 100  # DynamoDB's limit for one TransactWriteItems


def is_detractor(image: Mapping[str, Any] | None) -> bool:
    if not image or image.get("type") != "response" or image.get("suspected_bot"):
        return False
    return is_detractor_score(str(image.get("metric")), int(image.get("score", 99)))


def becomes_detractor(change: StreamChange) -> bool:
    """A detractor answer now that was not one before: a first answer, a resubmission from a passive or
    promoter score, a bot flag lifted. Decided from the change's own images, so it needs no memory of
    earlier alerts; a redelivered change is skipped by its delivery's marker before this is asked."""
    return is_detractor(change.new) and not is_detractor(change.old)


def stops_being_detractor(change: StreamChange) -> bool:
    """A detractor answer that is gone (erased, closed by an erasure's tombstone) or no longer one (a
    better resubmission, flagged as a bot): its alert goes too. The stream may bring an erased answer's
    INSERT after the erasure ran, so this is what keeps an erased customer's alert from outliving them."""
    return is_detractor(change.old) and not is_detractor(change.new)


@dataclass
class ActivityItem:
    """One customer's per-period record counts (``active``/``retained``/``returning`` need them) and the
    version that guards them. ``legacy_applied`` holds per-source checkpoints an earlier version wrote:
    honoured, never extended, and dropped once ``legacy_until`` (two days after first seen) has passed,
    beyond the stream's 24-hour retention."""

    customer_id: str
    periods: dict[str, int] = field(default_factory=dict)
    version: int = 0
    legacy_applied: dict[str, str] = field(default_factory=dict)
    legacy_until: int | None = None

    @classmethod
    def from_record(cls, customer_id: str, record: Mapping[str, Any] | None) -> ActivityItem:
        if not record:
            return cls(customer_id)
        until = record.get("legacy_until")
        return cls(customer_id, dict(record.get("periods") or {}), int(record.get("version") or 0),
                   dict(record.get("applied") or {}), int(until) if until is not None else None)

    def copy(self) -> ActivityItem:
        return ActivityItem(self.customer_id, dict(self.periods), self.version, self.legacy_applied,
                            self.legacy_until)

    def applied_before(self, change: StreamChange) -> bool:
        seen = self.legacy_applied.get(checkpoint_name(change.source))
        return seen is not None and sequence_key(change.sequence) <= sequence_key(seen)


@dataclass
class DeliveryMarker:
    """What one delivery (named by its first record's event id) has applied: at most a batch of
    sequence numbers, kept two days (past the stream's 24-hour retention)."""

    event_id: str
    applied: frozenset[str] = frozenset()
    version: int = 0


@dataclass
class ChunkPlan:
    marker: DeliveryMarker  # the delivery's marker as read before this chunk
    changes: list[StreamChange] = field(default_factory=list)
    rollups: Counter[RollupKey] = field(default_factory=Counter)
    customers: dict[str, ActivityItem] = field(default_factory=dict)  # after the chunk
    before: dict[str, ActivityItem] = field(default_factory=dict)  # as read
    alerts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # alert items to put, by key
    withdrawn: set[tuple[str, str]] = field(default_factory=set)  # keys of alert items to delete
    applied: list[str] = field(default_factory=list)  # sequence numbers this chunk applies
    # Each customer's change of the period customer counters, kept up to date as changes are added (only
    # the customers a change touches are recomputed: planning stays linear in the chunk).
    customer_deltas: dict[str, Counter[RollupKey]] = field(default_factory=dict)

    @property
    def effective(self) -> bool:
        """False when every change in it was applied before: nothing to write."""
        return bool(self.applied)

    def counter_items(self) -> dict[tuple[str, str], dict[str, int]]:
        return combine([self.rollups, *self.customer_deltas.values()])

    def changed_customers(self) -> dict[str, ActivityItem]:
        """The activity items this chunk changes (a record that moves no period count leaves its
        customer's item alone)."""
        return {c: after for c, after in self.customers.items() if after.periods != self.before[c].periods}

    def action_count(self) -> int:
        return (len(self.counter_items()) + len(self.changed_customers()) + len(self.alerts) + len(self.withdrawn)
                + 1)  # + the marker


def plan(changes: list[StreamChange], activity: dict[str, ActivityItem], marker: DeliveryMarker,
         zone: tzinfo = UTC) -> list[ChunkPlan]:
    """Split ``changes`` into chunks that each fit one transaction; each chunk starts from the
    activity items and the delivery marker as the previous chunk leaves them. Changes that touch the
    same rollup items are put in the same chunk, so a batch writes each counter item about once. Days
    and periods are those of ``zone`` (the reporting time zone)."""
    plans: list[ChunkPlan] = []
    state = {c: item.copy() for c, item in activity.items()}
    current = ChunkPlan(marker=marker)
    for change in _grouped_by_rollup_item(changes, zone):
        trial = _with_change(current, change, state, zone)
        if trial.action_count() > MAX_TRANSACTION_ACTIONS and current.changes:
            plans.append(current)
            state, marker = _state_after(current, state)
            current = _with_change(ChunkPlan(marker=marker), change, state, zone)
        else:
            current = trial
    if current.changes:
        plans.append(current)
    return plans


def _grouped_by_rollup_item(changes: list[StreamChange], zone: tzinfo) -> list[StreamChange]:
    """The changes reordered so that those touching the same rollup items sit together. Each source
    item's changes stay together and in stream order (each one's old image is the one before's new
    image); across sources the order is free, since every change is a commutative delta."""
    by_source: dict[str, list[StreamChange]] = {}
    for change in changes:
        by_source.setdefault(change.source, []).append(change)

    def first_rollup_item(source_changes: list[StreamChange]) -> tuple[str, ...]:
        keys = sorted((pk, sk) for change in source_changes for pk, sk, _ in delta(change.old, change.new, zone))
        return keys[0] if keys else ("~",)  # changes that move no counter go last

    ordered = sorted(by_source.values(), key=first_rollup_item)
    return [change for source_changes in ordered for change in source_changes]


def customers_of(change: StreamChange) -> set[str]:
    return {str(image["customer_id"]) for image in (change.old, change.new) if image and image.get("customer_id")}


def _state_after(plan: ChunkPlan, state: dict[str, ActivityItem]) -> tuple[dict[str, ActivityItem], DeliveryMarker]:
    """Activity items and the marker as they stand once ``plan`` is committed (its transaction bumps
    the version of what it writes)."""
    after = {c: item.copy() for c, item in state.items()}
    for customer_id, item in plan.changed_customers().items():
        after[customer_id] = item.copy()
        after[customer_id].version = plan.before[customer_id].version + 1
    marker = plan.marker
    if plan.effective:
        marker = DeliveryMarker(marker.event_id, marker.applied | set(plan.applied), marker.version + 1)
    return after, marker


def _with_change(plan: ChunkPlan, change: StreamChange, state: dict[str, ActivityItem], zone: tzinfo) -> ChunkPlan:
    """``plan`` with ``change`` added, as a new object (``plan`` is left as it was)."""
    trial = ChunkPlan(plan.marker, list(plan.changes), Counter(plan.rollups),
                      {c: item.copy() for c, item in plan.customers.items()}, dict(plan.before), dict(plan.alerts),
                      set(plan.withdrawn), list(plan.applied), dict(plan.customer_deltas))
    trial.changes.append(change)

    def customer(customer_id: str) -> ActivityItem:
        if customer_id not in trial.customers:
            trial.before[customer_id] = state[customer_id].copy()
            trial.customers[customer_id] = state[customer_id].copy()
        return trial.customers[customer_id]

    owner = customer(str(change.owner))
    if change.sequence in plan.marker.applied or owner.applied_before(change):
        return trial  # a retry: this delivery (or an earlier version's checkpoint) applied it already
    trial.applied.append(change.sequence)
    trial.rollups.update(delta(change.old, change.new, zone))
    moved: set[str] = set()
    for (customer_id, period_id), count in activity_delta(change.old, change.new, zone).items():
        item = customer(customer_id)
        item.periods[period_id] = item.periods.get(period_id, 0) + count
        moved.add(customer_id)
    for customer_id in moved:
        trial.customer_deltas[customer_id] = customer_counters_delta(trial.before[customer_id].periods,
                                                                     trial.customers[customer_id].periods)
    # One transaction may not touch an item twice: an alert put and withdrawn in the same chunk cancel out.
    if becomes_detractor(change) and change.new:
        alert = alert_record(change.new, zone)
        trial.withdrawn.discard((alert["pk"], alert["sk"]))
        trial.alerts[(alert["pk"], alert["sk"])] = alert
    elif stops_being_detractor(change) and change.old:
        alert = alert_record(change.old, zone)
        if trial.alerts.pop((alert["pk"], alert["sk"]), None) is None:
            trial.withdrawn.add((alert["pk"], alert["sk"]))
    return trial


def alert_record(response: Mapping[str, Any], zone: tzinfo = UTC) -> dict[str, Any]:
    """The closed-loop outbox item for a detractor response; its own stream record is published as
    ``DetractorReceived``. Keyed by local day (of ``zone``), lowest score first, so the scorecard reads
    a bounded number of a period's worst comments whatever the volume."""
    day = day_of(parse_time(str(response["submitted_at"])), zone)
    return {
        **alert_keys(str(response["customer_id"]), day, int(response["score"]), str(response["submitted_at"]),
                     str(response["survey_id"])),
        "type": "alert",
        "survey_id": response["survey_id"], "customer_id": response["customer_id"],
        "touchpoint": response["touchpoint"], "metric": response["metric"], "score": int(response["score"]),
        "comment": response.get("comment"), "submitted_at": response["submitted_at"],
    }
