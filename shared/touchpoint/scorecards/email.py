"""The scorecard email (docs/reference.md#the-scorecard-email-and-csv): plain text + HTML alternatives
and the scorecard as a CSV attachment.

Pure: builds an ``email.message.EmailMessage`` (policy SMTP, CRLF line ends) that the caller hands to
SES as a raw message. The HTML is built for mail clients, not browsers: inline styles only, layout and
bar charts from table cells with percentage widths (no images, scripts, SVG, flexbox or grid) so it
reads the same in Gmail and Outlook. Every user-supplied string (brand, touchpoint labels, detractor
comments) goes through Jinja2 autoescape in the HTML; header values are refused when they could
inject headers; CSV cells that a spreadsheet would run as a formula are neutralized.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

from touchpoint.metrics import CS_METRICS, CX_METRICS, DEFAULT_TARGETS, HEADLINE_FIELD, PRESENTATION, headline_value
from touchpoint.periods import is_period, parse_time, reporting_zone
from touchpoint.scorecards.csv import render_csv

NO_VALUE = "—"
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

STATUS_CHIPS = {
    "green": ("On target", "#1b7f3b"),
    "amber": ("Near target", "#9a5b00"),
    "red": ("Off target", "#b3261e"),
    None: ("No target", "#6b7280"),
}
NO_DATA_CHIP = ("No data", "#6b7280")
BETTER_COLOR, WORSE_COLOR, NEUTRAL_COLOR = "#1b7f3b", "#b3261e", "#52606d"
NPS_SEGMENT_COLORS = {"promoters": "#1b7f3b", "passives": "#9ca3af", "detractors": "#b3261e"}

TREND_BAR_HEIGHT = 28  # px: the tallest bar of a trend row
TREND_LATEST_COLOR, TREND_EARLIER_COLOR, TREND_EMPTY_COLOR = "#1f2933", "#9aa5b1", "#e4e7eb"
TREND_LABELS = {"fcr": "FCR", "frt_seconds": "FRT median"}  # shorter than the section's label, for a narrow row

CHANNEL_LABELS = {"phone": "Phone", "email": "Email", "chat": "Chat", "social": "Social", "in_person": "In person",
                  "web": "Web form", "other": "Other"}


# Numbers as people read them ----------------------------------------------------------------------
def format_duration(seconds: float) -> str:
    magnitude = abs(seconds)
    if magnitude < 90:
        return f"{seconds:.0f} s"
    if magnitude < 90 * 60:
        return f"{seconds / 60:.1f} min"
    if magnitude < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def format_value(unit: str, value: float | None) -> str:
    """A metric value for display; ``None`` (no data) is an em dash, never "None"."""
    if value is None:
        return NO_VALUE
    if unit == "percent":
        return f"{value:.1f} %"
    if unit == "score7":
        return f"{value:.2f}"
    if unit == "duration":
        return format_duration(value)
    return f"{value:.1f}"


def format_delta(unit: str, delta: float) -> str:
    sign = "+" if delta >= 0 else "-"
    if unit == "duration":
        return sign + format_duration(abs(delta))
    if unit == "score7":
        return f"{sign}{abs(delta):.2f}"
    return f"{sign}{abs(delta):.1f} pts"


def _bar_percent(unit: str, value: float | None, target: float | None) -> int:
    """Bar length on the metric's own scale; durations put the target at half length."""
    if value is None:
        return 0
    if unit == "points":
        share = (value + 100) / 2
    elif unit == "score7":
        share = (value - 1) / 6 * 100
    elif unit == "duration":
        share = value / (2 * target) * 100 if target else 0
    else:
        share = value
    return max(0, min(100, round(share)))


def _shares(counts: Mapping[str, int]) -> dict[str, int]:
    """Whole percentages that add up to exactly 100 (largest remainder), so stacked bars fill the row."""
    total = sum(counts.values())
    if not total:
        return dict.fromkeys(counts, 0)
    exact = {k: 100 * v / total for k, v in counts.items()}
    whole = {k: math.floor(v) for k, v in exact.items()}
    for key in sorted(exact, key=lambda k: exact[k] - whole[k], reverse=True)[: 100 - sum(whole.values())]:
        whole[key] += 1
    return whole


# The view: every string the templates print, already formatted ----------------------------------------
def _higher_is_better(kind: str, targets: Mapping[str, Any]) -> bool:
    configured = targets.get(kind) or DEFAULT_TARGETS.get(kind) or {}
    return configured.get("higher_is_better", True)


