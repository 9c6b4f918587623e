"""The CX and CS scorecards (docs/reference.md#scorecard-json), computed from rollup items (docs/rollups.md).

Pure: no AWS, no clock. The caller reads the day items of the period (``ROLLUP#D#<day>`` with
``TP#<touchpoint>`` and ``CH#<channel>`` sort keys) and the ``CUSTOMERS`` items of the period and the
one before; everything here is arithmetic on those integer counters, so a scorecard costs the same
number of reads for a thousand responses as for a million.

Periods are those of the reporting time zone: ``period`` names it and carries the local first and
last day (``start``/``end``) and the instants the period spans (``start_at``/``end_at``, local time
with its offset). ``trend`` holds the last ``TREND_PERIODS`` periods' headline metrics, oldest first,
from the same day items (the reader reads each period's days once).

Values are unrounded floats and ``None`` when n = 0 . Beyond the required keys, every metric
object carries ``low_sample`` (n below ``min_sample``) and ``status`` (green / amber / red against
``Targets``, ``None`` without a value or a target).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, tzinfo
from decimal import Decimal
from typing import Any, Protocol

from touchpoint.catalog import Catalog
from touchpoint.errors import ApiError
from touchpoint.metrics import (
    CHANNEL_ORDER,
    SURVEY_METRICS,
    Targets,
    csat_from_counts,
    headline_value,
    nps_from_counts,
    response_rate,
    retention_metric,
    score_counts,
    ticket_metrics,
)
from touchpoint.periods import bounds, days, is_period, last, local_bounds, zone_name
from touchpoint.periods import previous as previous_period
from touchpoint.platform.table import CHANNEL_ROLLUP_PREFIX, TOUCHPOINT_ROLLUP_PREFIX, day_partition


class RollupSource(Protocol):
    """What the scorecard reads: a period's day rollups, its customer counters, its worst comments."""

    def day_items(self, period_id: str) -> dict[tuple[str, str], dict[str, int]]: ...

    def customer_counters(self, period_id: str) -> dict[str, int]: ...

    def detractor_comments(self, period_id: str) -> list[dict[str, Any]]: ...


TREND_PERIODS = 8  # the trend: this period and the seven before it
TREND_METRICS = {"cx": ("nps", "csat", "ces"), "cs": ("fcr", "frt_seconds", "reopen_rate")}


# Assembly ---------------------------------------------------------------------------------------
def _counter_sums(
    period_id: str, day_items: Mapping[tuple[str, str], Mapping[str, Any]]
) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    """Per touchpoint and per channel, the counters summed over the period's days. Items of other
    days are ignored (a caller may pass a superset) and non-numeric attributes are skipped, so whole
    DynamoDB items (Decimal values, pk/sk strings) are accepted too."""
    wanted = {day_partition(day) for day in days(period_id)}
    touchpoints: dict[str, Counter[str]] = {}
    channels: dict[str, Counter[str]] = {}
    for (pk, sk), attributes in day_items.items():
        kind, _, name = sk.partition("#")
        into = {TOUCHPOINT_ROLLUP_PREFIX: touchpoints, CHANNEL_ROLLUP_PREFIX: channels}.get(kind + "#")
        if pk not in wanted or into is None or not name:
            continue
        total = into.setdefault(name, Counter())
        for attribute, amount in attributes.items():
            if isinstance(amount, int | Decimal) and not isinstance(amount, bool):
                total[attribute] += int(amount)
    return touchpoints, channels


def _decorate(metric: str, metric_object: dict[str, Any], n: int, targets: Targets, min_sample: int) -> dict:
    metric_object["low_sample"] = n < min_sample
    metric_object["status"] = targets.status(metric, headline_value(metric, metric_object))
    return metric_object


def _survey_block(counters: Mapping[str, int], targets: Targets, min_sample: int, *,
                  csat_target: str = "csat") -> dict[str, dict[str, Any]]:
    block = {}
    for metric, build in SURVEY_METRICS.items():
        metric_object = build(score_counts(counters, metric, metric))
        target_name = csat_target if metric == "csat" else metric
        block[metric] = _decorate(target_name, metric_object, metric_object["n"], targets, min_sample)
    return block


