"""Exactly-once stream aggregation (docs/aggregation.md): the AggregatorFunction's one entry point.

DynamoDB Streams delivers every change at least once, and Lambda retries a batch from its first record
after a crash, or from the record a failure was reported at. The plan (``rollups.plan``) turns a batch
into transactions that each add their sequence numbers to the delivery's marker; the store commits
them; a conflict re-reads and plans again. When a failure is reported at a later record, that record's
own marker is told what was applied after it (``hand_over``), since the retry will start there.
Detractor alerts written by a transaction are then published once (outbox: publish, then mark).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, tzinfo
from typing import Any, Protocol

from touchpoint.rollups.changes import Delivery, StreamChange, new_alerts, sequence_key
from touchpoint.rollups.plan import customers_of, plan
from touchpoint.rollups.store import RollupStore, TransactionConflict

MAX_CONFLICT_RETRIES = 5
# Full-jitter exponential backoff before reading again after a cancelled transaction: the other shard's
# transaction holds the same rollup items for tens of milliseconds; trying again at once mostly meets it.
BACKOFF_BASE_SECONDS = 0.025
BACKOFF_CAP_SECONDS = 1.0


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class ChunkFailed(RuntimeError):
    def __init__(self, first_unapplied: StreamChange, reason: str) -> None:
        super().__init__(f"changes from sequence {first_unapplied.sequence} not applied: {reason}")
        self.first_unapplied = first_unapplied


class Aggregator:
    """Applies stream changes to the rollups, exactly once, through one ``RollupStore``; days and
    periods are those of ``zone`` (the reporting time zone)."""

    def __init__(self, store: RollupStore, zone: tzinfo = UTC, pause: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        self.store = store
        self.zone = zone
        self._pause = pause  # the backoff's sleep (a benchmark's virtual clock passes its own)
        self._jitter = jitter
        self.applied: frozenset[str] = frozenset()  # what the last delivery applied, this attempt or before

    @property
    def transactions(self) -> int:
        return self.store.transactions

    def apply(self, changes: list[StreamChange], delivery: Delivery | None = None) -> None:
        """Apply changes in stream order, once per ``delivery`` (by default: exactly these changes).
        Raises ``ChunkFailed`` naming the first change not applied."""
        delivery = delivery or Delivery.of(changes)
        self.applied = frozenset()
        measured = [c for c in changes if c.measured and c.owner]
        if not measured:
            return
        remaining = measured
        conflicts = 0
        while remaining:
            involved = {c for ch in remaining for c in customers_of(ch)}
            activity = self.store.read_activity(involved)
            marker = self.store.read_delivery(delivery.first_event_id)
            self.applied = marker.applied
            try:
                for chunk in plan(remaining, activity, marker, self.zone):
                    self.store.commit(chunk)
                    self.applied = self.applied | set(chunk.applied)
                    committed = {id(change) for change in chunk.changes}
                    remaining = [change for change in remaining if id(change) not in committed]
            except TransactionConflict as conflict:
                conflicts += 1
                if conflicts > MAX_CONFLICT_RETRIES:
                    reason = ("activity items kept changing under us" if conflict.stale
                              else "other transactions kept writing the same rollup items")
                    raise ChunkFailed(_earliest(remaining), reason) from None
                self._pause(self._jitter() * min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** conflicts))
                continue  # re-read what changed and plan the rest again
            except Exception as exc:
                # Lambda resumes from the earliest change not applied; what was applied after it is
                # handed over to that record's marker (handle_changes).
                raise ChunkFailed(_earliest(remaining), str(exc)) from exc

    def hand_over(self, delivery: Delivery, resume_at: str) -> None:
        """Lambda will retry from the record at sequence ``resume_at``: give that retry's marker the
        sequences after it that this delivery applied. Raises when it cannot be written (then the
        function fails and Lambda retries the whole batch, which its own marker covers)."""
        resume_event_id = delivery.event_ids.get(resume_at)
        if resume_event_id is None or resume_event_id == delivery.first_event_id:
            return  # the retry starts where this delivery did: its own marker says it all
        cutoff = sequence_key(resume_at)
        self.store.hand_over(resume_event_id, [s for s in self.applied if sequence_key(s) > cutoff])


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


def handle_changes(changes: list[StreamChange], delivery: Delivery, aggregator: Aggregator,
                   publisher: EventPublisher, logger: Any, unreadable: list[str] | None = None) -> list[str]:
    """Apply a batch's changes and publish the detractor alerts it contains; returns the sequence
    numbers to report as failed: ``unreadable`` (records that could not be parsed), the first change
    not applied, the first alert not published."""
    failures: list[str] = list(unreadable or [])
    cutoff: tuple[int, str] | None = None
    try:
        aggregator.apply(changes, delivery)
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
    if failures:
        aggregator.hand_over(delivery, min(failures, key=sequence_key))
    return failures
