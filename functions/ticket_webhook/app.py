"""TicketWebhookFunction: helpdesk webhooks and the normalized ticket view. Powertools wiring only:
each route calls one domain function of ``touchpoint.tickets.intake``."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext
from touchpoint import runtime
from touchpoint.platform.http import (
    answers,
    capped,
    install_error_handlers,
    json_response,
    path_value,
    raw_body,
    request_base_url,
)
from touchpoint.platform.settings import TicketWebhookSettings
from touchpoint.tickets import intake as tickets
from touchpoint.tickets.models import TicketView, WebhookReceipt

logger = Logger(service="ticket-webhook")
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app, logger)
runtime.cold_start(TicketWebhookSettings)


@app.post("/webhooks/<provider>", summary="Receive a helpdesk webhook (signed per provider)", tags=["tickets"],
          responses=answers({202: (WebhookReceipt, "At least one event was new and is applied"),
                             200: (WebhookReceipt, "Every event was received before (a retry) or none is recorded")},
                            [400, 401, 409, 413, 422]))
def receive(provider: str):
    event = app.current_event
    receipt = tickets.receive_webhook(
        provider, event.headers, raw_body(event),
        secrets=runtime.webhook_secrets(), catalog=runtime.catalog(), store=runtime.ticket_store(),
        publisher=runtime.event_publisher(), ring=runtime.key_ring(), contacts=runtime.contact_store(),
        base_url=request_base_url(event, runtime.settings().public_base_url), now=datetime.now(UTC),
        url_token=event.get_query_string_value("token"), suppressions=runtime.suppression_store(),
        max_event_age=runtime.webhook_max_event_age(),
    )
    logger.info("webhook", extra={"provider": provider, "applied": receipt.applied,
                                  "duplicates": receipt.duplicates, "suppressed": receipt.suppressed,
                                  "stale": receipt.stale})
    return json_response(receipt.status_code, receipt)


@app.get("/v1/tickets/<provider>/<ticket_id>", summary="The normalized ticket", tags=["tickets"],
         responses=answers({200: (TicketView, "The ticket folded from every distinct event")}, [404, 422]))
def get_ticket(provider: str, ticket_id: str):
    return json_response(200, tickets.get_ticket(runtime.ticket_store(), provider, path_value(ticket_id)))


@logger.inject_lambda_context(clear_state=True)
def _resolve(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)


lambda_handler = capped(_resolve)