def _ticket_block(counters: Mapping[str, int], targets: Targets, min_sample: int) -> dict[str, dict[str, Any]]:
    return {metric: _decorate(metric, metric_object, metric_object["n"], targets, min_sample)
            for metric, metric_object in ticket_metrics(counters).items()}


def _ordered(names: list[str], preferred: list[str] | tuple[str, ...]) -> list[str]:
    known = [name for name in preferred if name in names]
    return known + sorted(set(names) - set(known))


def _period(period_id: str, zone: tzinfo) -> dict[str, str]:
    start, end = bounds(period_id)
    start_at, end_at = local_bounds(period_id, zone)
    return {"id": period_id, "start": start.isoformat(), "end": end.isoformat(), "timezone": zone_name(zone),
            "start_at": start_at.isoformat(), "end_at": end_at.isoformat()}


def _trend(period_id: str, day_items: Mapping[tuple[str, str], Mapping[str, Any]], targets: Targets,
           min_sample: int) -> list[dict[str, Any]]:
    """The headline metrics of the ``TREND_PERIODS`` periods ending with ``period_id``, oldest first;
    a period without items has its metrics with n = 0 and null values."""
    entries = []
    for trend_period in last(period_id, TREND_PERIODS):
        per_touchpoint, per_channel = _counter_sums(trend_period, day_items)
        surveys = _survey_block(sum(per_touchpoint.values(), Counter()), targets, min_sample)
        tickets = _ticket_block(sum(per_channel.values(), Counter()), targets, min_sample)
        entries.append({"period": trend_period,
                        "cx": {metric: surveys[metric] for metric in TREND_METRICS["cx"]},
                        "cs": {metric: tickets[metric] for metric in TREND_METRICS["cs"]}})
    return entries


