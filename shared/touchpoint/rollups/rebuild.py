"""Recompute every rollup from the raw records and compare with what the aggregator wrote.

Used by ``touchpoint rebuild`` and by the tests: zero drift means the stream path (with its
retries, redeliveries, updates and erasures) counted every record exactly once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from touchpoint.periods import days
from touchpoint.platform.table import day_partition, is_rollup_partition, period_partition
from touchpoint.rollups.contribution import (
    EVENT_COUNTER_PREFIXES,
    RollupKey,
    activity,
    combine,
    contribution,
    customer_counters,
)
from touchpoint.rollups.store import RollupStore

NON_COUNTER_ATTRIBUTES = {"pk", "sk", "type"}


@dataclass
class Drift:
    pk: str
    sk: str
    attribute: str
    stored: int
    expected: int


@dataclass
class RebuildReport:
    records: int = 0
    rollup_items: int = 0
    drift: list[Drift] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "rollup_items": self.rollup_items, "drift": len(self.drift),
                "differences": [d.__dict__ for d in self.drift]}


def expected_rollups(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, int]]:
    """The rollup items a perfect aggregator would hold for these raw records."""
    counters: Counter[RollupKey] = Counter()
    per_customer: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        counters.update(contribution(record))
        for (customer_id, period_id), count in activity(record).items():
            per_customer[customer_id][period_id] += count
    for period_counts in per_customer.values():
        counters.update(customer_counters(period_counts))
    return combine([counters])


def compare(expected: Mapping[tuple[str, str], Mapping[str, int]],
            stored: Mapping[tuple[str, str], Mapping[str, Any]], keep: Any = None) -> list[Drift]:
    drift: list[Drift] = []
    for key in sorted(set(expected) | set(stored)):
        if keep is not None and not keep(key):
            continue
        want = expected.get(key, {})
        have = {k: int(v) for k, v in stored.get(key, {}).items()
                if k not in NON_COUNTER_ATTRIBUTES and not k.startswith(EVENT_COUNTER_PREFIXES)}
        for attribute in sorted(set(want) | set(have)):
            if int(want.get(attribute, 0)) != have.get(attribute, 0):
                drift.append(Drift(key[0], key[1], attribute, have.get(attribute, 0), int(want.get(attribute, 0))))
    return drift


def rebuild(store: RollupStore, period_id: str | None = None) -> RebuildReport:
    """Scan the table once (a maintenance job, not a request path) and report the drift."""
    raw: list[dict[str, Any]] = []
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for item in store.all_items():
        if item.get("type") in ("response", "ticket"):
            raw.append(item)
        elif is_rollup_partition(str(item.get("pk", ""))):
            stored[(item["pk"], item["sk"])] = item
    keep = None
    if period_id:
        wanted = {day_partition(day) for day in days(period_id)} | {period_partition(period_id)}
        keep = lambda key: key[0] in wanted  # noqa: E731 - a one-line filter
    report = RebuildReport(records=len(raw), rollup_items=len(stored))
    report.drift = compare(expected_rollups(raw), stored, keep)
    return report
