"""Recompute every rollup from the raw records and compare with what the aggregator wrote.

Used by ``touchpoint rebuild`` and by the tests: zero drift means the stream path (with its
retries, redeliveries, updates and erasures) counted every record exactly once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any

from touchpoint.periods import days, parse_time
from touchpoint.platform.table import day_partition, is_rollup_partition, period_partition, ticket_index_key
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
    repaired_items: int = 0  # with ``repair``: rollup and activity items rewritten

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "rollup_items": self.rollup_items, "drift": len(self.drift),
                "repaired_items": self.repaired_items, "differences": [d.__dict__ for d in self.drift]}


def _expected_state(records: Iterable[Mapping[str, Any]], zone: tzinfo
                    ) -> tuple[dict[tuple[str, str], dict[str, int]], dict[str, Counter[str]]]:
    """The rollup items, and each customer's records per period, that a perfect aggregator of
    reporting zone ``zone`` would hold for these raw records."""
    counters: Counter[RollupKey] = Counter()
    per_customer: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        counters.update(contribution(record, zone))
        for (customer_id, period_id), count in activity(record, zone).items():
            per_customer[customer_id][period_id] += count
    for period_counts in per_customer.values():
        counters.update(customer_counters(period_counts))
    return combine([counters]), per_customer


def expected_rollups(records: Iterable[Mapping[str, Any]],
                     zone: tzinfo = UTC) -> dict[tuple[str, str], dict[str, int]]:
    """The rollup items a perfect aggregator of reporting zone ``zone`` would hold for these raw records."""
    return _expected_state(records, zone)[0]


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


def rebuild(store: RollupStore, period_id: str | None = None, zone: tzinfo = UTC, *,
            repair: bool = False) -> RebuildReport:
    """Scan the table once (a maintenance job, not a request path) and report the drift against the
    rollups of reporting zone ``zone`` (the aggregator's ``ReportingTimezone``).

    ``repair`` (whole table only) then writes the recomputed rollups and every customer's per-period
    counts: what changing ``ReportingTimezone`` later needs, since days and periods move; and gives
    ticket states written by an earlier version their solve-time index key. Run it while no records
    arrive; a run afterwards reports zero drift."""
    if repair and period_id:
        raise ValueError("a repair recomputes every period; leave out the period")
    raw: list[dict[str, Any]] = []
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    activity_items: dict[str, dict[str, Any]] = {}
    for item in store.all_items():
        if item.get("type") in ("response", "ticket"):
            raw.append(item)
        elif is_rollup_partition(str(item.get("pk", ""))):
            stored[(item["pk"], item["sk"])] = item
        elif item.get("type") == "activity":
            activity_items[str(item["pk"])] = item
    keep = None
    if period_id:
        wanted = {day_partition(day) for day in days(period_id)} | {period_partition(period_id)}
        keep = lambda key: key[0] in wanted  # noqa: E731 - a one-line filter
    expected, per_customer = _expected_state(raw, zone)
    report = RebuildReport(records=len(raw), rollup_items=len(stored))
    report.drift = compare(expected, stored, keep)
    if repair:
        report.repaired_items = _repair(store, expected, stored, per_customer, activity_items)
        report.repaired_items += _reindex_tickets(store, [item for item in raw if item.get("type") == "ticket"])
    return report


def _reindex_tickets(store: RollupStore, tickets: list[dict[str, Any]]) -> int:
    """Ticket states written before solved tickets sorted by solve time in the ByCustomer index get
    their index sort key, so intake's one-entry lookup of the latest solve finds them."""
    moved = 0
    for ticket in tickets:
        solved = ticket.get("solved_at")
        wanted = ticket_index_key(str(ticket["customer_id"]), str(ticket["provider"]), str(ticket["ticket_id"]),
                                  str(ticket.get("status")), parse_time(str(solved)) if solved else None)["gsi1sk"]
        if ticket.get("gsi1sk") != wanted:
            store.set_index_sort_key(str(ticket["pk"]), str(ticket["sk"]), wanted)
            moved += 1
    return moved


def _repair(store: RollupStore, expected: Mapping[tuple[str, str], Mapping[str, int]],
            stored: Mapping[tuple[str, str], Mapping[str, Any]], per_customer: Mapping[str, Counter[str]],
            activity_items: Mapping[str, Mapping[str, Any]]) -> int:
    """Make the stored state what ``expected`` says: rollup items that differ are rewritten, stale ones
    deleted, and activity items get their customer's recomputed per-period counts (the aggregator
    derives the customer counters from them, so they must move with the zone too)."""
    differing = {k: v for k, v in expected.items() if compare({k: v}, {k: stored[k]} if k in stored else {})}
    written = store.replace_rollups(differing, [k for k in stored if k not in expected])
    recomputed = {store.activity_pk(customer_id): counts for customer_id, counts in per_customer.items()}
    for activity_pk, item in activity_items.items():
        periods = {p: n for p, n in recomputed.get(activity_pk, Counter()).items() if n}
        if {p: int(n) for p, n in (item.get("periods") or {}).items() if int(n)} != periods:
            store.replace_activity_periods(activity_pk, periods, int(item.get("version") or 0))
            written += 1
    return written
