"""The CX and CS scorecards of SPEC §6, computed from rollup items (docs/rollups.md).

Pure: no AWS, no clock. The caller reads the day items of the period (``ROLLUP#D#<day>`` with
``TP#<touchpoint>`` and ``CH#<channel>`` sort keys) and the ``CUSTOMERS`` items of the period and the
one before; everything here is arithmetic on those integer counters, so a scorecard costs the same
number of reads for a thousand responses as for a million.

Values are unrounded floats and ``None`` when n = 0 (SPEC §5). Beyond the required keys, every metric
object carries ``low_sample`` (n below ``min_sample``) and ``status`` (green / amber / red against
``Targets``, ``None`` without a value or a target).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .catalog import Catalog
from .metrics_scale import scale_of
from .periods import bounds, days
from .periods import previous as previous_period
from .rollups import day_partition
from .sketch import nearest_rank

Status = Literal["green", "amber", "red"]

# SPEC §3 order, so the channel table reads the same every period; unknown channels follow, sorted.
CHANNEL_ORDER = ("phone", "email", "chat", "social", "in_person", "web", "other")
# The number a duration metric is judged by (and charted with); every other metric has a "value".
HEADLINE_FIELD = {"frt_seconds": "median", "resolution_seconds": "median"}

CSV_COLUMNS = ["period", "section", "scope", "metric", "value", "n", "moe95", "previous", "delta", "target",
               "status", "low_sample", "submitted_at", "comment"]


# Targets -------------------------------------------------------------------------------------------
class Target(BaseModel):
    """A goal for one metric. Amber is "missed, but by no more than ``amber_margin``" (metric units)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float
    higher_is_better: bool = True
    amber_margin: float = Field(default=0.0, ge=0)

    def status(self, value: float | None) -> Status | None:
        if value is None:
            return None
        surplus = value - self.value if self.higher_is_better else self.value - value
        if surplus >= 0:
            return "green"
        return "amber" if surplus >= -self.amber_margin else "red"


DEFAULT_TARGETS: dict[str, dict[str, Any]] = {
    "nps": {"value": 30.0, "amber_margin": 10.0},
    "csat": {"value": 80.0, "amber_margin": 5.0},
    "ces": {"value": 5.0, "amber_margin": 0.5},
    "support_csat": {"value": 85.0, "amber_margin": 5.0},
    "fcr": {"value": 70.0, "amber_margin": 5.0},
    "aht_seconds": {"value": 600.0, "higher_is_better": False, "amber_margin": 120.0},
    "frt_seconds": {"value": 3600.0, "higher_is_better": False, "amber_margin": 1800.0},
    "resolution_seconds": {"value": 86400.0, "higher_is_better": False, "amber_margin": 43200.0},
    "reopen_rate": {"value": 10.0, "higher_is_better": False, "amber_margin": 5.0},
    "retention": {"value": 30.0, "amber_margin": 10.0},
}


class Targets(BaseModel):
    """Per-metric targets. A partial override such as ``{"nps": {"value": 40}}`` keeps that metric's
    default direction and margin; ``None`` switches a metric's status off. Durations are judged by
    their median."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nps: Target | None = Target(**DEFAULT_TARGETS["nps"])
    csat: Target | None = Target(**DEFAULT_TARGETS["csat"])
    ces: Target | None = Target(**DEFAULT_TARGETS["ces"])
    support_csat: Target | None = Target(**DEFAULT_TARGETS["support_csat"])
    fcr: Target | None = Target(**DEFAULT_TARGETS["fcr"])
    aht_seconds: Target | None = Target(**DEFAULT_TARGETS["aht_seconds"])
    frt_seconds: Target | None = Target(**DEFAULT_TARGETS["frt_seconds"])
    resolution_seconds: Target | None = Target(**DEFAULT_TARGETS["resolution_seconds"])
    reopen_rate: Target | None = Target(**DEFAULT_TARGETS["reopen_rate"])
    retention: Target | None = Target(**DEFAULT_TARGETS["retention"])

    @model_validator(mode="before")
    @classmethod
    def _merge_with_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        return {
            name: {**DEFAULT_TARGETS[name], **override}
            if isinstance(override, Mapping) and name in DEFAULT_TARGETS else override
            for name, override in data.items()
        }

    def target(self, metric: str) -> Target | None:
        return getattr(self, metric) if metric in type(self).model_fields else None

    def status(self, metric: str, value: float | None) -> Status | None:
        target = self.target(metric)
        return target.status(value) if target else None


def status(metric: str, value: float | None, targets: Targets | None = None) -> Status | None:
    """green / amber / red of ``value`` against the metric's target (default targets unless given)."""
    return (targets or Targets()).status(metric, value)


def headline_value(metric: str, metric_object: Mapping[str, Any] | None) -> float | None:
    """The single number a metric is judged by: ``median`` for durations, ``value`` otherwise."""
    if not metric_object:
        return None
    return metric_object.get(HEADLINE_FIELD.get(metric, "value"))


