"""Shared helpers of the reliability suite: the in-process webhook secrets, an independent recount of
the SPEC §5 metrics from raw records (written here from the contract, not imported from the product,
so it can disagree), and stream batches delivered the way Lambda retries them. The stack launcher, the
HTTP client and the handler loader are ``touchpoint_local.testing``'s."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from touchpoint_local.testing import FakeLambdaContext

# The in-process webhook handler's secrets (tests import them from here, never from conftest).
WEBHOOK_SECRETS = {p: f"rel-{p}-webhook-secret-0123456789" for p in
                   ("zendesk", "intercom", "helpscout", "chatwoot", "freshdesk", "generic")}


# Periods, written from SPEC §5 ----------------------------------------------------------------------
def parse_instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_days(week: str) -> tuple[date, date]:
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    return monday, monday + timedelta(days=6)


def previous_week(week: str) -> str:
    return iso_week(week_days(week)[0] - timedelta(days=7))


def in_week(text: str | None, week: str) -> bool:
    if not text:
        return False
    first, last = week_days(week)
    return first <= parse_instant(text).date() <= last


# The independent recount -------------------------------------------------------------------------
def nps(scores: list[int]) -> dict[str, Any]:
    n = len(scores)
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    passives = n - promoters - detractors
    if not n:
        return {"n": 0, "promoters": 0, "passives": 0, "detractors": 0, "value": None, "moe95": None}
    p, d = promoters / n, detractors / n
    return {"n": n, "promoters": promoters, "passives": passives, "detractors": detractors,
            "value": 100 * (promoters - detractors) / n, "moe95": 196 * math.sqrt(max(0.0, p + d - (p - d) ** 2) / n)}


def csat(scores: list[int]) -> dict[str, Any]:
    n = len(scores)
    return {"n": n, "value": 100 * sum(1 for s in scores if s >= 4) / n if n else None}


def ces(scores: list[int]) -> dict[str, Any]:
    n = len(scores)
    return {"n": n, "value": sum(scores) / n if n else None,
            "agree_pct": 100 * sum(1 for s in scores if s >= 5) / n if n else None}


def nearest_rank(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def ticket_block(tickets: list[Mapping[str, Any]]) -> dict[str, Any]:
    solved = len(tickets)
    fcr = sum(1 for t in tickets if int(t.get("agent_replies") or 0) <= 1 and int(t.get("reopens") or 0) == 0)
    reopened = sum(1 for t in tickets if int(t.get("reopens") or 0) >= 1)
    handled = [int(t["handle_seconds"]) for t in tickets if t.get("handle_seconds") is not None]
    frt = [max(0.0, (parse_instant(t["first_agent_reply_at"]) - parse_instant(t["created_at"])).total_seconds())
           for t in tickets if t.get("first_agent_reply_at")]
    resolution = [max(0.0, (parse_instant(t["solved_at"]) - parse_instant(t["created_at"])).total_seconds())
                  for t in tickets]
    return {
        "fcr": {"n": solved, "value": 100 * fcr / solved if solved else None},
        "aht_seconds": {"n": len(handled), "value": sum(handled) / len(handled) if handled else None},
        "frt_seconds": {"n": len(frt), "median": nearest_rank(frt, 0.5), "p90": nearest_rank(frt, 0.9)},
        "resolution_seconds": {"n": len(resolution), "median": nearest_rank(resolution, 0.5),
                               "p90": nearest_rank(resolution, 0.9)},
        "reopen_rate": {"n": solved, "value": 100 * reopened / solved if solved else None},
    }


def counted(record: Mapping[str, Any]) -> bool:
    return not record.get("suspected_bot")


def active_customers(records: Iterable[Mapping[str, Any]], week: str) -> set[str]:
    out = set()
    for record in records:
        if not counted(record):
            continue
        if record.get("type") == "response" and in_week(record.get("submitted_at"), week) or (
                record.get("type") == "ticket" and in_week(record.get("created_at"), week)):
            out.add(record["customer_id"])
    return out


def earlier_weeks_active(records: Iterable[Mapping[str, Any]], week: str) -> set[str]:
    first, _ = week_days(week)
    out = set()
    for record in records:
        if not counted(record):
            continue
        stamp = record.get("submitted_at") if record.get("type") == "response" else (
            record.get("created_at") if record.get("type") == "ticket" else None)
        if stamp and parse_instant(stamp).date() < first:
            out.add(record["customer_id"])
    return out


def recount(records: list[Mapping[str, Any]], week: str, cs_touchpoints: set[str]) -> dict[str, Any]:
    """The cx and cs blocks of SPEC §6 for ``week``, from raw response and ticket records."""
    responses = [r for r in records if r.get("type") == "response" and counted(r) and in_week(r["submitted_at"], week)]

    def scores(metric: str, touchpoints: set[str] | None = None) -> list[int]:
        return [int(r["score"]) for r in responses
                if r["metric"] == metric and (touchpoints is None or r["touchpoint"] in touchpoints)]

    per_touchpoint: dict[str, dict[str, Any]] = {}
    for touchpoint in sorted({r["touchpoint"] for r in responses}):
        entry = {}
        for metric, build in (("nps", nps), ("csat", csat), ("ces", ces)):
            values = scores(metric, {touchpoint})
            if values:
                entry[metric] = build(values)
        per_touchpoint[touchpoint] = entry

    solved = [r for r in records if r.get("type") == "ticket" and r.get("status") in ("solved", "closed")
              and in_week(r.get("solved_at"), week)]
    by_channel: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for ticket in solved:
        by_channel[ticket.get("channel") or "other"].append(ticket)

    active = active_customers(records, week)
    base = active_customers(records, previous_week(week))
    earlier = earlier_weeks_active(records, week)
    nps_responses = [r for r in responses if r["metric"] == "nps"]
    return {
        "cx": {"nps": nps(scores("nps")), "csat": csat(scores("csat")), "ces": ces(scores("ces")),
               "touchpoints": per_touchpoint},
        "cs": {
            **ticket_block(solved),
            "support_csat": csat(scores("csat", cs_touchpoints)),
            "retention": {"base": len(base), "retained": len(base & active),
                          "value": 100 * len(base & active) / len(base) if base else None,
                          "returning_share": 100 * len(active & earlier) / len(active) if active else None},
            "channels": {channel: ticket_block(tickets) for channel, tickets in by_channel.items()},
        },
        "service_to_experience": {
            "nps_after_fcr": nps([int(r["score"]) for r in nps_responses if r.get("s2e_fcr") is True]),
            "nps_after_non_fcr": nps([int(r["score"]) for r in nps_responses if r.get("s2e_fcr") is False]),
        },
    }


PERCENTILE_KEYS = ("median", "p90")


def compare_metric(got: Mapping[str, Any], want: Mapping[str, Any], where: str) -> list[str]:
    """Differences between a scorecard metric object and the recount: counts exact, values to 1e-9,
    percentiles within the SPEC's 2 % relative error."""
    problems = []
    for key, expected in want.items():
        actual = got.get(key)
        if expected is None or actual is None:
            if expected != actual:
                problems.append(f"{where}.{key}: scorecard {actual!r}, recount {expected!r}")
            continue
        if key in PERCENTILE_KEYS:
            ok = abs(actual - expected) <= 0.02 * abs(expected) + 1e-9
        elif isinstance(expected, float):
            ok = math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)
        else:
            ok = actual == expected
        if not ok:
            problems.append(f"{where}.{key}: scorecard {actual!r}, recount {expected!r}")
    return problems


