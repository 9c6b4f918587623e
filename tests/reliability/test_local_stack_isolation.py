"""The local stack serves concurrent requests like separate Lambda execution environments: what one
request is processing never leaks into another. (Found by the load test, where an import batch was
occasionally refused as "customer_id: Field required" and an answer could be read from another
request's body.)

Deterministic: the stack runs embedded (as `touchpoint demo` runs it) and a middleware holds one
survey answer at the start of its route until a concurrent webhook delivery has been handled."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from touchpoint import runtime
from touchpoint.catalog import load_catalog
from touchpoint.surveys.intake import mint_link
from touchpoint.surveys.models import LinkRequest
from touchpoint.surveys.tokens import KeyRing
from touchpoint.tickets import sign


@pytest.fixture
def embedded_stack() -> Iterator[Any]:
    """`touchpoint local` in this process on embedded moto (no AWS port), the environment restored after."""
    from touchpoint_local.stack import LocalStack

    saved = dict(os.environ)
    stack = LocalStack(port=0, pump_interval=0, embedded=True)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        runtime.reset()


def _handle(stack: Any, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    status, _, raw = stack.gateway.handle(method, target, {k.lower(): v for k, v in headers.items()}, body,
                                          f"127.0.0.1:{stack.port}", "127.0.0.1")
    return status, json.loads(raw) if raw else None


def test_a_concurrent_request_never_replaces_the_event_another_request_is_handling(embedded_stack):
    stack = embedded_stack
    link = mint_link(LinkRequest(customer_id="iso-1", touchpoint="shipping", order_id="ISO-1"),
                     load_catalog(os.environ.get("TOUCHPOINT_CATALOG", "ecommerce")),
                     KeyRing(stack.secrets["token_keys"]), stack.url, datetime.now(UTC))
    webhook = json.dumps({"event_id": "iso-e1", "ticket_id": "ISO-T1", "customer_id": "iso-2", "channel": "chat",
                          "event": "created", "occurred_at": "2026-11-16T09:00:00Z"}).encode()
    webhook_headers = {"content-type": "application/json",
                       **sign("generic", webhook, stack.secrets["webhook_secrets"]["generic"], datetime.now(UTC))}
    replies: dict[str, tuple[int, Any]] = {}
    webhook_done = threading.Event()

    def deliver_webhook() -> None:
        try:
            replies["webhook"] = _handle(stack, "POST", "/webhooks/generic", webhook_headers, webhook)
        finally:
            webhook_done.set()

    # Given an answer held at the start of its route while a webhook delivery is handled on another thread
    intake = next(module for name, module in sys.modules.items()
                  if name.startswith("_touchpoint_local_SurveyIntakeFunction_") and hasattr(module, "app"))

    def hold(app: Any, next_middleware: Any) -> Any:
        if app.current_event.headers.get("x-hold") == "1":
            threading.Thread(target=deliver_webhook, daemon=True).start()
            webhook_done.wait(timeout=3)  # a stack that serializes requests makes the webhook wait instead
        return next_middleware(app)

    intake.app.use(middlewares=[hold])
    # When both are handled
    replies["answer"] = _handle(stack, "POST", f"/s/{link.token}",
                                {"content-type": "application/json", "x-hold": "1"}, b'{"score": 4}')
    assert webhook_done.wait(timeout=30)
    # Then each request was handled with its own event: the answer is recorded, the webhook applied
    assert replies["answer"][0] == 201, replies["answer"]
    assert replies["answer"][1]["survey_id"] == link.survey_id and replies["answer"][1]["score"] == 4
    assert replies["webhook"][0] == 202, replies["webhook"]