def _metric_view(kind: str, current: Mapping[str, Any] | None, earlier: Mapping[str, Any] | None,
                 scorecard: Mapping[str, Any], *, label: str | None = None) -> dict[str, Any]:
    targets = scorecard.get("targets") or {}
    min_sample = scorecard.get("min_sample", 30)
    default_label, explanation, unit = PRESENTATION[kind]
    current = current or {}
    value = headline_value(kind, current)
    before = headline_value(kind, earlier)
    n = current.get("base" if kind == "retention" else "n") or 0
    target = (targets.get(kind) or {}).get("value")
    higher_is_better = _higher_is_better(kind, targets)

    delta_text, delta_color = "", NEUTRAL_COLOR
    if value is not None and before is not None:
        delta = value - before
        delta_text = format_delta(unit, delta)
        if delta:
            improved = (delta > 0) == higher_is_better
            delta_text = ("▲ " if delta > 0 else "▼ ") + delta_text
            delta_color = BETTER_COLOR if improved else WORSE_COLOR

    chip_label, chip_color = (NO_DATA_CHIP if value is None
                              else STATUS_CHIPS.get(current.get("status"), STATUS_CHIPS[None]))
    return {
        "kind": kind,
        "label": label or default_label,
        "explanation": explanation,
        "value": format_value(unit, value),
        "previous": format_value(unit, before),
        "delta": delta_text,
        "delta_color": delta_color,
        "n_label": "base" if kind == "retention" else "n",
        "n": n,
        "moe": f"±{current['moe95']:.1f}" if current.get("moe95") is not None else "",
        "no_data": value is None,
        "low_sample": bool(current.get("low_sample", n < min_sample)),
        "status_label": chip_label,
        "status_color": chip_color,
        "target": f"target {'≥' if higher_is_better else '≤'} {format_value(unit, target)}" if target is not None
        else "",
        "bar_percent": _bar_percent(unit, value, target),
        "details": _details(kind, current, unit),
        "nps_segments": _nps_segments(current) if kind == "nps" and current.get("n") else [],
    }


def _details(kind: str, current: Mapping[str, Any], unit: str) -> str:
    if not current or headline_value(kind, current) is None:
        return ""
    if kind == "nps":
        return (f"promoters {current['promoters']} · passives {current['passives']} · "
                f"detractors {current['detractors']}")
    if kind == "ces" and current.get("agree_pct") is not None:
        return f"agree (5–7): {format_value('percent', current['agree_pct'])}"
    if kind in HEADLINE_FIELD:
        return f"p90 {format_value(unit, current.get('p90'))} · mean {format_value(unit, current.get('mean'))}"
    if kind in ("fcr", "reopen_rate"):
        return f"of {current.get('n', 0)} solved tickets"
    if kind == "retention":
        return (f"{current.get('retained', 0)} of {current.get('base', 0)} came back · returning share "
                f"{format_value('percent', current.get('returning_share'))}")
    return ""


def _nps_segments(current: Mapping[str, Any]) -> list[dict[str, Any]]:
    shares = _shares({k: current.get(k, 0) for k in NPS_SEGMENT_COLORS})
    return [{"name": name, "percent": shares[name], "color": NPS_SEGMENT_COLORS[name]}
            for name in NPS_SEGMENT_COLORS if shares[name]]


def _touchpoint_rows(scorecard: Mapping[str, Any]) -> list[dict[str, Any]]:
    earlier = ((scorecard.get("previous") or {}).get("cx") or {}).get("touchpoints") or {}
    rows = []
    for touchpoint_id, entry in scorecard["cx"]["touchpoints"].items():
        for metric in CX_METRICS:
            if metric not in entry:
                continue
            view = _metric_view(metric, entry[metric], (earlier.get(touchpoint_id) or {}).get(metric), scorecard)
            view.update(touchpoint=entry.get("label") or touchpoint_id, support=entry.get("family") == "cs")
            rows.append(view)
    return rows


def _channel_rows(scorecard: Mapping[str, Any]) -> list[dict[str, Any]]:
    earlier = ((scorecard.get("previous") or {}).get("cs") or {}).get("channels") or {}
    rows = []
    for channel, entry in scorecard["cs"]["channels"].items():
        before = earlier.get(channel) or {}
        rows.append({
            "channel": CHANNEL_LABELS.get(channel, channel),
            "solved": entry["fcr"]["n"],
            **{kind: _metric_view(kind, entry[kind], before.get(kind), scorecard)
               for kind in ("fcr", "reopen_rate", "frt_seconds", "resolution_seconds", "aht_seconds")},
        })
    return rows