# Metric objects from counters ---------------------------------------------------------------------
def score_counts(counters: Mapping[str, int], prefix: str, metric: str) -> dict[int, int]:
    """``{score: count}`` over the metric's whole scale from ``<prefix>_<score>`` counters."""
    return {score: int(counters.get(f"{prefix}_{score}", 0)) for score in scale_of(metric)}


def nps_from_counts(counts: Mapping[int, int]) -> dict[str, Any]:
    n = sum(counts.values())
    promoters = sum(c for s, c in counts.items() if s >= 9)
    passives = sum(c for s, c in counts.items() if 7 <= s <= 8)
    detractors = n - promoters - passives
    value = moe95 = None
    if n:
        p, d = promoters / n, detractors / n
        value = 100 * (promoters - detractors) / n
        # max(0, ...) guards against a rounding error just below zero when p + d is 0 or 1.
        moe95 = 196 * math.sqrt(max(0.0, p + d - (p - d) ** 2) / n)
    return {"value": value, "n": n, "promoters": promoters, "passives": passives, "detractors": detractors,
            "moe95": moe95}


def csat_from_counts(counts: Mapping[int, int]) -> dict[str, Any]:
    n = sum(counts.values())
    satisfied = sum(c for s, c in counts.items() if s >= 4)
    return {"value": 100 * satisfied / n if n else None, "n": n}


def ces_from_counts(counts: Mapping[int, int]) -> dict[str, Any]:
    n = sum(counts.values())
    agree = sum(c for s, c in counts.items() if s >= 5)
    mean = sum(s * c for s, c in counts.items()) / n if n else None
    return {"value": mean, "n": n, "agree_pct": 100 * agree / n if n else None}


SURVEY_METRICS = {"nps": nps_from_counts, "csat": csat_from_counts, "ces": ces_from_counts}


