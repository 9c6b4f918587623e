"""Exactly-once stream aggregation (see docs/aggregation.md).

DynamoDB Streams delivers every change at least once, and Lambda retries whole batches. Each change
therefore carries its own checkpoint: the stream sequence number of the last change applied for a
source item, kept in the activity item of the customer the item belongs to. A chunk of changes is
applied in ONE TransactWriteItems holding the combined rollup counters, the customer counters, the
activity items (with their checkpoints, guarded by a version condition) and detractor alerts; either
all of it lands or none does. A redelivered change finds its sequence number at or below the
checkpoint and is skipped, so nothing is counted twice, whatever was retried.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .dynamo import from_item, key_of, to_item
from .rollups import RollupKey, activity_delta, combine, customer_counters_delta, delta

MAX_TRANSACTION_ACTIONS = 100
MAX_CONFLICT_RETRIES = 5
ACTIVITY_SK = "ACTIVITY"
MEASURED_TYPES = ("response", "ticket")
ALERT_THRESHOLDS = {"nps": 6, "csat": 2, "ces": 3}  # at or below: a detractor (SPEC closed loop)


@dataclass(frozen=True)
class StreamChange:
    """One stream record, images as plain Python values."""

    event_id: str
    sequence: str
    event_name: str
    pk: str
    sk: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None

    @property
    def source(self) -> str:
        return f"{self.pk}|{self.sk}"

    @property
    def measured(self) -> bool:
        return any(image and image.get("type") in MEASURED_TYPES for image in (self.old, self.new))

    @property
    def owner(self) -> str | None:
        """The customer whose activity item keeps this record's checkpoint."""
        for image in (self.new, self.old):
            if image and image.get("customer_id"):
                return str(image["customer_id"])
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


def change_from_record(record: Any) -> StreamChange:
    """From Powertools' parsed ``DynamoDBStreamRecordModel``."""
    data = record.dynamodb
    keys = _plain(data.Keys)
    return StreamChange(
        event_id=record.eventID,
        sequence=data.SequenceNumber,
        event_name=record.eventName,
        pk=str(keys.get("pk", "")),
        sk=str(keys.get("sk", "")),
        old=_plain(data.OldImage) if data.OldImage else None,
        new=_plain(data.NewImage) if data.NewImage else None,
    )


def sequence_key(sequence: str) -> tuple[int, str]:
    """Stream sequence numbers are decimal strings of varying length: compare them as numbers."""
    return len(sequence), sequence


def customer_hash(customer_id: str) -> str:
    # Activity items outlive an erasure by a couple of days (they hold the checkpoints that make the
    # erasure's own REMOVE records exactly-once); a hash keeps the customer id itself out of them.
    return hashlib.sha256(customer_id.encode("utf-8")).hexdigest()[:32]


def activity_key(customer_id: str) -> tuple[str, str]:
    return f"ACT#{customer_hash(customer_id)}", ACTIVITY_SK


def is_detractor(image: Mapping[str, Any] | None) -> bool:
    if not image or image.get("type") != "response" or image.get("suspected_bot"):
        return False
    threshold = ALERT_THRESHOLDS.get(str(image.get("metric")))
    return threshold is not None and int(image.get("score", 99)) <= threshold


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


class TransactionConflict(RuntimeError):
    """Another writer changed an activity item between our read and our write."""


