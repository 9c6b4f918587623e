"""Days, weeks and months of the reporting time zone (docs/reference.md#periods): the calendar's edges
in zones other than UTC (both DST changes of Europe/Berlin, Sunday 23:30 local, month ends, ISO week
53, zones east of UTC+12), the scheduled run's default period, and the scorecard's zone and trend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from touchpoint.catalog import load_catalog
from touchpoint.periods import (
    day_of,
    last,
    last_complete_period,
    local_bounds,
    month_of,
    reporting_zone,
    shift,
    start_of_day,
    week_of,
)
from touchpoint.platform.settings import ScorecardSettings, SettingsError, validate_environment
from touchpoint.rollups.contribution import activity, contribution
from touchpoint.rollups.plan import alert_record
from touchpoint.scorecards.compute import build_scorecard
from touchpoint.scorecards.csv import scorecard_rows
from touchpoint.scorecards.email import render_html, render_text

BERLIN = reporting_zone("Europe/Berlin")
AUCKLAND = reporting_zone("Pacific/Auckland")
KIRITIMATI = reporting_zone("Pacific/Kiritimati")
NEW_YORK = reporting_zone("America/New_York")
CATALOG = load_catalog("ecommerce")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time between two instants (Python subtracts wall clocks when both share one zone)."""
    return end.astimezone(UTC) - start.astimezone(UTC)


def answer(submitted_at: str, customer: str = "ann", score: int = 9) -> dict:
    return {"type": "response", "survey_id": f"s-{submitted_at}", "customer_id": customer,
            "touchpoint": "relationship", "metric": "nps", "score": score, "submitted_at": submitted_at}


# Days across the DST changes of Europe/Berlin ----------------------------------------------------------
def test_the_spring_dst_day_in_berlin_has_23_hours_and_its_edges_fall_on_the_right_day() -> None:
    # Given 2026-03-29, when Berlin's clocks jump from 02:00 CET to 03:00 CEST
    day, next_day = start_of_day(date(2026, 3, 29), BERLIN), start_of_day(date(2026, 3, 30), BERLIN)
    # Then the local day lasts 23 hours
    assert elapsed(day, next_day) == timedelta(hours=23)
    # And the last second before local midnight (CET) and the first after it fall on their local days
    assert day_of(utc("2026-03-28T22:59:59"), BERLIN) == "2026-03-28"
    assert day_of(utc("2026-03-28T23:00:00"), BERLIN) == "2026-03-29"
    # And so do both sides of the next midnight (CEST, one hour earlier in UTC)
    assert day_of(utc("2026-03-29T21:59:59"), BERLIN) == "2026-03-29"
    assert day_of(utc("2026-03-29T22:00:00"), BERLIN) == "2026-03-30"


def test_the_autumn_dst_day_in_berlin_has_25_hours_and_its_edges_fall_on_the_right_day() -> None:
    # Given 2026-10-25, when Berlin's clocks go back from 03:00 CEST to 02:00 CET
    day, next_day = start_of_day(date(2026, 10, 25), BERLIN), start_of_day(date(2026, 10, 26), BERLIN)
    # Then the local day lasts 25 hours
    assert elapsed(day, next_day) == timedelta(hours=25)
    assert day_of(utc("2026-10-24T21:59:59"), BERLIN) == "2026-10-24"
    assert day_of(utc("2026-10-24T22:00:00"), BERLIN) == "2026-10-25"
    assert day_of(utc("2026-10-25T22:59:59"), BERLIN) == "2026-10-25"
    assert day_of(utc("2026-10-25T23:00:00"), BERLIN) == "2026-10-26"


def test_answers_on_both_sides_of_the_dst_midnights_count_on_their_local_days() -> None:
    # Given answers one second before and after each local midnight around 2026-03-29
    records = [answer("2026-03-28T22:59:59.000Z"), answer("2026-03-28T23:00:00.000Z"),
               answer("2026-03-29T21:59:59.000Z"), answer("2026-03-29T22:00:00.000Z")]
    # When their rollup contributions are taken in Berlin time
    days = [pk for record in records for (pk, _sk, _attribute) in contribution(record, BERLIN)]
    # Then each lands on its Berlin day (UTC would put the 23:00Z answer on the 28th)
    assert days == ["ROLLUP#D#2026-03-28", "ROLLUP#D#2026-03-29", "ROLLUP#D#2026-03-29", "ROLLUP#D#2026-03-30"]


# Weeks ---------------------------------------------------------------------------------------------
def test_an_answer_at_23_30_local_on_a_sunday_counts_in_that_local_week() -> None:
    # Given answers at 23:30 local time on Sunday 2026-11-22, in Berlin and in New York
    berlin_sunday_night = utc("2026-11-22T22:30:00")  # 23:30 CET
    new_york_sunday_night = utc("2026-11-23T04:30:00")  # 23:30 EST, already Monday in UTC
    # Then both count in 2026-W47 locally, not in the week after
    assert week_of(berlin_sunday_night, BERLIN) == "2026-W47"
    assert week_of(new_york_sunday_night, NEW_YORK) == "2026-W47"
    assert week_of(new_york_sunday_night) == "2026-W48"  # the UTC reading it replaces
    # And the customer is active in that local week and month
    record = answer("2026-11-23T04:30:00.000Z")
    assert set(activity(record, NEW_YORK)) == {("ann", "2026-W47"), ("ann", "2026-11")}