def compare_scorecard(card: Mapping[str, Any], want: Mapping[str, Any], where: str = "") -> list[str]:
    problems: list[str] = []
    cx, cs = card["cx"], card["cs"]
    for metric in ("nps", "csat", "ces"):
        problems += compare_metric(cx[metric], want["cx"][metric], f"{where}cx.{metric}")
    if set(cx["touchpoints"]) != set(want["cx"]["touchpoints"]):
        problems.append(f"{where}cx.touchpoints: {sorted(cx['touchpoints'])} != {sorted(want['cx']['touchpoints'])}")
    for touchpoint, entry in want["cx"]["touchpoints"].items():
        got = cx["touchpoints"].get(touchpoint, {})
        if {m for m in ("nps", "csat", "ces") if m in got} != set(entry):
            problems.append(f"{where}cx.touchpoints.{touchpoint}: metrics {sorted(got)} != {sorted(entry)}")
        for metric, metric_object in entry.items():
            problems += compare_metric(got.get(metric, {}), metric_object,
                                       f"{where}cx.touchpoints.{touchpoint}.{metric}")
    for metric in ("fcr", "aht_seconds", "frt_seconds", "resolution_seconds", "reopen_rate", "support_csat",
                   "retention"):
        problems += compare_metric(cs[metric], want["cs"][metric], f"{where}cs.{metric}")
    if set(cs["channels"]) != set(want["cs"]["channels"]):
        problems.append(f"{where}cs.channels: {sorted(cs['channels'])} != {sorted(want['cs']['channels'])}")
    for channel, block in want["cs"]["channels"].items():
        for metric, metric_object in block.items():
            problems += compare_metric(cs["channels"].get(channel, {}).get(metric, {}), metric_object,
                                       f"{where}cs.channels.{channel}.{metric}")
    if "service_to_experience" in want and "service_to_experience" in card:
        for name, metric_object in want["service_to_experience"].items():
            problems += compare_metric(card["service_to_experience"][name], metric_object,
                                       f"{where}service_to_experience.{name}")
    return problems