class Aggregator:
    """Applies stream changes to the rollups, exactly once, through one DynamoDB client."""

    def __init__(self, client: Any, table_name: str, *, now_epoch: Any = None) -> None:
        self._client = client
        self._table = table_name
        import time

        self._now = now_epoch or time.time
        self.transactions = 0  # for tests and benchmarks: how many TransactWriteItems calls landed

    # ----------------------------------------------------------------------------- reads
    def _read_activity(self, customer_ids: Iterable[str]) -> dict[str, ActivityItem]:
        wanted = sorted(set(customer_ids))
        found: dict[str, Mapping[str, Any]] = {}
        by_key = {activity_key(c)[0]: c for c in wanted}
        for start in range(0, len(wanted), 100):
            keys = [key_of(*activity_key(c)) for c in wanted[start:start + 100]]
            request = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                page = self._client.batch_get_item(RequestItems=request)
                for item in page["Responses"].get(self._table, []):
                    record = from_item(item)
                    found[by_key[record["pk"]]] = record
                request = page.get("UnprocessedKeys") or {}
        return {c: ActivityItem.from_record(c, found.get(c)) for c in wanted}

    # ----------------------------------------------------------------------------- planning
    @staticmethod
    def plan(changes: list[StreamChange], activity: dict[str, ActivityItem]) -> list[ChunkPlan]:
        """Split ``changes`` into chunks that each fit one transaction; each chunk starts from the
        activity items as the previous chunk leaves them. Changes that touch the same rollup items
        are put in the same chunk, so a batch writes each counter item about once."""
        plans: list[ChunkPlan] = []
        state = {c: item.copy() for c, item in activity.items()}
        current = ChunkPlan()
        for change in _grouped_by_rollup_item(changes):
            trial = _with_change(current, change, state)
            if trial.action_count() > MAX_TRANSACTION_ACTIONS and current.changes:
                plans.append(current)
                state = _state_after(current, state)
                current = _with_change(ChunkPlan(), change, state)
            else:
                current = trial
        if current.changes:
            plans.append(current)
        return plans

    # ----------------------------------------------------------------------------- writing
    def apply(self, changes: list[StreamChange]) -> None:
        """Apply changes in stream order. Raises ``ChunkFailed`` naming the first change not applied."""
        measured = [c for c in changes if c.measured and c.owner]
        if not measured:
            return
        remaining = measured
        conflicts = 0
        while remaining:
            involved = {c for ch in remaining for c in _customers_of(ch)}
            activity = self._read_activity(involved)
            plans = self.plan(remaining, activity)
            try:
                for plan in plans:
                    self._commit(plan)
                    committed = {id(change) for change in plan.changes}
                    remaining = [change for change in remaining if id(change) not in committed]
            except TransactionConflict:
                conflicts += 1
                if conflicts > MAX_CONFLICT_RETRIES:
                    raise ChunkFailed(_earliest(remaining), "activity items kept changing under us") from None
                continue  # re-read what changed and plan the rest again
            except Exception as exc:
                # Lambda resumes from the earliest change not applied; later ones that were applied
                # come again and are skipped by their checkpoints.
                raise ChunkFailed(_earliest(remaining), str(exc)) from exc

    def _commit(self, plan: ChunkPlan) -> None:
        if not plan.effective:
            return  # every change was applied before: nothing to write
        actions: list[dict[str, Any]] = []
        for (pk, sk), counters in sorted(plan.counter_items().items()):
            names = {f"#c{i}": name for i, name in enumerate(counters)}
            values = {f":c{i}": {"N": str(value)} for i, value in enumerate(counters.values())}
            actions.append({"Update": {
                "TableName": self._table, "Key": key_of(pk, sk),
                "UpdateExpression": "SET #type = :rollup ADD " + ", ".join(f"{n} {v}" for n, v in zip(
                    names, values, strict=True)),
                "ExpressionAttributeNames": {**names, "#type": "type"},
                "ExpressionAttributeValues": {**values, ":rollup": {"S": "rollup"}},
            }})
        for customer_id, after in sorted(plan.customers.items()):
            pk, sk = activity_key(customer_id)
            item = {"pk": pk, "sk": sk, "type": "activity", "periods": {p: n for p, n in after.periods.items() if n},
                    "applied": after.applied, "alerted": after.alerted, "version": after.version + 1}
            if not any(after.periods.values()):
                # Nothing of the customer is left (erased): keep the checkpoints past the stream's
                # 24-hour retention, then let TTL remove the item.
                item["expires_at"] = int(self._now()) + 3 * 86400
            condition = "attribute_not_exists(pk)" if after.version == 0 else "version = :v"
            put: dict[str, Any] = {"TableName": self._table, "Item": to_item(item), "ConditionExpression": condition}
            if after.version:
                put["ExpressionAttributeValues"] = {":v": {"N": str(after.version)}}
            actions.append({"Put": put})
        for alert in plan.alerts:
            actions.append({"Put": {"TableName": self._table, "Item": to_item(alert)}})
        try:
            self._client.transact_write_items(TransactItems=actions)
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                raise TransactionConflict(str(reasons)) from exc
            raise
        self.transactions += 1


    # ----------------------------------------------------------------------------- alert outbox
    def alert_unpublished(self, change: StreamChange) -> bool:
        """True while the alert item exists and carries no ``published_at`` (not erased, not sent)."""
        item = self._client.get_item(TableName=self._table, Key=key_of(change.pk, change.sk),
                                     ConsistentRead=True).get("Item")
        return bool(item) and "published_at" not in item

    def mark_alert_published(self, change: StreamChange) -> None:
        # An alert erased in the meantime has nothing left to mark.
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self._table, Key=key_of(change.pk, change.sk),
                UpdateExpression="SET published_at = :t", ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":t": {"N": str(int(self._now()))}},
            )


