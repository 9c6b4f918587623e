"""Every metric of Touchpoint defined in one place: scales, the cut-offs that classify a score, the
formulas from counts, ticket metrics over the solved cohort, retention, the detractor thresholds,
targets with green/amber/red, and how each metric is labelled and shown (docs/reference.md#metrics).

Pure: no AWS, no clock. Values are unrounded floats and ``None`` when n = 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from touchpoint.histogram import nearest_rank

Metric = Literal["nps", "csat", "ces"]
Status = Literal["green", "amber", "red"]

# --- survey scales and cut-offs ------------------------------------------------------------------------------
SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
NPS_PROMOTER_MIN = 9  # 9-10 promoters
NPS_PASSIVE_MIN = 7  # 7-8 passives, 0-6 detractors
CSAT_SATISFIED_MIN = 4  # 4 and 5 of 5
CES_AGREE_MIN = 5  # 5, 6 and 7 of 7 agree that it was easy
# A response at or below its threshold is a detractor: it raises a DetractorReceived alert.
DETRACTOR_THRESHOLDS = {"nps": NPS_PROMOTER_MIN - 3, "csat": CSAT_SATISFIED_MIN - 2, "ces": CES_AGREE_MIN - 2}

# --- tickets -------------------------------------------------------------------------------------------------
SOLVED_STATUSES = ("solved", "closed")  # the solved cohort: tickets in these states with a solve time
# Service -> experience: an NPS answer follows the customer's latest ticket solved this long before it.
SERVICE_LINK_WINDOW = timedelta(days=30)

# --- kinds, order and presentation ---------------------------------------------------------------------------
CX_METRICS = ("nps", "csat", "ces")
CHANNEL_METRICS = ("fcr", "aht_seconds", "frt_seconds", "resolution_seconds", "reopen_rate")
CS_METRICS = (*CHANNEL_METRICS, "support_csat", "retention")
# The canonical channel order, so the channel table reads the same every period; unknown ones follow, sorted.
CHANNEL_ORDER = ("phone", "email", "chat", "social", "in_person", "web", "other")
# The number a duration metric is judged by (and charted with); every other metric has a "value".
HEADLINE_FIELD = {"frt_seconds": "median", "resolution_seconds": "median"}
# kind -> (label, one-line explanation, unit). Units: points (NPS), percent, score7 (CES), duration.
PRESENTATION: dict[str, tuple[str, str, str]] = {
    "nps": ("NPS", "Net Promoter Score, −100 to 100", "points"),
    "csat": ("CSAT", "Satisfied (4 or 5 of 5), every touchpoint", "percent"),
    "ces": ("CES", "Customer effort, mean of 1–7 (higher = easier)", "score7"),
    "fcr": ("First contact resolution", "Solved with at most one agent reply and no reopen", "percent"),
    "aht_seconds": ("Average handle time", "Mean agent time per solved ticket", "duration"),
    "frt_seconds": ("First response time", "Median wait for the first agent reply", "duration"),
    "resolution_seconds": ("Resolution time", "Median time from ticket created to solved", "duration"),
    "reopen_rate": ("Reopen rate", "Solved tickets reopened at least once", "percent"),
    "support_csat": ("Support CSAT", "CSAT at customer-service touchpoints", "percent"),
    "retention": ("Retention", "Customers active last period who were active again", "percent"),
}


def scale_of(metric: str) -> range:
    low, high = SCALES[metric]
    return range(low, high + 1)


def is_detractor_score(metric: str, score: int) -> bool:
    threshold = DETRACTOR_THRESHOLDS.get(metric)
    return threshold is not None and score <= threshold


def is_first_contact_resolution(agent_replies: int, reopens: int) -> bool:
    """FCR: solved with at most one agent reply and never reopened."""
    return agent_replies <= 1 and reopens == 0


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
    promoters = sum(c for s, c in counts.items() if s >= NPS_PROMOTER_MIN)
    passives = sum(c for s, c in counts.items() if NPS_PASSIVE_MIN <= s < NPS_PROMOTER_MIN)
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
    satisfied = sum(c for s, c in counts.items() if s >= CSAT_SATISFIED_MIN)
    return {"value": 100 * satisfied / n if n else None, "n": n}


def ces_from_counts(counts: Mapping[int, int]) -> dict[str, Any]:
    n = sum(counts.values())
    agree = sum(c for s, c in counts.items() if s >= CES_AGREE_MIN)
    mean = sum(s * c for s, c in counts.items()) / n if n else None
    return {"value": mean, "n": n, "agree_pct": 100 * agree / n if n else None}


SURVEY_METRICS = {"nps": nps_from_counts, "csat": csat_from_counts, "ces": ces_from_counts}


def ratio(part: int, whole: int) -> float | None:
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
    """FCR, AHT, FRT, resolution and reopen rate from the solved cohort's counters."""
    solved = counters.get("solved", 0)
    aht_n = counters.get("aht_n", 0)
    return {
        "fcr": {"value": ratio(counters.get("fcr", 0), solved), "n": solved},
        "aht_seconds": {"value": counters.get("aht_sum", 0) / aht_n if aht_n else None, "n": aht_n},
        "frt_seconds": _duration(counters, "frt"),
        "resolution_seconds": _duration(counters, "res"),
        "reopen_rate": {"value": ratio(counters.get("reopened", 0), solved), "n": solved},
    }


def retention_metric(current: Mapping[str, int], before: Mapping[str, int]) -> dict[str, Any]:
    """Retention against the previous period's active customers; returning share of this period's."""
    base = int(before.get("active", 0))
    active, retained, returning = (int(current.get(k, 0)) for k in ("active", "retained", "returning"))
    return {"value": ratio(retained, base), "base": base, "retained": retained,
            "returning_share": ratio(returning, active), "active": active, "returning": returning}


def response_rate(counters: Mapping[str, int], metrics: tuple[str, ...] = tuple(SCALES)) -> dict[str, Any]:
    """Response rate of links minted in the period: 100·answered/minted, by the period of minting.
    ``minted_<metric>`` counts links sent, ``answered_<metric>`` those of them answered (imports are
    not links), ``held_back_<metric>`` mints the contact policy held back (never sent, not in the rate)."""
    def total(prefix: str) -> int:
        return sum(int(counters.get(f"{prefix}_{metric}", 0)) for metric in metrics)

    answered, minted = total("answered"), total("minted")
    return {"value": ratio(answered, minted), "answered": answered, "minted": minted,
            "held_back": total("held_back")}
