"""The yardstick of the load test, checked on its own (fast, no stack): for random raw records, the
product's scorecard (rollups a perfect aggregator would hold -> ``reporting.compute_scorecard``) equals
the independent SPEC §5 recount of ``reliability_support.recount``, and the comparison does notice a
wrong number. So a disagreement in the load test points at the pipeline, not at the recount."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import compare_scorecard, recount
from touchpoint.catalog import load_catalog
from touchpoint.periods import days
from touchpoint.platform.table import CUSTOMERS_SK, day_partition, period_partition
from touchpoint.rollups.rebuild import expected_rollups
from touchpoint.scorecards.compute import compute_scorecard

CATALOG = load_catalog("ecommerce")
CS_TOUCHPOINTS = {t.id for t in CATALOG.touchpoints if t.family == "cs"}
WEEK = "2026-W47"
START = datetime(2026, 11, 2, tzinfo=UTC)  # Monday of 2026-W45: three weeks up to the end of W47
SPAN_SECONDS = 21 * 86400 - 1
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


class RollupsOnly:
    """A RollupReader over a dict of rollup items (what a perfect aggregator would have written)."""

    def __init__(self, items: dict[tuple[str, str], dict[str, int]]) -> None:
        self.items = items
        self.items_read = 0

    def day_items(self, period_id: str) -> dict[tuple[str, str], dict[str, int]]:
        wanted = {day_partition(day) for day in days(period_id)}
        return {key: value for key, value in self.items.items() if key[0] in wanted}

    def customer_counters(self, period_id: str) -> dict[str, int]:
        return dict(self.items.get((period_partition(period_id), CUSTOMERS_SK), {}))

    def detractor_comments(self, period_id: str) -> list[dict[str, Any]]:
        return []


def _iso(seconds: int) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def responses(draw: Any, index: int) -> dict[str, Any]:
    touchpoint = draw(st.sampled_from(CATALOG.touchpoints))
    metric = draw(st.sampled_from([touchpoint.metric, touchpoint.metric, "nps", "csat", "ces"]))
    low, high = SCALES[metric]
    record = {"type": "response", "survey_id": f"s{index}", "customer_id": f"c{draw(st.integers(0, 12))}",
              "touchpoint": touchpoint.id, "metric": metric, "score": draw(st.integers(low, high)),
              "submitted_at": _iso(draw(st.integers(0, SPAN_SECONDS)))}
    if metric == "nps":
        fcr = draw(st.sampled_from([None, None, True, False]))
        if fcr is not None:
            record["s2e_fcr"] = fcr
    if draw(st.integers(0, 19)) == 0:
        record["suspected_bot"] = True
    return record


@st.composite
def tickets(draw: Any, index: int) -> dict[str, Any]:
    created = draw(st.integers(0, SPAN_SECONDS - 10))
    replies = draw(st.integers(0, 3))
    reopens = draw(st.integers(0, 2))
    status = draw(st.sampled_from(["open", "solved", "solved", "closed"]))
    first_reply = created + draw(st.integers(0, 90000)) if replies else None
    solved_at = created + draw(st.integers(0, 400000)) if status != "open" or draw(st.booleans()) else None
    customer = f"c{draw(st.integers(0, 12))}"
    return {"type": "ticket", "provider": "generic", "ticket_id": f"T{index}", "customer_id": customer,
            "channel": draw(st.sampled_from(["phone", "email", "chat", "other"])), "status": status,
            "created_at": _iso(created), "first_agent_reply_at": _iso(first_reply) if first_reply is not None else None,
            "solved_at": _iso(solved_at) if solved_at is not None else None, "agent_replies": replies,
            "reopens": reopens, "handle_seconds": draw(st.sampled_from([None, 0, 45, 600, 3601])),
            "fcr": (replies <= 1 and reopens == 0) if status != "open" else None}


@st.composite
def datasets(draw: Any) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 40))
    out = [draw(responses(i)) for i in range(count)]
    out += [draw(tickets(i)) for i in range(draw(st.integers(0, 25)))]
    return out


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=datasets())
def test_the_scorecard_of_perfect_rollups_equals_the_independent_recount(records):
    # Given random raw records over three weeks, and the rollups they imply
    reader = RollupsOnly(expected_rollups(records))
    # When the scorecard of the last week is computed from those rollups
    card = compute_scorecard(reader, CATALOG, WEEK)
    # Then it equals the recount of the raw records, for the week and the week before
    assert compare_scorecard(card, recount(records, WEEK, CS_TOUCHPOINTS)) == []
    assert compare_scorecard(card["previous"], recount(records, "2026-W46", CS_TOUCHPOINTS), "previous.") == []


def test_the_comparison_notices_a_wrong_number():
    records = [{"type": "response", "survey_id": "s1", "customer_id": "c1", "touchpoint": "relationship",
                "metric": "nps", "score": 9, "submitted_at": "2026-11-17T10:00:00Z"},
               {"type": "ticket", "ticket_id": "T1", "customer_id": "c1", "channel": "email", "status": "solved",
                "created_at": "2026-11-17T09:00:00Z", "first_agent_reply_at": "2026-11-17T09:30:00Z",
                "solved_at": "2026-11-17T12:00:00Z", "agent_replies": 1, "reopens": 0, "handle_seconds": 60,
                "fcr": True}]
    card = compute_scorecard(RollupsOnly(expected_rollups(records)), CATALOG, WEEK)
    want = recount(records, WEEK, CS_TOUCHPOINTS)
    assert compare_scorecard(card, want) == []
    for path, wrong in ((("cx", "nps", "promoters"), 2), (("cs", "fcr", "n"), 0),
                        (("cs", "resolution_seconds", "median"), 11_500.0), (("cs", "retention", "base"), 1)):
        altered = copy.deepcopy(card)
        target = altered
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = wrong
        assert compare_scorecard(altered, want), path
