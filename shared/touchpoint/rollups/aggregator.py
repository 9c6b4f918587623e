"""Exactly-once stream aggregation (docs/aggregation.md): the AggregatorFunction's one entry point.

DynamoDB Streams delivers every change at least once, and Lambda retries whole batches. The plan
(``rollups.plan``) turns a batch into transactions that carry each source item's checkpoint; the
store commits them; a conflict re-reads and plans again. Detractor alerts written by a transaction
are then published once (outbox: publish, then mark).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, tzinfo
from typing import Any, Protocol

from touchpoint.rollups.changes import StreamChange, new_alerts, sequence_key
from touchpoint.rollups.plan import customers_of, plan
from touchpoint.rollups.store import RollupStore, TransactionConflict

MAX_CONFLICT_RETRIES = 5


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class ChunkFailed(RuntimeError):
    def __init__(self, first_unapplied: StreamChange, reason: str) -> None:
        super().__init__(f"changes from sequence {first_unapplied.sequence} not applied: {reason}")
        self.first_unapplied = first_unapplied


class Aggregator:
    """Applies stream changes to the rollups, exactly once, through one ``RollupStore``; days and
    periods are those of ``zone`` (the reporting time zone)."""

    def __init__(self, store: RollupStore, zone: tzinfo = UTC) -> None:
        self.store = store
        self.zone = zone

    @property
    def transactions(self) -> int:
        return self.store.transactions

    def apply(self, changes: list[StreamChange]) -> None:
        """Apply changes in stream order. Raises ``ChunkFailed`` naming the first change not applied."""
        measured = [c for c in changes if c.measured and c.owner]
        if not measured:
            return
        remaining = measured
        conflicts = 0
        while remaining:
            involved = {c for ch in remaining for c in customers_of(ch)}
            plans = plan(remaining, self.store.read_activity(involved), self.zone)
            try:
                for chunk in plans:
                    self.store.commit(chunk)
                    committed = {id(change) for change in chunk.changes}
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


def _earliest(changes: list[StreamChange]) -> StreamChange:
    return min(changes, key=lambda change: sequence_key(change.sequence))


def alert_detail(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The ``DetractorReceived`` event body; ``alert_id`` lets consumers drop a rare re-delivery."""
    return {
        "alert_id": f"detractor:{alert['survey_id']}",
        "customer_id": alert["customer_id"], "touchpoint": alert["touchpoint"], "metric": alert["metric"],
        "score": int(alert["score"]), "comment": alert.get("comment"), "submitted_at": alert["submitted_at"],
        "survey_id": alert["survey_id"],
    }


def handle_changes(changes: list[StreamChange], aggregator: Aggregator, publisher: EventPublisher,
                   logger: Any) -> list[str]:
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
            if aggregator.store.alert_unpublished(change.pk, change.sk):
                publisher.publish("DetractorReceived", alert_detail(change.new or {}))
                aggregator.store.mark_alert_published(change.pk, change.sk)
        except Exception:
            logger.exception("DetractorReceived not published", extra={"sequence": change.sequence})
            failures.append(change.sequence)
            break
    return failures
