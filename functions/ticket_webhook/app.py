"""TicketWebhookFunction: helpdesk webhooks and the normalized ticket view (SPEC §3). Routes only;
the work is done by ``touchpoint.tickets.intake``."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext
from touchpoint import runtime
from touchpoint.errors import ApiError
from touchpoint.platform.http import capped, install_error_handlers, json_response, raw_body, request_base_url
from touchpoint.platform.settings import TicketWebhookSettings
from touchpoint.tickets import intake as webhooks

logger = Logger(service="ticket-webhook")
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app, logger)
runtime.cold_start(TicketWebhookSettings)


@app.post("/webhooks/<provider>", summary="Receive a helpdesk webhook (signed per provider)", tags=["tickets"])
def receive(provider: str):
    webhooks.check_provider(provider)
    event = app.current_event
    outcome = webhooks.receive_webhook(
        provider, event.headers, raw_body(event),
        secret=runtime.webhook_secret(provider), catalog=runtime.catalog(), store=runtime.ticket_store(),
        publisher=runtime.event_publisher(), ring=runtime.key_ring(),
        base_url=request_base_url(event, runtime.settings().public_base_url), now=datetime.now(UTC),
    )
    logger.info("webhook", extra={"provider": provider, "applied": outcome.applied,
                                  "duplicates": outcome.duplicates})
    return json_response(outcome.status, outcome.body())


@app.get("/v1/tickets/<provider>/<ticket_id>", summary="The normalized ticket", tags=["tickets"])
def get_ticket(provider: str, ticket_id: str):
    webhooks.check_provider(provider)
    record = runtime.ticket_store().state(provider, ticket_id)
    if record is None:
        raise ApiError(404, "not_found", f"No {provider} ticket {ticket_id!r}", "ticket_id")
    return json_response(200, webhooks.public_ticket(record))


@logger.inject_lambda_context(clear_state=True)
def _resolve(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)


lambda_handler = capped(_resolve)
