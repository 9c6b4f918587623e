"""Planning a batch of stream changes into transactions, exactly once (docs/aggregation.md).

Each change carries its own checkpoint: the stream sequence number of the last change applied for a
source item, kept in the activity item of the customer the item belongs to. A chunk of changes is
planned as ONE transaction holding the combined rollup counters, the customer counters, the
activity items (with their checkpoints, guarded by a version) and detractor alerts; a redelivered
change finds its sequence number at or below the checkpoint and changes nothing. Pure: the store
reads and writes what is planned here.
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


@dataclass
class ActivityItem:
    customer_id: str
    periods: dict[str, int] = field(default_factory=dict)
    applied: dict[str, str] = field(default_factory=dict)
    alerted: dict[str, str] = field(default_factory=dict)
    version: int = 0

    @classmethod
    def from_record(cls, customer_id: str, record: Mapping[str, Any] | None) -> ActivityItem:
        if not record:
            return cls(customer_id)
        return cls(customer_id, dict(record.get("periods") or {}), dict(record.get("applied") or {}),
                   dict(record.get("alerted") or {}), int(record.get("version") or 0))

    def copy(self) -> ActivityItem:
        return ActivityItem(self.customer_id, dict(self.periods), dict(self.applied), dict(self.alerted),
                            self.version)


@dataclass
class ChunkPlan:
    changes: list[StreamChange] = field(default_factory=list)
    rollups: Counter[RollupKey] = field(default_factory=Counter)
    customers: dict[str, ActivityItem] = field(default_factory=dict)  # after the chunk
    before: dict[str, ActivityItem] = field(default_factory=dict)  # as read
    alerts: list[dict[str, Any]] = field(default_factory=list)
    effective: bool = False  # False when every change in it was a redelivery

    def counter_items(self) -> dict[tuple[str, str], dict[str, int]]:
        total = Counter(self.rollups)
        for customer_id, after in self.customers.items():
            total.update(customer_counters_delta(self.before[customer_id].periods, after.periods))
        return combine([total])

    def action_count(self) -> int:
        return len(self.counter_items()) + len(self.customers) + len(self.alerts)


def plan(changes: list[StreamChange], activity: dict[str, ActivityItem], zone: tzinfo = UTC) -> list[ChunkPlan]:
    """Split ``changes`` into chunks that each fit one transaction; each chunk starts from the
    activity items as the previous chunk leaves them. Changes that touch the same rollup items
    are put in the same chunk, so a batch writes each counter item about once. Days and periods
    are those of ``zone`` (the reporting time zone)."""
    plans: list[ChunkPlan] = []
    state = {c: item.copy() for c, item in activity.items()}
    current = ChunkPlan()
    for change in _grouped_by_rollup_item(changes, zone):
        trial = _with_change(current, change, state, zone)
        if trial.action_count() > MAX_TRANSACTION_ACTIONS and current.changes:
            plans.append(current)
            state = _state_after(current, state)
            current = _with_change(ChunkPlan(), change, state, zone)
        else:
            current = trial
    if current.changes:
        plans.append(current)
    return plans


def _grouped_by_rollup_item(changes: list[StreamChange], zone: tzinfo) -> list[StreamChange]:
    """The changes reordered so that those touching the same rollup items sit together. Each source
    item's changes stay together and in stream order (its checkpoint and its old/new images need
    that); across sources the order is free, since every change is a commutative delta."""
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


def _state_after(plan: ChunkPlan, state: dict[str, ActivityItem]) -> dict[str, ActivityItem]:
    """Activity items as they stand once ``plan`` is committed (its transaction bumps their version)."""
    after = {c: item.copy() for c, item in state.items()}
    for customer_id, item in plan.customers.items():
        after[customer_id] = item.copy()
        after[customer_id].version = plan.before[customer_id].version + 1
    return after


def _with_change(plan: ChunkPlan, change: StreamChange, state: dict[str, ActivityItem], zone: tzinfo) -> ChunkPlan:
    """``plan`` with ``change`` added, as a new object (``plan`` is left as it was)."""
    trial = ChunkPlan(list(plan.changes), Counter(plan.rollups),
                      {c: item.copy() for c, item in plan.customers.items()}, dict(plan.before), list(plan.alerts),
                      plan.effective)
    trial.changes.append(change)

    def customer(customer_id: str) -> ActivityItem:
        if customer_id not in trial.customers:
            trial.before[customer_id] = state[customer_id].copy()
            trial.customers[customer_id] = state[customer_id].copy()
        return trial.customers[customer_id]

    owner = customer(str(change.owner))
    checkpoint = checkpoint_name(change.source)
    seen = owner.applied.get(checkpoint)
    if seen is not None and sequence_key(change.sequence) <= sequence_key(seen):
        return trial  # a redelivery: applied before, so it changes nothing
    owner.applied[checkpoint] = change.sequence
    trial.effective = True
    trial.rollups.update(delta(change.old, change.new, zone))
    for (customer_id, period_id), count in activity_delta(change.old, change.new, zone).items():
        item = customer(customer_id)
        item.periods[period_id] = item.periods.get(period_id, 0) + count
    if is_detractor(change.new) and change.new and str(change.new["survey_id"]) not in owner.alerted:
        owner.alerted[str(change.new["survey_id"])] = change.sequence
        trial.alerts.append(alert_record(change.new, zone))
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