def _trend_share(unit: str, value: float, largest: float) -> float:
    """Bar height as a share of the row's full height, on the metric's own scale (durations: of the
    longest in the row)."""
    if unit == "points":
        share = (value + 100) / 200
    elif unit == "score7":
        share = (value - 1) / 6
    elif unit == "duration":
        share = value / largest if largest else 0
    else:
        share = value / 100
    return max(0.0, min(1.0, share))


def _trend_rows(scorecard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per headline metric of ``trend``: the 8 periods as bars (heights in px) and values."""
    trend = scorecard.get("trend") or []
    rows = []
    for section, kinds in (("cx", CX_METRICS), ("cs", ("fcr", "frt_seconds", "reopen_rate"))):
        for kind in kinds:
            unit = PRESENTATION[kind][2]
            values = [headline_value(kind, (entry.get(section) or {}).get(kind)) for entry in trend]
            largest = max((v for v in values if v is not None), default=0)
            cells = []
            for index, (entry, value) in enumerate(zip(trend, values, strict=True)):
                height = 0 if value is None else max(2, round(TREND_BAR_HEIGHT * _trend_share(unit, value, largest)))
                cells.append({"period": entry["period"], "value": format_value(unit, value), "height": height,
                              "color": TREND_LATEST_COLOR if index == len(trend) - 1 else TREND_EARLIER_COLOR})
            rows.append({"label": TREND_LABELS.get(kind, PRESENTATION[kind][0]), "cells": cells,
                         "latest": cells[-1]["value"] if cells else NO_VALUE})
    return rows


def _local_date(timestamp: str, zone_name: str) -> str:
    """The reporting zone's calendar date of a stored UTC timestamp ("" when it is not one)."""
    try:
        return parse_time(timestamp).astimezone(reporting_zone(zone_name)).date().isoformat()
    except ValueError:
        return timestamp[:10]


def _response_rate_rows(scorecard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """CX overall, each touchpoint that minted or held back links, then support CSAT."""
    cx = scorecard["cx"]
    scopes: list[tuple[str, Mapping[str, Any] | None, bool]] = [("All touchpoints", cx.get("response_rate"), True)]
    scopes += [(str(entry.get("label") or touchpoint_id), entry.get("response_rate"), False)
               for touchpoint_id, entry in cx["touchpoints"].items()]
    scopes.append(("Support CSAT", scorecard["cs"]["support_csat"].get("response_rate"), True))
    rows = []
    for scope, rate, overall in scopes:
        if rate and (overall or rate.get("minted") or rate.get("held_back")):
            rows.append({"scope": scope, "overall": overall, "value": format_value("percent", rate.get("value")),
                         "answered": rate.get("answered", 0), "minted": rate.get("minted", 0),
                         "held_back": rate.get("held_back", 0)})
    # Nothing minted or held back anywhere: the section says so instead of a table of zeros.
    return rows if any(row["minted"] or row["held_back"] for row in rows) else []


def _comment_rows(scorecard: Mapping[str, Any]) -> list[dict[str, str]]:
    rows = []
    zone_name = str(scorecard["period"].get("timezone") or "UTC")
    for comment in scorecard.get("detractor_comments") or []:
        submitted = str(comment.get("submitted_at") or "")
        rows.append({"score": "" if comment.get("score") is None else str(comment["score"]),
                     "touchpoint": str(comment.get("label") or comment.get("touchpoint") or ""),
                     "metric": PRESENTATION[comment["metric"]][0] if comment.get("metric") in CX_METRICS else "",
                     "date": _local_date(submitted, zone_name) if submitted else "",
                     "comment": str(comment.get("comment") or "")})
    return rows


def _view(scorecard: Mapping[str, Any], brand: str) -> dict[str, Any]:
    earlier = scorecard.get("previous") or {}
    earlier_cx, earlier_cs = earlier.get("cx") or {}, earlier.get("cs") or {}
    cx = [_metric_view(k, scorecard["cx"][k], earlier_cx.get(k), scorecard) for k in CX_METRICS]
    cs = [_metric_view(k, scorecard["cs"][k], earlier_cs.get(k), scorecard) for k in CS_METRICS]
    s2e = scorecard["service_to_experience"]
    after_fcr = _metric_view("nps", s2e["nps_after_fcr"], None, scorecard,
                             label="NPS after a ticket solved at first contact")
    after_non_fcr = _metric_view("nps", s2e["nps_after_non_fcr"], None, scorecard,
                                 label="NPS after a ticket that took more contacts")
    gap = s2e.get("nps_difference")
    period = scorecard["period"]
    headline = " · ".join(f"{v['label']} {v['value']}" for v in (cx[0], cx[1], cs[0], cs[2]))
    return {
        "brand": brand,
        "title": f"{brand} — CX and CS scorecard {period['id']}",
        "preheader": headline,
        "period": period,
        "previous_id": (earlier.get("period") or {}).get("id") or "",
        "has_previous": bool(earlier_cx or earlier_cs),
        "min_sample": scorecard.get("min_sample", 30),
        "cx": cx,
        "cs": cs,
        "touchpoints": _touchpoint_rows(scorecard),
        "response_rates": _response_rate_rows(scorecard),
        "channels": _channel_rows(scorecard),
        "s2e": [after_fcr, after_non_fcr],
        "s2e_gap": "" if gap is None else format_delta("points", gap).replace(" pts", " NPS points"),
        "comments": _comment_rows(scorecard),
        "trend": _trend_rows(scorecard),
        "trend_span": _trend_span(scorecard),
        "suspected_bots": int(scorecard["cx"].get("suspected_bots") or 0),
    }


def _trend_span(scorecard: Mapping[str, Any]) -> str:
    trend = scorecard.get("trend") or []
    if not trend:
        return ""
    zone_name = scorecard["period"].get("timezone") or "UTC"
    return f"{trend[0]['period']} to {trend[-1]['period']}, {len(trend)} periods, {zone_name} time"


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("touchpoint.scorecards", "templates"),
        # HTML escapes everything it prints; the plain-text part must show comments literally.
        autoescape=select_autoescape(enabled_extensions=("html",), disabled_extensions=("txt",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(scorecard: Mapping[str, Any], brand: str) -> str:
    return _environment().get_template("email/scorecard.html").render(**_view(scorecard, brand))


def render_text(scorecard: Mapping[str, Any], brand: str) -> str:
    return _environment().get_template("email/scorecard.txt").render(**_view(scorecard, brand))


# The message -------------------------------------------------------------------------------------
def _one_line(field: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip() or _CONTROL_CHARACTERS.search(value):
        raise ValueError(f"{field} must be one non-empty line of text (no CR, LF or control characters)")
    return value


def _address(field: str, text: str) -> Address:
    _one_line(field, text)
    try:
        header = SMTP.header_factory("To", text)
    except Exception as exc:  # the stdlib address parser raises assorted errors on garbage
        raise ValueError(f"{field}: not an email address: {text!r}") from exc
    addresses = header.addresses
    if header.defects or len(addresses) != 1 or not addresses[0].username or not addresses[0].domain:
        raise ValueError(f"{field}: expected exactly one email address, got {text!r}")
    return addresses[0]


def _message_id(period_id: str, sender: Address, recipients: list[Address]) -> str:
    # Same period and recipient list -> same Message-ID, so a resend can be recognised downstream.
    seed = "\n".join([period_id, sender.addr_spec.lower(), *sorted(r.addr_spec.lower() for r in recipients)])
    return f"<scorecard.{period_id}.{hashlib.sha256(seed.encode()).hexdigest()[:24]}@{sender.domain}>"


def render_email(
    scorecard: Mapping[str, Any],
    *,
    brand: str,
    sender: str,
    recipients: list[str],
    subject_prefix: str = "Touchpoint scorecard",
    sent_at: datetime | None = None,
) -> EmailMessage:
    """multipart/mixed [multipart/alternative [text/plain, text/html], text/csv attachment].

    Raises ValueError when the brand, subject prefix or an address holds CR/LF (header injection) or
    is not a single valid address."""
    brand = _one_line("brand", brand)
    subject_prefix = _one_line("subject_prefix", subject_prefix)
    period_id = scorecard["period"]["id"]
    if not is_period(str(period_id)):
        raise ValueError(f"scorecard period is not a period id: {period_id!r}")
    from_address = _address("sender", sender)
    if not recipients:
        raise ValueError("recipients: at least one address is needed")
    to_addresses = list({a.addr_spec.lower(): a for a in (_address("recipient", r) for r in recipients)}.values())

    message = EmailMessage(policy=SMTP)
    message["Subject"] = f"{subject_prefix} · {brand} · {period_id}"
    message["From"] = from_address
    message["To"] = to_addresses
    message["Date"] = format_datetime(sent_at or datetime.now(UTC))
    message["Message-ID"] = _message_id(period_id, from_address, to_addresses)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to the sender
    # Quoted-printable and base64 keep every line 7-bit and short, whatever the relay accepts.
    message.set_content(render_text(scorecard, brand), subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(render_html(scorecard, brand), subtype="html", charset="utf-8",
                            cte="quoted-printable")
    message.add_attachment(render_csv(scorecard), subtype="csv", charset="utf-8", cte="base64",
                           filename=f"scorecard-{period_id}.csv")
    return message