class ChunkFailed(RuntimeError):
    def __init__(self, first_unapplied: StreamChange, reason: str) -> None:
        super().__init__(f"changes from sequence {first_unapplied.sequence} not applied: {reason}")
        self.first_unapplied = first_unapplied


def _earliest(changes: list[StreamChange]) -> StreamChange:
    return min(changes, key=lambda change: sequence_key(change.sequence))


def _grouped_by_rollup_item(changes: list[StreamChange]) -> list[StreamChange]:
    """The changes reordered so that those touching the same rollup items sit together. Each source
    item's changes stay together and in stream order (its checkpoint and its old/new images need
    that); across sources the order is free, since every change is a commutative delta."""
    by_source: dict[str, list[StreamChange]] = {}
    for change in changes:
        by_source.setdefault(change.source, []).append(change)

    def first_rollup_item(source_changes: list[StreamChange]) -> tuple[str, ...]:
        keys = sorted((pk, sk) for change in source_changes for pk, sk, _ in delta(change.old, change.new))
        return keys[0] if keys else ("~",)  # changes that move no counter go last

    ordered = sorted(by_source.values(), key=first_rollup_item)
    return [change for source_changes in ordered for change in source_changes]


def _customers_of(change: StreamChange) -> set[str]:
    return {str(image["customer_id"]) for image in (change.old, change.new) if image and image.get("customer_id")}


def _state_after(plan: ChunkPlan, state: dict[str, ActivityItem]) -> dict[str, ActivityItem]:
    """Activity items as they stand once ``plan`` is committed (its transaction bumps their version)."""
    after = {c: item.copy() for c, item in state.items()}
    for customer_id, item in plan.customers.items():
        after[customer_id] = item.copy()
        after[customer_id].version = plan.before[customer_id].version + 1
    return after


def _with_change(plan: ChunkPlan, change: StreamChange, state: dict[str, ActivityItem]) -> ChunkPlan:
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
    seen = owner.applied.get(change.source)
    if seen is not None and sequence_key(change.sequence) <= sequence_key(seen):
        return trial  # a redelivery: applied before, so it changes nothing
    owner.applied[change.source] = change.sequence
    trial.effective = True
    trial.rollups.update(delta(change.old, change.new))
    for (customer_id, period_id), count in activity_delta(change.old, change.new).items():
        item = customer(customer_id)
        item.periods[period_id] = item.periods.get(period_id, 0) + count
    if is_detractor(change.new) and change.new and str(change.new["survey_id"]) not in owner.alerted:
        owner.alerted[str(change.new["survey_id"])] = change.sequence
        trial.alerts.append(alert_record(change.new))
    return trial


