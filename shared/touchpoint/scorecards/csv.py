"""The scorecard as CSV: one row per number with the previous period's value, the delta, the target
and status, then the trend (one row per period and number, section ``trend``), then the detractor
comments; every cell a spreadsheet would run as a formula is
neutralized (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from touchpoint.metrics import CHANNEL_METRICS, CS_METRICS, CX_METRICS

CSV_COLUMNS = ["period", "section", "scope", "metric", "value", "n", "moe95", "previous", "delta", "target",
               "status", "low_sample", "submitted_at", "comment"]
# Leading characters that make Excel, LibreOffice or Google Sheets read a cell as a formula. Negative
# numbers are prefixed too: the rule is about the first character, and a quoted "-2.5" is still
# readable while a missed "-2+cmd|..." is not.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


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
    "response_rate": [("", "value"), ("_answered", "answered"), ("_minted", "minted"), ("_held_back", "held_back")],
}


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
    n = {"retention": current.get("base"), "response_rate": current.get("minted")}.get(kind, current.get("n"))
    rows = []
    for index, (suffix, key) in enumerate(_CSV_STATISTICS.get(kind, _VALUE_ONLY)):
        headline = index == 0
        now, before = current.get(key), (earlier or {}).get(key)
        rows.append([*where, name + suffix, _cell(now), _cell(n),
                     _cell(current.get("moe95")) if headline else "", _cell(before), _cell(_difference(now, before)),
                     _cell(target) if headline else "", _cell(current.get("status")) if headline else "",
                     _cell(current.get("low_sample")), "", ""])
    return rows


def _response_rate_rows(where: tuple[str, str, str], holder: Mapping[str, Any],
                        earlier_holder: Mapping[str, Any]) -> list[list[str]]:
    """``response_rate`` (value, n = links minted), then its answered, minted and held-back counts."""
    if "response_rate" not in holder:
        return []
    return _metric_rows(where, "response_rate", "response_rate", holder["response_rate"],
                        earlier_holder.get("response_rate"), {})


def scorecard_rows(scorecard: Mapping[str, Any]) -> list[list[str]]:
    """The scorecard as CSV rows (header first): one row per number with the previous period's value,
    the delta, the target and status, then the detractor comments. Cells are raw text: neutralize them
    before writing a file a spreadsheet may open (``render_csv`` does)."""
    period_id = scorecard["period"]["id"]
    targets = scorecard.get("targets") or {}
    earlier = scorecard.get("previous") or {}
    earlier_cx, earlier_cs = earlier.get("cx") or {}, earlier.get("cs") or {}
    cx, cs = scorecard["cx"], scorecard["cs"]
    rows = [list(CSV_COLUMNS)]
    for metric in CX_METRICS:
        rows += _metric_rows((period_id, "cx", "all"), metric, metric, cx[metric], earlier_cx.get(metric), targets)
    rows += _response_rate_rows((period_id, "cx", "all"), cx, earlier_cx)
    for touchpoint_id, entry in cx["touchpoints"].items():
        before = (earlier_cx.get("touchpoints") or {}).get(touchpoint_id) or {}
        for metric in CX_METRICS:
            if metric in entry:
                kind = "support_csat" if metric == "csat" and entry.get("family") == "cs" else metric
                rows += _metric_rows((period_id, "cx", f"touchpoint:{touchpoint_id}"), metric, kind,
                                     entry[metric], before.get(metric), targets)
        rows += _response_rate_rows((period_id, "cx", f"touchpoint:{touchpoint_id}"), entry, before)
    for metric in CS_METRICS:
        rows += _metric_rows((period_id, "cs", "all"), metric, metric, cs[metric], earlier_cs.get(metric), targets)
    rows += _response_rate_rows((period_id, "cs", "support_csat"), cs["support_csat"],
                                earlier_cs.get("support_csat") or {})
    for channel, entry in cs["channels"].items():
        before = (earlier_cs.get("channels") or {}).get(channel) or {}
        for metric in CHANNEL_METRICS:
            rows += _metric_rows((period_id, "cs", f"channel:{channel}"), metric, metric, entry[metric],
                                 before.get(metric), targets)
    s2e = scorecard["service_to_experience"]
    for name in ("nps_after_fcr", "nps_after_non_fcr"):
        rows += _metric_rows((period_id, "service_to_experience", "all"), name, "nps", s2e[name], None, targets)
    for entry in scorecard.get("trend") or []:
        for section in ("cx", "cs"):
            for metric, metric_object in (entry.get(section) or {}).items():
                # The trend's own period in the first column; no previous, target or status there.
                rows += [[entry["period"], "trend", *row[2:6], "", "", "", "", "", row[11], "", ""]
                         for row in _metric_rows((entry["period"], "trend", "all"), metric, metric, metric_object,
                                                 None, {})]
    for comment in scorecard.get("detractor_comments") or []:
        rows.append([period_id, "detractor_comments", f"touchpoint:{comment.get('touchpoint')}",
                     _cell(comment.get("metric") or "score"),
                     _cell(comment.get("score")), "", "", "", "", "", "", "",
                     _cell(comment.get("submitted_at")), _cell(comment.get("comment"))])
    return rows


# CSV --------------------------------------------------------------------------------------------
def neutralize_cell(text: str) -> str:
    """Prefix a single quote to a cell a spreadsheet would evaluate as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def render_csv(scorecard: Mapping[str, Any]) -> str:
    """The attachment: ``scorecard_rows`` with every cell neutralized, RFC 4180 (CRLF) lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([neutralize_cell(cell) for cell in row] for row in scorecard_rows(scorecard))
    return buffer.getvalue()