@pytest.mark.parametrize(("zone", "monday_morning_utc"), [
    (AUCKLAND, "2026-11-22T12:30:00"),  # Monday 2026-11-23 01:30 NZDT (+13)
    (KIRITIMATI, "2026-11-22T10:30:00"),  # Monday 2026-11-23 00:30 (+14)
], ids=["Pacific/Auckland", "Pacific/Kiritimati"])
def test_an_answer_early_on_a_monday_east_of_utc_plus_12_counts_in_the_local_week(zone, monday_morning_utc) -> None:
    # Given an answer early on a local Monday, which is still Sunday in UTC
    moment = utc(monday_morning_utc)
    # Then it counts on the local Monday, in the local week that Monday starts
    assert day_of(moment, zone) == "2026-11-23"
    assert week_of(moment, zone) == "2026-W48"
    assert week_of(moment) == "2026-W47"
    assert {pk for pk, _sk, _a in contribution(answer(monday_morning_utc + ".000Z"), zone)} == \
        {"ROLLUP#D#2026-11-23"}


def test_iso_week_53_of_2026_in_berlin() -> None:
    # Given 2026-W53 (Monday 2026-12-28 .. Sunday 2027-01-03) in Berlin time
    start_at, end_at = local_bounds("2026-W53", BERLIN)
    assert (start_at.isoformat(), end_at.isoformat()) == ("2026-12-28T00:00:00+01:00", "2027-01-04T00:00:00+01:00")
    # Then 00:30 local on its Monday (still Sunday in UTC) and 23:30 local on its last Sunday count in it
    assert week_of(utc("2026-12-27T23:30:00"), BERLIN) == "2026-W53"
    assert week_of(utc("2027-01-03T22:30:00"), BERLIN) == "2026-W53"
    assert month_of(utc("2027-01-03T22:30:00"), BERLIN) == "2027-01"
    # And the weeks around it follow on
    assert shift("2026-W53", 1) == "2027-W01" and shift("2027-W01", -1) == "2026-W53"
    assert last("2027-W01", 8)[-2:] == ["2026-W53", "2027-W01"]


# Months --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("zone", "moment", "local_month", "utc_month"), [
    (AUCKLAND, "2026-11-30T12:30:00", "2026-12", "2026-11"),  # 01:30 on 1 December in Auckland
    (NEW_YORK, "2027-01-01T01:00:00", "2026-12", "2027-01"),  # 20:00 on New Year's Eve in New York
    (BERLIN, "2026-02-28T23:30:00", "2026-03", "2026-02"),  # 00:30 on 1 March in Berlin
], ids=["Auckland", "New York", "Berlin"])
def test_a_month_ends_at_local_midnight(zone, moment, local_month, utc_month) -> None:
    assert month_of(utc(moment), zone) == local_month
    assert month_of(utc(moment)) == utc_month


def test_a_month_spans_its_local_midnights_with_the_offsets_of_each_end() -> None:
    # Given October 2026 in Berlin, which ends an hour of DST later than it starts
    start_at, end_at = local_bounds("2026-10", BERLIN)
    # Then it starts at local midnight in CEST and ends at local midnight in CET
    assert start_at.isoformat() == "2026-10-01T00:00:00+02:00"
    assert end_at.isoformat() == "2026-11-01T00:00:00+01:00"
    assert elapsed(start_at, end_at) == timedelta(days=31, hours=1)


# The scheduled run and the detractor outbox ---------------------------------------------------------
def test_a_monday_morning_run_in_auckland_reports_the_local_week_that_just_ended() -> None:
    # Given the schedule firing Monday 2026-11-23 07:00 in Auckland (Sunday 18:00 UTC)
    now = utc("2026-11-22T18:00:00")
    # Then the default period is the local week that just ended, not the UTC one before it
    assert last_complete_period("week", now, AUCKLAND) == "2026-W47"
    assert last_complete_period("week", now) == "2026-W46"
    # And on the 1st of a month at 07:00 local the default month is the one that just ended
    assert last_complete_period("month", utc("2026-11-30T18:00:00"), AUCKLAND) == "2026-11"


def test_a_detractor_alert_is_filed_under_its_local_day() -> None:
    record = {**answer("2026-11-22T12:30:00.000Z", score=2), "comment": "cold food"}
    assert alert_record(record, AUCKLAND)["pk"] == "ALERT#2026-11-23"
    assert alert_record(record)["pk"] == "ALERT#2026-11-22"


# Settings --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "Europe/Berlinn", "../../etc/passwd", ""])
def test_a_bad_reporting_timezone_stops_the_cold_start_naming_the_setting(monkeypatch, name) -> None:
    # Given the function's environment with a zone that does not exist
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("REPORTING_TIMEZONE", name)
    # When it validates it at cold start, Then the error names the variable
    with pytest.raises(SettingsError, match="REPORTING_TIMEZONE"):
        validate_environment(ScorecardSettings)


