"""ScorecardFunction: the scheduled CX and CS scorecard email (EventBridge Scheduler) and
``GET /v1/scorecards/{period}``. Wiring only; the work is done by ``touchpoint.scorecards`` with what
``touchpoint.runtime`` builds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext
from touchpoint import runtime
from touchpoint.periods import last_complete_period
from touchpoint.platform.http import answers, capped, install_error_handlers, json_response
from touchpoint.platform.settings import ScorecardSettings
from touchpoint.scorecards.models import ScheduleInput, Scorecard

logger = Logger(service="scorecard")
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app, logger)
runtime.cold_start(ScorecardSettings)


@app.get("/v1/scorecards/<period>", summary="The CX and CS scorecard of a period", tags=["scorecards"],
         responses=answers({200: (Scorecard, "Computed from the rollups now")}, [422]))
def get_scorecard(period: str):
    return json_response(200, Scorecard.model_validate(runtime.scorecard(period)))


def run_schedule(event: dict[str, Any]) -> dict[str, Any]:
    """A Scheduler invocation: the event is the schedule's Input, e.g. {"granularity": "week"}, or an
    explicit {"period": "2026-W47"} for a re-run. Sends the email at most once per period. The default
    period is the last complete one of the reporting time zone (a Monday 07:00 run in Auckland reports
    the local week that just ended)."""
    schedule = ScheduleInput.model_validate(event)
    current = runtime.settings()
    period = schedule.period or last_complete_period(schedule.granularity or current.scorecard_granularity,
                                                     datetime.now(UTC), current.zone)
    scorecard = runtime.scorecard(period)
    delivery = runtime.deliver(scorecard)
    logger.info("scorecard run", extra={"period": period, "delivery": delivery.status})
    return {**scorecard, "delivery": delivery.as_dict()}


@logger.inject_lambda_context(clear_state=True)
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "requestContext" in event:
        return app.resolve(event, context)
    return run_schedule(event)


lambda_handler = capped(_handle)