def build_scorecard(
    period_id: str,
    day_items: Mapping[tuple[str, str], Mapping[str, int]],
    period_items: Mapping[str, Mapping[str, int]],
    catalog: Catalog,
    *,
    previous: dict | None = None,
    targets: Targets | None = None,
    min_sample: int = 30,
    top_comments: list[dict] | None = None,
    zone: tzinfo = UTC,
) -> dict[str, Any]:
    """The scorecard of ``period_id`` in reporting zone ``zone``.

    ``day_items``: (pk, sk) -> counters of the period's day rollup items, and of the seven periods
    before it for the trend (items of other days are ignored). ``period_items``: period id
    -> ``CUSTOMERS`` counters, for this period and the previous one (the retention base).
    ``previous``: the previous period's scorecard (or just its ``cx`` and ``cs``), echoed under
    ``previous`` for the comparison. ``top_comments``: detractor comments to show, as
    ``{touchpoint, score, comment, submitted_at}``.
    """
    targets = targets or Targets()
    before_id = previous_period(period_id)
    if previous and isinstance(previous.get("period"), Mapping) and previous["period"].get("id") != before_id:
        raise ValueError(f"previous scorecard is for {previous['period'].get('id')!r}, expected {before_id!r}")

    per_touchpoint, per_channel = _counter_sums(period_id, day_items)
    all_surveys: Counter[str] = Counter()
    support_surveys: Counter[str] = Counter()
    touchpoints: dict[str, dict[str, Any]] = {}
    catalog_order = [t.id for t in catalog.touchpoints]
    for touchpoint_id in _ordered(list(per_touchpoint), catalog_order):
        counters = per_touchpoint[touchpoint_id]
        known = catalog.get(touchpoint_id)
        family = known.family if known else None  # retired from the catalog: still counts in CX overall
        all_surveys.update(counters)
        if family == "cs":
            support_surveys.update(counters)
        block = _survey_block(counters, targets, min_sample,
                              csat_target="support_csat" if family == "cs" else "csat")
        metrics = {metric: obj for metric, obj in block.items() if obj["n"] > 0}
        rate = response_rate(counters)
        if metrics or rate["minted"] or rate["held_back"]:
            touchpoints[touchpoint_id] = {**metrics, "response_rate": rate,
                                          "label": known.label if known else touchpoint_id, "family": family}

    cx = {**_survey_block(all_surveys, targets, min_sample), "touchpoints": touchpoints,
          "response_rate": response_rate(all_surveys),
          "suspected_bots": sum(counters.get("suspected_bots", 0) for counters in per_touchpoint.values())}

    all_tickets: Counter[str] = Counter()
    channels: dict[str, dict[str, Any]] = {}
    for channel in _ordered(list(per_channel), CHANNEL_ORDER):
        counters = per_channel[channel]
        if not any(counters.values()):
            continue  # every ticket of that channel moved out of the period or was erased
        all_tickets.update(counters)
        channels[channel] = _ticket_block(counters, targets, min_sample)

    support_csat = csat_from_counts(score_counts(support_surveys, "csat", "csat"))
    retention = retention_metric(period_items.get(period_id, {}), period_items.get(before_id, {}))
    support_csat["response_rate"] = response_rate(support_surveys, ("csat",))
    cs = {
        **_ticket_block(all_tickets, targets, min_sample),
        "support_csat": _decorate("support_csat", support_csat, support_csat["n"], targets, min_sample),
        "retention": _decorate("retention", retention, retention["base"], targets, min_sample),
        "channels": channels,
    }

    after_fcr = nps_from_counts(score_counts(all_surveys, "s2e_fcr", "nps"))
    after_non_fcr = nps_from_counts(score_counts(all_surveys, "s2e_nonfcr", "nps"))
    gap = (after_fcr["value"] - after_non_fcr["value"]
           if after_fcr["value"] is not None and after_non_fcr["value"] is not None else None)
    service_to_experience = {
        "nps_after_fcr": _decorate("nps", after_fcr, after_fcr["n"], targets, min_sample),
        "nps_after_non_fcr": _decorate("nps", after_non_fcr, after_non_fcr["n"], targets, min_sample),
        "nps_difference": gap,
    }

    return {
        "period": _period(period_id, zone),
        "cx": cx,
        "cs": cs,
        "service_to_experience": service_to_experience,
        "previous": {
            "period": _period(before_id, zone),
            "cx": previous.get("cx") if previous else None,
            "cs": previous.get("cs") if previous else None,
        },
        "detractor_comments": [_comment(c, catalog) for c in top_comments or []],
        "trend": _trend(period_id, day_items, targets, min_sample),
        "min_sample": min_sample,
        "targets": targets.model_dump(),
    }


def _comment(comment: Mapping[str, Any], catalog: Catalog) -> dict[str, Any]:
    known = catalog.get(comment.get("touchpoint") or "")
    return {"touchpoint": comment.get("touchpoint"), "label": known.label if known else comment.get("touchpoint"),
            "metric": comment.get("metric"), "score": comment.get("score"), "comment": comment.get("comment"),
            "submitted_at": comment.get("submitted_at")}


def compute_scorecard(reader: RollupSource, catalog: Any, period_id: str, *, targets: Targets | None = None,
                      min_sample: int = 30, zone: tzinfo = UTC) -> dict[str, Any]:
    """This period's scorecard with the previous period beside it and the trend, from rollups only:
    the day items of each of the trend's periods are read once (the previous period is one of them)."""
    if not is_period(period_id):
        raise ApiError(422, "invalid_period", "Use an ISO week like 2026-W47 or a month like 2026-11", "period")
    before = previous_period(period_id)
    periods = {p: reader.customer_counters(p) for p in (period_id, before, previous_period(before))}
    day_items: dict[tuple[str, str], dict[str, int]] = {}
    for trend_period in last(period_id, TREND_PERIODS):
        day_items.update(reader.day_items(trend_period))
    earlier = build_scorecard(before, day_items, periods, catalog, targets=targets, min_sample=min_sample, zone=zone)
    return build_scorecard(period_id, day_items, periods, catalog, previous=earlier,
                           targets=targets, min_sample=min_sample,
                           top_comments=reader.detractor_comments(period_id), zone=zone)
