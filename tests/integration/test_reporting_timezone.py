"""The reporting time zone on moto, through the real entry points: answers imported over
POST /v1/responses, the table's stream delivered to the aggregator handler, and the scorecard read from
GET /v1/scorecards/{period}. With ReportingTimezone=Pacific/Auckland, answers early on a local Monday
count in that local week, the period names the zone and starts on the local Monday, the trend holds the
8 weeks ending with the reported one, and changing the zone later is a `rebuild --repair`."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from touchpoint import runtime
from touchpoint.periods import reporting_zone
from touchpoint.rollups.rebuild import rebuild
from touchpoint_local.testing import EventTap, FakeLambdaContext, HandlerClient, StreamReader, load_handler, unload

BUS = "touchpoint-test-bus"
AUCKLAND = "Pacific/Auckland"


@pytest.fixture
def functions(aws, monkeypatch) -> Any:
    """The survey intake, aggregator and scorecard handlers, loaded in the zone the test sets with
    ``functions.start(zone)``; ``drain()`` delivers the table's stream to the aggregator."""
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    EventTap(BUS, "tap")
    loaded: list[ModuleType] = []

    class Functions:
        stream = StreamReader(aws.dynamodb, aws.table_name)

        def start(self, zone: str) -> None:
            """A deployment with ReportingTimezone = ``zone``: every function cold-starts with it."""
            monkeypatch.setenv("REPORTING_TIMEZONE", zone)
            runtime.reset()
            while loaded:
                unload(loaded.pop())
            self.intake = HandlerClient(self._load("survey_intake"))
            self.aggregator = self._load("aggregator")
            self.scorecards = HandlerClient(self._load("scorecard"))

        def _load(self, name: str) -> ModuleType:
            loaded.append(load_handler(name))
            return loaded[-1]

        def answer(self, response_id: str, submitted_at: str, score: int) -> None:
            reply = self.intake.request("POST", "/v1/responses", {
                "customer_id": f"cust-{response_id}", "touchpoint": "relationship", "metric": "nps", "score": score,
                "response_id": response_id, "submitted_at": submitted_at})
            assert reply.status == 201, reply.body

        def drain(self) -> None:
            for _ in range(5):
                records = self.stream.new_records()
                if not records:
                    return
                reply = self.aggregator.lambda_handler({"Records": records}, FakeLambdaContext("aggregator"))
                assert reply == {"batchItemFailures": []}

        def scorecard(self, period: str) -> dict[str, Any]:
            reply = self.scorecards.request("GET", f"/v1/scorecards/{period}", path_params={"period": period},
                                            route_key="GET /v1/scorecards/{period}")
            assert reply.status == 200, reply.body
            return reply.json()

        def drift(self, zone: str, repair: bool = False) -> int:
            report = rebuild(aws.rollup_store(), zone=reporting_zone(zone), repair=repair)
            return len(report.drift)

    yield Functions()
    while loaded:
        unload(loaded.pop())


# Sunday 2026-11-22 23:30 in Auckland (NZDT, +13) and Monday 2026-11-23 00:30 / 06:59 there: all three
# are Sunday in UTC, so a UTC calendar would put them all in 2026-W47.
SUNDAY_NIGHT_AUCKLAND = "2026-11-22T10:30:00Z"
MONDAY_EARLY_AUCKLAND = ("2026-11-22T11:30:00Z", "2026-11-22T17:59:00Z")


def test_answers_early_on_a_monday_in_auckland_count_in_that_local_week(functions) -> None:
    # Given the stack deployed with ReportingTimezone=Pacific/Auckland
    functions.start(AUCKLAND)
    # When answers given late Sunday and early Monday (local) are imported and aggregated
    functions.answer("sun", SUNDAY_NIGHT_AUCKLAND, 3)
    functions.answer("mon-1", MONDAY_EARLY_AUCKLAND[0], 10)
    functions.answer("mon-2", MONDAY_EARLY_AUCKLAND[1], 9)
    functions.drain()
    # Then the Monday answers count in the local week 2026-W48, the Sunday one in 2026-W47
    week48, week47 = functions.scorecard("2026-W48"), functions.scorecard("2026-W47")
    assert (week48["cx"]["nps"]["n"], week48["cx"]["nps"]["promoters"]) == (2, 2)
    assert (week47["cx"]["nps"]["n"], week47["cx"]["nps"]["detractors"]) == (1, 1)
    # And the period names the zone and starts at midnight of the local Monday
    assert week48["period"] == {"id": "2026-W48", "start": "2026-11-23", "end": "2026-11-29",
                                "timezone": AUCKLAND, "start_at": "2026-11-23T00:00:00+13:00",
                                "end_at": "2026-11-30T00:00:00+13:00"}
    # And the trend holds the 8 weeks ending with the reported one, with both weeks' numbers
    trend = week48["trend"]
    assert [entry["period"] for entry in trend] == [f"2026-W{week}" for week in range(41, 49)]
    assert [entry["cx"]["nps"]["n"] for entry in trend] == [0, 0, 0, 0, 0, 0, 1, 2]
    assert trend[-1]["cx"]["nps"]["value"] == 100.0 and trend[0]["cx"]["nps"]["value"] is None
    # And the customers are active in their local weeks; the rebuild in the same zone finds no drift
    assert functions.drift(AUCKLAND) == 0


def test_changing_the_zone_later_is_a_rebuild_with_repair(functions) -> None:
    # Given answers aggregated while the stack reported in UTC
    functions.start("UTC")
    functions.answer("mon-1", MONDAY_EARLY_AUCKLAND[0], 10)
    functions.answer("mon-2", MONDAY_EARLY_AUCKLAND[1], 2)
    functions.drain()
    assert functions.scorecard("2026-W47")["cx"]["nps"]["n"] == 2
    # When ReportingTimezone becomes Pacific/Auckland, the old rollups drift from the new zone's
    functions.start(AUCKLAND)
    assert functions.drift(AUCKLAND) > 0
    # And `touchpoint rebuild --repair` rewrites them
    functions.drift(AUCKLAND, repair=True)
    # Then nothing drifts, and the answers count in their local week
    assert functions.drift(AUCKLAND) == 0
    assert functions.scorecard("2026-W48")["cx"]["nps"]["n"] == 2
    assert functions.scorecard("2026-W47")["cx"]["nps"]["n"] == 0
    # And later answers and changes keep the repaired counters exact
    functions.answer("mon-3", "2026-11-23T02:00:00Z", 9)
    functions.drain()
    assert functions.drift(AUCKLAND) == 0
    assert functions.scorecard("2026-W48")["cs"]["retention"]["base"] == 0
