"""What each raw record contributes to the rollups (see docs/rollups.md), as pure functions.

The aggregator applies ``contribution(new image) - contribution(old image)`` for every stream
record, so an insert adds, a removal subtracts and an update moves a record from its old buckets to
its new ones; ``touchpoint rebuild`` sums ``contribution`` over the raw records and must find the
same numbers. Counters are integers, so every combination is exact.

Days and periods are those of the reporting time zone (``zone``, default UTC): a record counts on
the local day of its timestamp. The aggregator and the rebuild must use the same zone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, tzinfo
from typing import Any

from touchpoint.histogram import bucket_of
from touchpoint.metrics import SOLVED_STATUSES
from touchpoint.periods import day_of, parse_time, periods_of
from touchpoint.platform.table import (
    CUSTOMERS_SK,
    channel_rollup_sk,
    day_partition,
    period_partition,
    touchpoint_rollup_sk,
)

RollupKey = tuple[str, str, str]  # (pk, sk, counter attribute)
# Counters of events that leave no record behind (a link minted or held back is a step of the
# customer's contact item, not an item per link): the aggregator counts them, exactly once, from the
# contact item's changes; a rebuild cannot recount them from raw records (docs/rollups.md).
EVENT_COUNTER_PREFIXES = ("minted_", "held_back_")


def counts_in_metrics(record: Mapping[str, Any]) -> bool:
    """Suspected bots are kept as data but left out of every metric."""
    return not record.get("suspected_bot")


def contribution(record: Mapping[str, Any] | None, zone: tzinfo = UTC) -> Counter[RollupKey]:
    """The rollup counters one raw record adds (empty for records that are not measured)."""
    out: Counter[RollupKey] = Counter()
    if not record:
        return out
    kind = record.get("type")
    if kind == "response" and counts_in_metrics(record):
        _response(record, out, zone)
    elif kind == "response":
        # Kept out of every metric, but counted so the scorecard can say how many were set aside.
        day = day_of(parse_time(record["submitted_at"]), zone)
        out[(day_partition(day), touchpoint_rollup_sk(record["touchpoint"]), "suspected_bots")] += 1
    elif kind == "ticket":
        _ticket(record, out, zone)
    return out


def _response(record: Mapping[str, Any], out: Counter[RollupKey], zone: tzinfo) -> None:
    day = day_of(parse_time(record["submitted_at"]), zone)
    key = (day_partition(day), touchpoint_rollup_sk(record["touchpoint"]))
    metric, score = record["metric"], int(record["score"])
    out[(*key, f"{metric}_{score}")] += 1
    if metric == "nps" and record.get("s2e_fcr") is not None:
        out[(*key, f"s2e_{'fcr' if record['s2e_fcr'] else 'nonfcr'}_{score}")] += 1
    if record.get("source") == "link" and record.get("link_minted_at"):
        # Response rate: an answered link counts on the day its link was minted, like the mint itself.
        minted_day = day_of(parse_time(record["link_minted_at"]), zone)
        out[(day_partition(minted_day), touchpoint_rollup_sk(record["touchpoint"]), f"answered_{metric}")] += 1


def _ticket(record: Mapping[str, Any], out: Counter[RollupKey], zone: tzinfo) -> None:
    if record.get("status") not in SOLVED_STATUSES or not record.get("solved_at"):
        return
    solved_at = parse_time(record["solved_at"])
    created_at = parse_time(record["created_at"])
    key = (day_partition(day_of(solved_at, zone)), channel_rollup_sk(record.get("channel") or "other"))
    out[(*key, "solved")] += 1
    if record.get("fcr"):
        out[(*key, "fcr")] += 1
    if int(record.get("reopens") or 0) >= 1:
        out[(*key, "reopened")] += 1
    if record.get("handle_seconds") is not None:
        out[(*key, "aht_n")] += 1
        out[(*key, "aht_sum")] += int(record["handle_seconds"])
    if record.get("first_agent_reply_at"):
        seconds = max(0, round((parse_time(record["first_agent_reply_at"]) - created_at).total_seconds()))
        out[(*key, "frt_n")] += 1
        out[(*key, "frt_sum")] += seconds
        out[(*key, f"frt_b{bucket_of(seconds)}")] += 1
    seconds = max(0, round((solved_at - created_at).total_seconds()))
    out[(*key, "res_n")] += 1
    out[(*key, "res_sum")] += seconds
    out[(*key, f"res_b{bucket_of(seconds)}")] += 1


def activity(record: Mapping[str, Any] | None, zone: tzinfo = UTC) -> Counter[tuple[str, str]]:
    """(customer, period) -> how many of the customer's records make them active in that period:
    a response by its submitted_at, a ticket by its created_at, in local periods of ``zone``
    (docs/reference.md#metrics, "active")."""
    out: Counter[tuple[str, str]] = Counter()
    if not record or not record.get("customer_id") or not counts_in_metrics(record):
        return out
    stamp = {"response": "submitted_at", "ticket": "created_at"}.get(record.get("type", ""))
    if stamp is None or not record.get(stamp):
        return out
    for period_id in periods_of(parse_time(record[stamp]), zone):
        out[(record["customer_id"], period_id)] += 1
    return out


def contact_events(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None,
                   zone: tzinfo = UTC) -> Counter[RollupKey]:
    """The links minted and held back by one write of a customer's contact item: each write steps
    ``mints`` or ``held_back`` by one and names the touchpoint, metric and time of that step. A removal
    (erasure, TTL) subtracts nothing: these are anonymous counts of what was sent."""
    out: Counter[RollupKey] = Counter()
    if not new or new.get("type") != "contact":
        return out
    before = old if old and old.get("type") == "contact" else {}
    minted = int(new.get("mints") or 0) - int(before.get("mints") or 0)
    if minted > 0:
        day = day_of(parse_time(new["last_contact_at"]), zone)
        out[(day_partition(day), touchpoint_rollup_sk(new["touchpoint"]), f"minted_{new['metric']}")] += minted
    held_back = int(new.get("held_back") or 0) - int(before.get("held_back") or 0)
    if held_back > 0:
        day = day_of(parse_time(new["held_back_at"]), zone)
        out[(day_partition(day), touchpoint_rollup_sk(new["held_back_touchpoint"]),
             f"held_back_{new['held_back_metric']}")] += held_back
    return out


def delta(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None,
          zone: tzinfo = UTC) -> Counter[RollupKey]:
    change = contribution(new, zone)
    change.subtract(contribution(old, zone))
    change.update(contact_events(old, new, zone))
    return Counter({k: v for k, v in change.items() if v})


def activity_delta(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None,
                   zone: tzinfo = UTC) -> Counter[tuple[str, str]]:
    change = activity(new, zone)
    change.subtract(activity(old, zone))
    return Counter({k: v for k, v in change.items() if v})


def combine(deltas: Iterable[Counter[RollupKey]]) -> dict[tuple[str, str], dict[str, int]]:
    """Sum deltas and group them per rollup item: one write per item however many records."""
    total: Counter[RollupKey] = Counter()
    for change in deltas:
        total.update(change)
    items: dict[tuple[str, str], dict[str, int]] = {}
    for (pk, sk, attribute), value in total.items():
        if value:
            items.setdefault((pk, sk), {})[attribute] = value
    return items


def customer_counters(period_counts: Mapping[str, int]) -> Counter[RollupKey]:
    """One customer's share of the per-period customer counters, from how many of their records fall
    in each period: ``active`` (1 where they have any), ``retained`` (active here and in the
    previous period of the same granularity) and ``returning`` (active here and in any earlier one).
    The aggregator applies ``customer_counters(after) - customer_counters(before)`` per customer."""
    from touchpoint.periods import granularity, previous

    active = {p for p, count in period_counts.items() if count > 0}
    # Returning = not the customer's first active period of its granularity. One pass for the firsts
    # keeps this linear in the customer's periods (it runs for every change the aggregator plans).
    first: dict[str, str] = {}
    for period_id in active:
        kind = granularity(period_id)
        if kind not in first or period_id < first[kind]:
            first[kind] = period_id
    out: Counter[RollupKey] = Counter()
    for period_id in active:
        key = (period_partition(period_id), CUSTOMERS_SK)
        out[(*key, "active")] += 1
        if previous(period_id) in active:
            out[(*key, "retained")] += 1
        if period_id != first[granularity(period_id)]:
            out[(*key, "returning")] += 1
    return out


def customer_counters_delta(before: Mapping[str, int], after: Mapping[str, int]) -> Counter[RollupKey]:
    change = customer_counters(after)
    change.subtract(customer_counters(before))
    return Counter({k: v for k, v in change.items() if v})