def scheduled_scorecard(stack: Any, items: list[Mapping[str, Any]], period: str, cs_touchpoints: set[str],
                        timeout: float) -> tuple[dict[str, Any], list[str]]:
    """Run the scheduled scorecard of a local stack for ``period``; returns the card and how it and the
    week before differ from an independent recount of ``items`` (the raw records, SPEC §5)."""
    reply = stack.request("POST", "/_local/run/scorecard", json_body={"period": period}, timeout=timeout)
    assert reply.status == 200, reply.text
    card = reply.json()
    mismatches = compare_scorecard(card, recount(items, period, cs_touchpoints))
    mismatches += compare_scorecard(card["previous"], recount(items, previous_week(period), cs_touchpoints),
                                    "previous.")
    return card, mismatches


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1] if ordered else 0.0


# Stream batches ---------------------------------------------------------------------------------
def sequence_key(sequence: str) -> tuple[int, str]:
    return len(sequence), sequence


def deliver_like_lambda(handler: Any, batch: list[dict[str, Any]], max_attempts: int = 20) -> list[list[str]]:
    """Deliver a batch, then retry from the lowest reported failure (ReportBatchItemFailures) until it
    is accepted; a handler that raises gets the whole batch again. Returns each attempt's failures."""
    attempts: list[list[str]] = []
    remaining = batch
    for _ in range(max_attempts):
        try:
            result = handler({"Records": remaining}, FakeLambdaContext("aggregator"))
        except Exception as exc:  # a function error: Lambda retries the whole batch
            attempts.append([f"raised {type(exc).__name__}"])
            continue
        failures = [f["itemIdentifier"] for f in result["batchItemFailures"]]
        attempts.append(failures)
        if not failures:
            return attempts
        lowest = min(failures, key=sequence_key)
        remaining = [r for r in remaining
                     if sequence_key(r["dynamodb"]["SequenceNumber"]) >= sequence_key(lowest)]
    raise AssertionError(f"batch never accepted: {attempts}")