def _ratio(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def _histogram(counters: Mapping[str, int], prefix: str) -> dict[str, int]:
    return {name[len(prefix):]: count for name, count in counters.items() if name.startswith(prefix)}


def _duration(counters: Mapping[str, int], name: str) -> dict[str, Any]:
    """Median and p90 from the summed log-bucket histogram; the mean (extra key) is exact."""
    n = counters.get(f"{name}_n", 0)
    histogram = _histogram(counters, f"{name}_b")
    return {
        "median": nearest_rank(histogram, 0.5) if n else None,
        "p90": nearest_rank(histogram, 0.9) if n else None,
        "n": n,
        "mean": counters.get(f"{name}_sum", 0) / n if n else None,
    }


def ticket_metrics(counters: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """FCR, AHT, FRT, resolution and reopen rate of SPEC §5 from solved-cohort counters."""
    solved = counters.get("solved", 0)
    aht_n = counters.get("aht_n", 0)
    return {
        "fcr": {"value": _ratio(counters.get("fcr", 0), solved), "n": solved},
        "aht_seconds": {"value": counters.get("aht_sum", 0) / aht_n if aht_n else None, "n": aht_n},
        "frt_seconds": _duration(counters, "frt"),
        "resolution_seconds": _duration(counters, "res"),
        "reopen_rate": {"value": _ratio(counters.get("reopened", 0), solved), "n": solved},
    }


def retention_metric(current: Mapping[str, int], before: Mapping[str, int]) -> dict[str, Any]:
    """Retention against the previous period's active customers; returning share of this period's."""
    base = int(before.get("active", 0))
    active, retained, returning = (int(current.get(k, 0)) for k in ("active", "retained", "returning"))
    return {"value": _ratio(retained, base), "base": base, "retained": retained,
            "returning_share": _ratio(returning, active), "active": active, "returning": returning}


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
        into = {"TP": touchpoints, "CH": channels}.get(kind)
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


def _period(period_id: str) -> dict[str, str]:
    start, end = bounds(period_id)
    return {"id": period_id, "start": start.isoformat(), "end": end.isoformat()}


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
) -> dict[str, Any]:
    """The SPEC §6 scorecard of ``period_id``.

    ``day_items``: (pk, sk) -> counters of the period's day rollup items. ``period_items``: period id
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
        if metrics:
            touchpoints[touchpoint_id] = {**metrics, "label": known.label if known else touchpoint_id,
                                          "family": family}

    cx = {**_survey_block(all_surveys, targets, min_sample), "touchpoints": touchpoints,
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
        "period": _period(period_id),
        "cx": cx,
        "cs": cs,
        "service_to_experience": service_to_experience,
        "previous": {
            "period": _period(before_id),
            "cx": previous.get("cx") if previous else None,
            "cs": previous.get("cs") if previous else None,
        },
        "detractor_comments": [_comment(c, catalog) for c in top_comments or []],
        "min_sample": min_sample,
        "targets": targets.model_dump(),
    }


def _comment(comment: Mapping[str, Any], catalog: Catalog) -> dict[str, Any]:
    known = catalog.get(comment.get("touchpoint") or "")
    return {"touchpoint": comment.get("touchpoint"), "label": known.label if known else comment.get("touchpoint"),
            "metric": comment.get("metric"), "score": comment.get("score"), "comment": comment.get("comment"),
            "submitted_at": comment.get("submitted_at")}


# CSV rows ---------------------------------------------------------------------------------------
# Which numbers of a metric object become CSV rows, as (suffix of the row's metric name, key); the
# first is the headline (it carries the target, status and margin of error).
_VALUE_ONLY = [("", "value")]
_CSV_STATISTICS: dict[str, list[tuple[str, str]]] = {
    "nps": [("", "value"), ("_promoters", "promoters"), ("_passives", "passives"), ("_detractors", "detractors")],
    "ces": [("", "value"), ("_agree_pct", "agree_pct")],
    "frt_seconds": [("_median", "median"), ("_p90", "p90"), ("_mean", "mean")],
    "resolution_seconds": [("_median", "median"), ("_p90", "p90"), ("_mean", "mean")],
    "retention": [("", "value"), ("_returning_share", "returning_share")],
}
CX_METRICS = ("nps", "csat", "ces")
CHANNEL_METRICS = ("fcr", "aht_seconds", "frt_seconds", "resolution_seconds", "reopen_rate")
CS_METRICS = (*CHANNEL_METRICS, "support_csat", "retention")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # unrounded, like the JSON
    return str(value)


def _difference(now: Any, before: Any) -> float | None:
    if isinstance(now, int | float) and isinstance(before, int | float):
        return now - before
    return None


def _metric_rows(where: tuple[str, str, str], name: str, kind: str, current: Mapping[str, Any],
                 earlier: Mapping[str, Any] | None, targets: Mapping[str, Any]) -> list[list[str]]:
    """Rows of one metric object. ``where`` = (period, section, scope); ``name`` labels the rows and
    ``kind`` says which target applies (a cs touchpoint's ``csat`` is judged as ``support_csat``)."""
    target = (targets.get(kind) or {}).get("value")
    n = current.get("base") if kind == "retention" else current.get("n")
    rows = []
    for index, (suffix, key) in enumerate(_CSV_STATISTICS.get(kind, _VALUE_ONLY)):
        headline = index == 0
        now, before = current.get(key), (earlier or {}).get(key)
        rows.append([*where, name + suffix, _cell(now), _cell(n),
                     _cell(current.get("moe95")) if headline else "", _cell(before), _cell(_difference(now, before)),
                     _cell(target) if headline else "", _cell(current.get("status")) if headline else "",
                     _cell(current.get("low_sample")), "", ""])
    return rows


def scorecard_rows(scorecard: Mapping[str, Any]) -> list[list[str]]:
    """The scorecard as CSV rows (header first): one row per number with the previous period's value,
    the delta, the target and status, then the detractor comments. Cells are raw text: neutralize them
    before writing a file a spreadsheet may open (``email_render.render_csv`` does)."""
    period_id = scorecard["period"]["id"]
    targets = scorecard.get("targets") or {}
    earlier = scorecard.get("previous") or {}
    earlier_cx, earlier_cs = earlier.get("cx") or {}, earlier.get("cs") or {}
    cx, cs = scorecard["cx"], scorecard["cs"]
    rows = [list(CSV_COLUMNS)]
    for metric in CX_METRICS:
        rows += _metric_rows((period_id, "cx", "all"), metric, metric, cx[metric], earlier_cx.get(metric), targets)
    for touchpoint_id, entry in cx["touchpoints"].items():
        before = (earlier_cx.get("touchpoints") or {}).get(touchpoint_id) or {}
        for metric in CX_METRICS:
            if metric in entry:
                kind = "support_csat" if metric == "csat" and entry.get("family") == "cs" else metric
                rows += _metric_rows((period_id, "cx", f"touchpoint:{touchpoint_id}"), metric, kind,
                                     entry[metric], before.get(metric), targets)
    for metric in CS_METRICS:
        rows += _metric_rows((period_id, "cs", "all"), metric, metric, cs[metric], earlier_cs.get(metric), targets)
    for channel, entry in cs["channels"].items():
        before = (earlier_cs.get("channels") or {}).get(channel) or {}
        for metric in CHANNEL_METRICS:
            rows += _metric_rows((period_id, "cs", f"channel:{channel}"), metric, metric, entry[metric],
                                 before.get(metric), targets)
    s2e = scorecard["service_to_experience"]
    for name in ("nps_after_fcr", "nps_after_non_fcr"):
        rows += _metric_rows((period_id, "service_to_experience", "all"), name, "nps", s2e[name], None, targets)
    for comment in scorecard.get("detractor_comments") or []:
        rows.append([period_id, "detractor_comments", f"touchpoint:{comment.get('touchpoint')}",
                     _cell(comment.get("metric") or "score"),
                     _cell(comment.get("score")), "", "", "", "", "", "", "",
                     _cell(comment.get("submitted_at")), _cell(comment.get("comment"))])
    return rows