def test_the_reporting_timezone_defaults_to_utc(monkeypatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.delenv("REPORTING_TIMEZONE", raising=False)
    assert validate_environment(ScorecardSettings).zone.key == "UTC"


# The scorecard: its period and its trend ------------------------------------------------------------
def weekly_nps_items(weeks: list[str], promoters_per_week: list[int]) -> dict:
    """One relationship NPS day item on each week's Wednesday: some promoters and one detractor."""
    from touchpoint.periods import bounds

    items = {}
    for week, promoters in zip(weeks, promoters_per_week, strict=True):
        wednesday = (bounds(week)[0] + timedelta(days=2)).isoformat()
        items[(f"ROLLUP#D#{wednesday}", "TP#relationship")] = {"nps_10": promoters, "nps_2": 1}
        items[(f"ROLLUP#D#{wednesday}", "CH#email")] = {"solved": 2, "fcr": 1, "reopened": 1, "frt_n": 2,
                                                         "frt_sum": 120, "frt_b200": 2}
    return items


def test_a_scorecard_names_its_zone_and_starts_on_the_local_monday() -> None:
    # When the scorecard of 2026-W48 is built for Auckland
    card = build_scorecard("2026-W48", {}, {}, CATALOG, zone=AUCKLAND)
    # Then its period names the zone and spans local Monday midnight to the next local Monday
    assert card["period"] == {"id": "2026-W48", "start": "2026-11-23", "end": "2026-11-29",
                              "timezone": "Pacific/Auckland", "start_at": "2026-11-23T00:00:00+13:00",
                              "end_at": "2026-11-30T00:00:00+13:00"}
    assert card["previous"]["period"]["timezone"] == "Pacific/Auckland"


def test_the_trend_holds_8_weeks_oldest_first_ending_with_the_reported_one() -> None:
    # Given rollups with 1..8 promoters in the eight weeks up to 2026-W47 and one outside them
    weeks = [shift("2026-W47", step) for step in range(-7, 1)]
    items = weekly_nps_items(weeks, list(range(1, 9)))
    items.update(weekly_nps_items(["2026-W39"], [50]))
    # When the scorecard of 2026-W47 is built
    card = build_scorecard("2026-W47", items, {}, CATALOG, zone=BERLIN)
    trend = card["trend"]
    # Then the trend lists those eight weeks, oldest first, with each week's own numbers
    assert [entry["period"] for entry in trend] == weeks
    assert [entry["cx"]["nps"]["n"] for entry in trend] == [p + 1 for p in range(1, 9)]
    assert trend[-1]["cx"]["nps"] == {**card["cx"]["nps"]}
    assert trend[0]["cx"]["nps"]["value"] == pytest.approx(0.0)  # 1 promoter, 1 detractor
    assert all(entry["cs"]["fcr"]["value"] == 50.0 and entry["cs"]["reopen_rate"]["value"] == 50.0
               and entry["cs"]["frt_seconds"]["n"] == 2 for entry in trend)
    # And metrics without answers are null with n = 0
    assert all(entry["cx"]["csat"]["value"] is None and entry["cx"]["csat"]["n"] == 0 for entry in trend)
    assert set(trend[0]["cx"]) == {"nps", "csat", "ces"}
    assert set(trend[0]["cs"]) == {"fcr", "frt_seconds", "reopen_rate"}


def test_the_email_and_csv_carry_the_trend_and_local_dates() -> None:
    # Given a week with answers and a detractor comment given Monday 00:30 in Auckland (Sunday in UTC)
    weeks = [shift("2026-W48", step) for step in range(-7, 1)]
    comment = {"touchpoint": "relationship", "metric": "nps", "score": 1, "comment": "<b>late</b>",
               "submitted_at": "2026-11-22T11:30:00.000Z"}
    card = build_scorecard("2026-W48", weekly_nps_items(weeks, [3] * 8), {}, CATALOG, zone=AUCKLAND,
                           top_comments=[comment])
    html, text = render_html(card, "Shop"), render_text(card, "Shop")
    # Then the email has a trend row per headline metric, built from table cells only
    for label in ("NPS", "CSAT", "CES", "FCR", "FRT median", "Reopen rate"):
        assert f"\n{label}: " in text
    assert "2026-W41 to 2026-W48, 8 periods, Pacific/Auckland time" in html
    assert "<img" not in html and "<script" not in html and "<svg" not in html
    # And the comment shows its local date, escaped
    assert "2026-11-23" in text and "&lt;b&gt;late&lt;/b&gt;" in html
    # And the CSV has a trend row per period and headline number
    trend_rows = [row for row in scorecard_rows(card) if row[1] == "trend"]
    assert [row[0] for row in trend_rows if row[3] == "nps"] == weeks
    assert {row[3] for row in trend_rows} >= {"nps", "csat", "ces", "fcr", "frt_seconds_median", "reopen_rate"}
