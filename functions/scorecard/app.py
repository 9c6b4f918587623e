"""ScorecardFunction: the scheduled CX and CS scorecard email (EventBridge Scheduler) and
``GET /v1/scorecards/{period}``. Wiring only; the work is done by ``touchpoint.scorecards``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext
from touchpoint import runtime
from touchpoint.errors import ApiError
from touchpoint.periods import is_period, last_complete_period
from touchpoint.platform.http import capped, install_error_handlers, json_response
from touchpoint.platform.settings import ScorecardSettings

logger = Logger(service="scorecard")
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app, logger)
runtime.cold_start(ScorecardSettings)


@app.get("/v1/scorecards/<period>", summary="The CX and CS scorecard of a period", tags=["scorecards"])
def get_scorecard(period: str):
    if not is_period(period):
        raise ApiError(422, "invalid_period", "Use an ISO week like 2026-W47 or a month like 2026-11", "period")
    return json_response(200, runtime.scorecard(period))


def run_schedule(event: dict[str, Any]) -> dict[str, Any]:
    """A Scheduler invocation: the event is the schedule's Input, e.g. {"granularity": "week"}, or an
    explicit {"period": "2026-W47"} for a re-run. Sends the email at most once per period."""
    settings = runtime.settings()
    period = event.get("period") or last_complete_period(event.get("granularity") or settings.scorecard_granularity,
                                                         datetime.now(UTC))
    if not is_period(str(period)):
        raise ValueError(f"not a period: {period!r}")
    scorecard = runtime.scorecard(str(period))
    delivery = runtime.deliver(scorecard)
    logger.info("scorecard run", extra={"period": period, "delivery": delivery.status})
    return {**scorecard, "delivery": delivery.as_dict()}


@logger.inject_lambda_context(clear_state=True)
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "requestContext" in event:
        return app.resolve(event, context)
    return run_schedule(event)


lambda_handler = capped(_handle)