def alert_record(response: Mapping[str, Any]) -> dict[str, Any]:
    """The closed-loop outbox item for a detractor response; its own stream record is published as
    ``DetractorReceived``. Keyed by day, lowest score first, so the scorecard reads a bounded number of
    a period's worst comments whatever the volume."""
    day = str(response["submitted_at"])[:10]
    return {
        "pk": f"ALERT#{day}", "sk": f"{int(response['score']):02d}#{response['submitted_at']}#{response['survey_id']}",
        "type": "alert",
        "survey_id": response["survey_id"], "customer_id": response["customer_id"],
        "touchpoint": response["touchpoint"], "metric": response["metric"], "score": int(response["score"]),
        "comment": response.get("comment"), "submitted_at": response["submitted_at"],
        "gsi1pk": f"CUST#{response['customer_id']}", "gsi1sk": f"ALERT#{response['survey_id']}",
    }



def alert_detail(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The ``DetractorReceived`` event body; ``alert_id`` lets consumers drop a rare re-delivery."""
    return {
        "alert_id": f"detractor:{alert['survey_id']}",
        "customer_id": alert["customer_id"], "touchpoint": alert["touchpoint"], "metric": alert["metric"],
        "score": int(alert["score"]), "comment": alert.get("comment"), "submitted_at": alert["submitted_at"],
        "survey_id": alert["survey_id"],
    }


def without_changes_blocked_by(failed_records: list[Mapping[str, Any]],
                               changes: list[StreamChange]) -> list[StreamChange]:
    """The changes that may apply although ``failed_records`` (raw stream records) could not be read:
    all but the later changes of the same items. A failed record whose keys cannot be read either
    blocks every change after it."""
    blocked: dict[str, tuple[int, str]] = {}
    cutoff: tuple[int, str] | None = None
    for record in failed_records:
        data = record.get("dynamodb") if isinstance(record, Mapping) else None
        sequence = str((data or {}).get("SequenceNumber", "")) if isinstance(data, Mapping) else ""
        if not sequence:
            continue  # Powertools could not report it either; nothing to order against
        keys = data.get("Keys") if isinstance(data, Mapping) else None
        try:
            source = f"{keys['pk']['S']}|{keys['sk']['S']}"  # type: ignore[index]
        except (KeyError, TypeError):
            cutoff = min(cutoff or sequence_key(sequence), sequence_key(sequence))
            continue
        blocked[source] = min(blocked.get(source, sequence_key(sequence)), sequence_key(sequence))
    return [c for c in changes
            if (cutoff is None or sequence_key(c.sequence) < cutoff)
            and not (c.source in blocked and sequence_key(c.sequence) > blocked[c.source])]


def new_alerts(changes: Iterable[StreamChange]) -> list[StreamChange]:
    return [c for c in changes if c.event_name == "INSERT" and c.new and c.new.get("type") == "alert"]


def handle_changes(changes: list[StreamChange], aggregator: Aggregator, publisher: Any, logger: Any) -> list[str]:
    """Apply a batch's changes and publish the detractor alerts it contains; returns the sequence
    numbers to report as failed (the first change not applied or not published)."""
    failures: list[str] = []
    cutoff: tuple[int, str] | None = None
    try:
        aggregator.apply(changes)
    except ChunkFailed as failed:
        logger.exception("rollup chunk failed", extra={"sequence": failed.first_unapplied.sequence})
        failures.append(failed.first_unapplied.sequence)
        cutoff = sequence_key(failed.first_unapplied.sequence)
    for change in new_alerts(changes):
        if cutoff is not None and sequence_key(change.sequence) >= cutoff:
            break  # it will come again with the retried records
        try:
            # Publish, then mark: a redelivered alert record finds the mark and is not sent again.
            if aggregator.alert_unpublished(change):
                publisher.publish("DetractorReceived", alert_detail(change.new or {}))
                aggregator.mark_alert_published(change)
        except Exception:
            logger.exception("DetractorReceived not published", extra={"sequence": change.sequence})
            failures.append(change.sequence)
            break
    return failures
