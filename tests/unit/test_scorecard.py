"""The scorecard of SPEC §5-§6 from rollup items: hand-computed metrics, percentiles within the sketch's
error, retention against the previous period, nulls when there is no data, low-sample flags, target
statuses, and a property test that every count and mean equals a direct recomputation."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from touchpoint.catalog import parse_catalog
from touchpoint.histogram import bucket_of
from touchpoint.metrics import DEFAULT_TARGETS, Target, Targets, status
from touchpoint.rollups.contribution import combine, contribution
from touchpoint.scorecards.compute import build_scorecard
from touchpoint.scorecards.csv import CSV_COLUMNS, scorecard_rows

WEEK = "2026-W47"  # Monday 2026-11-16 .. Sunday 2026-11-22
CATALOG = parse_catalog("""
name: tiny
brand: Tiny Shop
touchpoints:
  - {id: website, label: Website, family: cx, stage: consideration, metric: ces}
  - {id: shipping, label: Shipping, family: cx, stage: delivery, metric: csat}
  - {id: relationship, label: Overall relationship, family: cx, stage: loyalty, metric: nps}
  - {id: support, label: Support, family: cs, stage: support, metric: csat}
ticket_mapping:
  default: support
""")


def tp(day: str, touchpoint: str) -> tuple[str, str]:
    return f"ROLLUP#D#{day}", f"TP#{touchpoint}"


def ch(day: str, channel: str) -> tuple[str, str]:
    return f"ROLLUP#D#{day}", f"CH#{channel}"


def scorecard(day_items: dict, period_items: dict | None = None, **options) -> dict:
    return build_scorecard(WEEK, day_items, period_items or {}, CATALOG, **options)


def exact_nearest_rank(values: list[float], q: float) -> float:
    return sorted(values)[math.ceil(q * len(values)) - 1]


# Survey metrics ------------------------------------------------------------------------------------
def test_nps_hand_computed_with_margin_of_error() -> None:
    # Given 5 promoters, 3 passives and 2 detractors, spread over two days of the week
    items = {
        tp("2026-11-16", "relationship"): {"nps_9": 2, "nps_10": 1, "nps_7": 1, "nps_0": 1},
        tp("2026-11-20", "relationship"): {"nps_10": 2, "nps_8": 2, "nps_6": 1},
    }
    # When the scorecard is built
    nps = scorecard(items)["cx"]["nps"]
    # Then NPS = 100·(5−2)/10 = 30 and moe95 = 196·√((0.5+0.2−0.3²)/10) = 196·√0.061
    assert nps["value"] == 30.0
    assert (nps["n"], nps["promoters"], nps["passives"], nps["detractors"]) == (10, 5, 3, 2)
    assert nps["moe95"] == pytest.approx(48.408429018, abs=1e-6)


def test_csat_and_ces_hand_computed() -> None:
    # Given CSAT scores 5,5,5,4,3,1 and CES scores 7,5,5,2
    items = {
        tp("2026-11-17", "shipping"): {"csat_5": 3, "csat_4": 1, "csat_3": 1, "csat_1": 1},
        tp("2026-11-18", "website"): {"ces_7": 1, "ces_5": 2, "ces_2": 1},
    }
    # When the scorecard is built
    cx = scorecard(items)["cx"]
    # Then CSAT = 100·4/6, CES mean = 19/4 and agree (≥ 5) = 3/4
    assert cx["csat"]["value"] == pytest.approx(100 * 4 / 6) and cx["csat"]["n"] == 6
    assert cx["ces"]["value"] == 4.75 and cx["ces"]["n"] == 4
    assert cx["ces"]["agree_pct"] == 75.0


def test_support_csat_counts_only_cs_touchpoints_while_cx_counts_all() -> None:
    # Given CSAT at shipping (cx family) and at support (cs family)
    items = {
        tp("2026-11-16", "shipping"): {"csat_5": 4},
        tp("2026-11-17", "support"): {"csat_5": 1, "csat_2": 1},
    }
    # When the scorecard is built
    card = scorecard(items)
    # Then support CSAT covers support only, CX CSAT covers both
    assert card["cs"]["support_csat"]["value"] == 50.0 and card["cs"]["support_csat"]["n"] == 2
    assert card["cx"]["csat"]["value"] == pytest.approx(100 * 5 / 6) and card["cx"]["csat"]["n"] == 6


def test_touchpoints_list_only_metrics_with_answers_and_carry_label_and_family() -> None:
    # Given NPS at relationship, CSAT at support and a touchpoint since retired from the catalog
    items = {
        tp("2026-11-16", "relationship"): {"nps_10": 1},
        tp("2026-11-16", "support"): {"csat_4": 2},
        tp("2026-11-16", "old_kiosk"): {"ces_6": 1},
        tp("2026-11-16", "website"): {"ces_3": 0},  # every answer erased: nothing left to show
    }
    # When the scorecard is built
    touchpoints = scorecard(items)["cx"]["touchpoints"]
    # Then each touchpoint lists only its metrics with n > 0, in catalog order, unknown ones last
    assert list(touchpoints) == ["relationship", "support", "old_kiosk"]
    assert set(touchpoints["relationship"]) == {"nps", "response_rate", "label", "family"}
    assert touchpoints["support"]["family"] == "cs" and touchpoints["support"]["label"] == "Support"
    assert touchpoints["old_kiosk"]["family"] is None and touchpoints["old_kiosk"]["ces"]["value"] == 6.0
    # And the retired touchpoint still counts in CX overall
    assert scorecard(items)["cx"]["ces"]["n"] == 1


def test_items_outside_the_period_are_ignored_and_dynamodb_values_are_accepted() -> None:
    # Given one day in the week (Decimal counters, as boto3 returns them, plus key attributes),
    # and the Sunday before and the Monday after the week
    items = {
        tp("2026-11-22", "relationship"): {"pk": "ROLLUP#D#2026-11-22", "nps_10": Decimal(3), "version": "x"},
        tp("2026-11-15", "relationship"): {"nps_0": 5},
        tp("2026-11-23", "relationship"): {"nps_0": 5},
    }
    # When the scorecard is built
    nps = scorecard(items)["cx"]["nps"]
    # Then only the week's day counts, as plain ints
    assert nps["n"] == 3 and nps["value"] == 100.0 and type(nps["promoters"]) is int


# Ticket metrics ---------------------------------------------------------------------------------
def test_fcr_reopen_rate_and_aht_over_channels_and_days() -> None:
    # Given 3 email tickets (2 FCR, 1 reopened, 2 with handle time 300+400) and 1 chat ticket (FCR, 200 s)
    items = {
        ch("2026-11-16", "email"): {"solved": 2, "fcr": 2, "aht_n": 1, "aht_sum": 300},
        ch("2026-11-19", "email"): {"solved": 1, "reopened": 1, "aht_n": 1, "aht_sum": 400},
        ch("2026-11-19", "chat"): {"solved": 1, "fcr": 1, "aht_n": 1, "aht_sum": 200},
    }
    # When the scorecard is built
    cs = scorecard(items)["cs"]
    # Then FCR = 3/4, reopen rate = 1/4, AHT = 900/3
    assert cs["fcr"] == {**cs["fcr"], "value": 75.0, "n": 4}
    assert cs["reopen_rate"]["value"] == 25.0 and cs["reopen_rate"]["n"] == 4
    assert cs["aht_seconds"]["value"] == 300.0 and cs["aht_seconds"]["n"] == 3
    # And each channel has its own numbers, in SPEC order
    assert list(cs["channels"]) == ["email", "chat"]
    email = cs["channels"]["email"]
    assert email["fcr"]["value"] == pytest.approx(200 / 3) and email["reopen_rate"]["value"] == pytest.approx(100 / 3)
    assert email["aht_seconds"]["value"] == 350.0
    assert set(email) == {"fcr", "aht_seconds", "frt_seconds", "resolution_seconds", "reopen_rate"}


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_percentiles_are_within_two_percent_of_the_exact_nearest_rank(seed: int) -> None:
    # Given random first-response and resolution durations, bucketed into histograms over several days
    rng = random.Random(seed)
    frt = [round(rng.lognormvariate(7, 1.5)) for _ in range(rng.randint(1, 400))]
    resolution = [round(rng.lognormvariate(10, 1.2)) for _ in range(rng.randint(1, 400))]
    items: dict = {}
    for name, values in (("frt", frt), ("res", resolution)):
        for value in values:
            counters = items.setdefault(ch(f"2026-11-{rng.randint(16, 22)}", rng.choice(["email", "chat"])), Counter())
            counters[f"{name}_b{bucket_of(value)}"] += 1
            counters[f"{name}_n"] += 1
            counters[f"{name}_sum"] += value
    # When the scorecard is built
    cs = scorecard(items)["cs"]
    # Then median and p90 are within 2 % of the ⌈q·n⌉-th smallest raw duration, counts and means exact
    for key, values in (("frt_seconds", frt), ("resolution_seconds", resolution)):
        assert cs[key]["n"] == len(values)
        assert cs[key]["mean"] == pytest.approx(sum(values) / len(values))
        for field, q in (("median", 0.5), ("p90", 0.9)):
            exact = exact_nearest_rank(values, q)
            assert cs[key][field] == pytest.approx(exact, rel=0.02, abs=1e-9), (key, field)


def test_ticket_metrics_from_raw_tickets_through_the_rollup_contract() -> None:
    # Given solved tickets turned into day items by the aggregator's own rollups.contribution
    rng = random.Random(5)
    tickets, frt, resolution = [], [], []
    for index in range(120):
        reply, solve = rng.randint(0, 7200), rng.randint(7200, 400_000)
        tickets.append({
            "type": "ticket", "status": "solved", "channel": rng.choice(["email", "phone"]),
            "created_at": "2026-11-19T00:00:00Z", "first_agent_reply_at": _after("2026-11-19", reply),
            "solved_at": _after("2026-11-19", solve),  # some fall after Sunday: out of this week's cohort
            "fcr": index % 3 != 0, "reopens": int(index % 10 == 0), "handle_seconds": 100 + index,
        })
        frt.append(reply)
        resolution.append(solve)
    items = combine(contribution(t) for t in tickets)
    in_week = [t for t in tickets if t["solved_at"] < "2026-11-23"]
    assert 0 < len(in_week) < len(tickets)
    # When the scorecard is built
    cs = scorecard(items)["cs"]
    # Then the cohort is the tickets solved in the week, with exact counts and percentiles within 2 %
    assert cs["fcr"]["n"] == len(in_week)
    assert cs["fcr"]["value"] == pytest.approx(100 * sum(t["fcr"] for t in in_week) / len(in_week))
    assert cs["aht_seconds"]["value"] == pytest.approx(sum(t["handle_seconds"] for t in in_week) / len(in_week))
    assert cs["reopen_rate"]["value"] == pytest.approx(100 * sum(t["reopens"] for t in in_week) / len(in_week))
    kept = [i for i, t in enumerate(tickets) if t["solved_at"] < "2026-11-23"]
    assert cs["frt_seconds"]["median"] == pytest.approx(exact_nearest_rank([frt[i] for i in kept], 0.5), rel=0.02)
    assert cs["resolution_seconds"]["p90"] == pytest.approx(
        exact_nearest_rank([resolution[i] for i in kept], 0.9), rel=0.02)


def _after(day: str, seconds: int) -> str:
    moment = datetime.fromisoformat(f"{day}T00:00:00+00:00") + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# Retention -------------------------------------------------------------------------------------------
def test_retention_uses_the_previous_periods_active_customers_as_base() -> None:
    # Given 80 customers active last week; 50 active this week, 20 of them also last week, 30 seen before
    periods = {"2026-W47": {"active": 50, "retained": 20, "returning": 30}, "2026-W46": {"active": 80}}
    # When the scorecard is built
    retention = scorecard({}, periods)["cs"]["retention"]
    # Then retention = 20/80 and the returning share = 30/50
    assert retention["value"] == 25.0 and retention["base"] == 80 and retention["retained"] == 20
    assert retention["returning_share"] == 60.0


def test_monthly_retention_reads_the_previous_month() -> None:
    # Given a month and the month before
    periods = {"2026-11": {"active": 10, "retained": 4, "returning": 5}, "2026-10": {"active": 16}}
    # When the month's scorecard is built
    card = build_scorecard("2026-11", {}, periods, CATALOG)
    # Then the base is October's active customers and the period spans the month
    assert card["cs"]["retention"]["value"] == 25.0
    assert card["period"] == {"id": "2026-11", "start": "2026-11-01", "end": "2026-11-30", "timezone": "UTC",
                              "start_at": "2026-11-01T00:00:00+00:00", "end_at": "2026-12-01T00:00:00+00:00"}
    assert card["previous"]["period"]["id"] == "2026-10"


def test_retention_is_null_without_a_base() -> None:
    # Given active customers this week but none the week before
    retention = scorecard({}, {"2026-W47": {"active": 5, "returning": 0}})["cs"]["retention"]
    # Then retention has no value, the returning share does
    assert retention["value"] is None and retention["base"] == 0 and retention["returning_share"] == 0.0


# Shape, nulls, flags and statuses ---------------------------------------------------------------------
REQUIRED = {
    "period": {"id", "start", "end", "timezone"},
    "cx": {"nps", "csat", "ces", "touchpoints"},
    "cs": {"fcr", "aht_seconds", "frt_seconds", "resolution_seconds", "reopen_rate", "support_csat", "retention",
           "channels"},
    "service_to_experience": {"nps_after_fcr", "nps_after_non_fcr"},
}


def test_an_empty_period_has_every_key_with_null_values() -> None:
    # Given no rollup items at all
    card = scorecard({})
    # Then every SPEC §6 key is there, values are null and n = 0, and the JSON is strict (no NaN)
    for section, keys in REQUIRED.items():
        assert keys <= set(card[section]), section
    assert card["period"] == {"id": WEEK, "start": "2026-11-16", "end": "2026-11-22", "timezone": "UTC",
                              "start_at": "2026-11-16T00:00:00+00:00", "end_at": "2026-11-23T00:00:00+00:00"}
    assert card["cx"]["nps"] == {**card["cx"]["nps"], "value": None, "n": 0, "promoters": 0, "moe95": None}
    assert card["cx"]["csat"]["value"] is None and card["cx"]["ces"]["agree_pct"] is None
    for metric in ("fcr", "aht_seconds", "reopen_rate", "support_csat"):
        assert card["cs"][metric]["value"] is None and card["cs"][metric]["n"] == 0
    for metric in ("frt_seconds", "resolution_seconds"):
        assert {card["cs"][metric][k] for k in ("median", "p90")} == {None} and card["cs"][metric]["n"] == 0
    assert card["cs"]["retention"]["value"] is None and card["cs"]["retention"]["returning_share"] is None
    assert card["cx"]["touchpoints"] == {} and card["cs"]["channels"] == {}
    assert card["service_to_experience"]["nps_after_fcr"]["value"] is None
    assert card["previous"] == {"period": {"id": "2026-W46", "start": "2026-11-09", "end": "2026-11-15",
                                           "timezone": "UTC", "start_at": "2026-11-09T00:00:00+00:00",
                                           "end_at": "2026-11-16T00:00:00+00:00"},
                                "cx": None, "cs": None}
    # And the trend holds 8 empty weeks ending with this one
    assert [entry["period"] for entry in card["trend"]][-1] == WEEK and len(card["trend"]) == 8
    assert all(entry["cx"]["nps"]["value"] is None and entry["cs"]["frt_seconds"]["median"] is None
               for entry in card["trend"])
    json.dumps(card, allow_nan=False)
    # And a metric without a value has no status
    assert card["cx"]["nps"]["status"] is None


def test_low_sample_flags_follow_the_configurable_minimum() -> None:
    # Given 4 NPS answers and 5 CSAT answers
    items = {tp("2026-11-16", "relationship"): {"nps_10": 4}, tp("2026-11-16", "shipping"): {"csat_5": 5}}
    # When the minimum sample is 5
    card = scorecard(items, min_sample=5)
    # Then NPS (n = 4) is flagged, CSAT (n = 5) is not, and the flag reaches touchpoints too
    assert card["cx"]["nps"]["low_sample"] is True and card["cx"]["csat"]["low_sample"] is False
    assert card["cx"]["touchpoints"]["relationship"]["nps"]["low_sample"] is True
    assert card["min_sample"] == 5
    # And with the default minimum of 30 both are flagged
    assert scorecard(items)["cx"]["csat"]["low_sample"] is True


@pytest.mark.parametrize(("target", "value", "expected"), [
    (Target(value=30, amber_margin=10), 30, "green"),
    (Target(value=30, amber_margin=10), 45.5, "green"),
    (Target(value=30, amber_margin=10), 20, "amber"),
    (Target(value=30, amber_margin=10), 19.9, "red"),
    (Target(value=10, higher_is_better=False, amber_margin=5), 10, "green"),
    (Target(value=10, higher_is_better=False, amber_margin=5), 15, "amber"),
    (Target(value=10, higher_is_better=False, amber_margin=5), 15.1, "red"),
    (Target(value=10, higher_is_better=False, amber_margin=5), None, None),
])
def test_target_status_green_amber_red_in_both_directions(target: Target, value: float | None,
                                                         expected: str | None) -> None:
    # Given a target, When a value is judged, Then it is green when met, amber within the margin, else red
    assert target.status(value) == expected


def test_targets_defaults_overrides_and_the_status_helper() -> None:
    # Given the defaults
    defaults = Targets()
    assert defaults.nps.value == 30 and defaults.csat.value == 80 and defaults.ces.value == 5.0
    assert defaults.fcr.value == 70 and defaults.reopen_rate.higher_is_better is False
    assert defaults.frt_seconds.value == 3600 and defaults.frt_seconds.higher_is_better is False
    assert set(type(defaults).model_fields) == set(DEFAULT_TARGETS)
    # When one target is overridden partially and another switched off
    custom = Targets.model_validate({"nps": {"value": 40}, "ces": None})
    # Then the override keeps the default direction and margin, and the switched-off metric has no status
    assert custom.nps == Target(value=40, amber_margin=10)
    assert custom.status("nps", 31) == "amber" and custom.status("ces", 1.0) is None
    assert custom.status("unknown_metric", 50) is None
    # And the module helper uses the defaults unless told otherwise
    assert status("reopen_rate", 12) == "amber" and status("reopen_rate", 16) == "red"
    assert status("nps", 35, custom) == "amber"
    # And typos are refused rather than ignored
    with pytest.raises(ValidationError):
        Targets.model_validate({"nsp": {"value": 40}})


def test_scorecard_statuses_use_the_given_targets() -> None:
    # Given FCR 75 %, reopen rate 25 %, median first response ≈ 2 h, support CSAT 100 %
    items = {
        ch("2026-11-16", "email"): {"solved": 4, "fcr": 3, "reopened": 1, "frt_n": 1, f"frt_b{bucket_of(7200)}": 1},
        tp("2026-11-16", "support"): {"csat_5": 2},
    }
    # When built with default targets, and with a stricter FCR target
    default = scorecard(items)["cs"]
    strict = scorecard(items, targets=Targets.model_validate({"fcr": {"value": 90}}))["cs"]
    # Then each metric gets its colour (durations judged by their median; lower is better)
    assert default["fcr"]["status"] == "green" and strict["fcr"]["status"] == "red"
    assert default["reopen_rate"]["status"] == "red"
    assert default["frt_seconds"]["status"] == "red"  # 7200 s > 3600 s + 1800 s margin
    assert default["support_csat"]["status"] == "green"
    assert default["channels"]["email"]["fcr"]["status"] == "green"
    # And a cs touchpoint's CSAT is judged against the support CSAT target
    card = scorecard({tp("2026-11-16", "support"): {"csat_5": 4, "csat_1": 1},
                      tp("2026-11-16", "shipping"): {"csat_5": 4, "csat_1": 1}})
    assert card["cx"]["touchpoints"]["shipping"]["csat"]["status"] == "green"  # 80 vs 80
    assert card["cx"]["touchpoints"]["support"]["csat"]["status"] == "amber"  # 80 vs 85 − 5


# Service → experience, previous period, comments, CSV rows ----------------------------------------------
def test_service_to_experience_splits_nps_by_the_linked_tickets_fcr() -> None:
    # Given NPS answers linked to FCR tickets (3 promoters, 1 detractor) and non-FCR tickets (2 detractors)
    items = {tp("2026-11-18", "relationship"): {"nps_10": 3, "nps_2": 3, "s2e_fcr_10": 3, "s2e_fcr_2": 1,
                                                "s2e_nonfcr_2": 2}}
    # When the scorecard is built
    s2e = scorecard(items)["service_to_experience"]
    # Then each side is an NPS object of its own, and the difference is reported
    assert s2e["nps_after_fcr"]["value"] == 50.0 and s2e["nps_after_fcr"]["n"] == 4
    assert s2e["nps_after_non_fcr"]["value"] == -100.0 and s2e["nps_after_non_fcr"]["detractors"] == 2
    assert s2e["nps_difference"] == 150.0
    assert {"promoters", "passives", "detractors", "moe95"} <= set(s2e["nps_after_fcr"])


def test_previous_period_is_echoed_and_must_be_the_period_before() -> None:
    # Given last week's scorecard
    last_week = build_scorecard("2026-W46", {tp("2026-11-10", "relationship"): {"nps_10": 1}}, {}, CATALOG)
    # When this week's is built with it
    card = scorecard({}, previous=last_week)
    # Then its cx and cs are echoed (without nesting its own previous)
    assert card["previous"]["cx"] == last_week["cx"] and card["previous"]["cs"] == last_week["cs"]
    assert "previous" not in card["previous"]["cx"]
    # And a scorecard of another period is refused
    with pytest.raises(ValueError, match="2026-W45"):
        scorecard({}, previous=build_scorecard("2026-W45", {}, {}, CATALOG))


def test_scorecard_rows_carry_previous_delta_status_and_comments() -> None:
    # Given this week and last week
    last_week = build_scorecard("2026-W46", {tp("2026-11-10", "relationship"): {"nps_10": 1}}, {}, CATALOG)
    card = scorecard({tp("2026-11-16", "relationship"): {"nps_10": 1, "nps_0": 1},
                      ch("2026-11-16", "chat"): {"solved": 2, "fcr": 1}},
                     previous=last_week,
                     top_comments=[{"touchpoint": "relationship", "metric": "nps", "score": 0, "comment": "=1+1",
                                    "submitted_at": "2026-11-16T09:00:00Z"}])
    # When it becomes CSV rows
    rows = scorecard_rows(card)
    by_key = {(r[1], r[2], r[3]): dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows[1:]}
    # Then the header comes first and every row has every column as text
    assert rows[0] == CSV_COLUMNS
    assert all(len(r) == len(CSV_COLUMNS) and all(isinstance(c, str) for c in r) for r in rows)
    nps = by_key[("cx", "all", "nps")]
    assert nps["value"] == "0.0" and nps["previous"] == "100.0" and nps["delta"] == "-100.0"
    assert nps["target"] == "30.0" and nps["status"] == "red" and nps["low_sample"] == "true"
    assert float(nps["moe95"]) == pytest.approx(card["cx"]["nps"]["moe95"])
    assert by_key[("cs", "channel:chat", "fcr")]["value"] == "50.0"
    assert by_key[("cx", "all", "ces")]["value"] == ""  # null is an empty cell
    assert ("cs", "all", "frt_seconds_p90") in by_key and ("cs", "all", "retention_returning_share") in by_key
    assert ("service_to_experience", "all", "nps_after_fcr") in by_key
    # And the detractor comment is a row of its own (raw here; the email neutralizes it)
    comment = by_key[("detractor_comments", "touchpoint:relationship", "nps")]
    assert comment["comment"] == "=1+1" and comment["value"] == "0"
    assert card["detractor_comments"][0]["label"] == "Overall relationship"


# Property: counts and means equal a direct recomputation ------------------------------------------------
scores = st.lists(st.integers(min_value=0, max_value=10), max_size=60)


@settings(max_examples=60, deadline=None)
@given(
    nps=scores,
    csat=st.lists(st.integers(min_value=1, max_value=5), max_size=60),
    ces=st.lists(st.integers(min_value=1, max_value=7), max_size=60),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_counts_and_means_equal_a_direct_recomputation(nps: list[int], csat: list[int], ces: list[int],
                                                        seed: int) -> None:
    # Given survey responses on random days of the week at random touchpoints, rolled up by the aggregator
    rng = random.Random(seed)
    responses = [
        {"type": "response", "metric": metric, "score": score,
         "touchpoint": rng.choice(["relationship", "shipping", "support", "website"]),
         "submitted_at": f"2026-11-{rng.randint(16, 22)}T{rng.randint(0, 23):02d}:00:00Z"}
        for metric, values in (("nps", nps), ("csat", csat), ("ces", ces)) for score in values
    ]
    # When the scorecard is built from the rollup items
    cx = scorecard(combine(contribution(r) for r in responses))["cx"]
    # Then every number equals the definition applied to the raw score lists
    promoters, detractors = sum(s >= 9 for s in nps), sum(s <= 6 for s in nps)
    assert cx["nps"]["n"] == len(nps) and cx["nps"]["promoters"] == promoters
    assert cx["nps"]["detractors"] == detractors and cx["nps"]["passives"] == len(nps) - promoters - detractors
    assert cx["nps"]["value"] == (pytest.approx(100 * (promoters - detractors) / len(nps)) if nps else None)
    assert cx["csat"]["n"] == len(csat)
    assert cx["csat"]["value"] == (pytest.approx(100 * sum(s >= 4 for s in csat) / len(csat)) if csat else None)
    assert cx["ces"]["n"] == len(ces)
    assert cx["ces"]["value"] == (pytest.approx(sum(ces) / len(ces)) if ces else None)
    assert cx["ces"]["agree_pct"] == (pytest.approx(100 * sum(s >= 5 for s in ces) / len(ces)) if ces else None)
    # And the per-touchpoint numbers add up to the overall ones
    for metric in ("nps", "csat", "ces"):
        assert sum(t[metric]["n"] for t in cx["touchpoints"].values() if metric in t) == cx[metric]["n"]


# Response rate --------------------------------------------------------------------------------------
def test_one_answered_of_four_minted_links_reads_25_percent() -> None:
    # Given 4 shipping links minted on two days of the week, one of them answered, and 2 mints held back
    items = {
        tp("2026-11-16", "shipping"): {"minted_csat": 3, "answered_csat": 1, "csat_5": 1, "held_back_csat": 2},
        tp("2026-11-18", "shipping"): {"minted_csat": 1},
    }
    card = scorecard(items)
    # Then the rate is 25 % overall and at the touchpoint; held-back mints are not in it
    expected = {"value": 25.0, "answered": 1, "minted": 4, "held_back": 2}
    assert card["cx"]["response_rate"] == expected
    assert card["cx"]["touchpoints"]["shipping"]["response_rate"] == expected
    # And the CSV carries it with n = links minted
    rows = {(row[2], row[3]): row for row in scorecard_rows(card)}
    assert rows[("all", "response_rate")][4:6] == ["25.0", "4"]
    assert rows[("touchpoint:shipping", "response_rate_held_back")][4] == "2"


def test_response_rate_is_null_without_links_and_support_csat_counts_cs_csat_links_only() -> None:
    # Given CSAT links at support (cs), one answered, and NPS links at relationship, none minted elsewhere
    items = {tp("2026-11-17", "support"): {"minted_csat": 2, "answered_csat": 1, "csat_4": 1},
             tp("2026-11-17", "relationship"): {"minted_nps": 6}}
    card = scorecard(items)
    assert card["cs"]["support_csat"]["response_rate"] == {"value": 50.0, "answered": 1, "minted": 2,
                                                           "held_back": 0}
    assert card["cx"]["response_rate"]["minted"] == 8
    # And a week without links reads null, not 0
    assert scorecard({})["cx"]["response_rate"]["value"] is None
