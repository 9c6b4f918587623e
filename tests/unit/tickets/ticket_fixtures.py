"""Helpers for the ticket-domain tests: the webhook payloads of tests/fixtures/webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from touchpoint.catalog import Catalog
from touchpoint.tickets import TicketEvent, parse_webhook

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"

# Help Scout names the event in a header, not in the body; the fixtures record which one they are.
HELPSCOUT_EVENTS = {
    "convo_created": "convo.created",
    "convo_agent_reply_created": "convo.agent.reply.created",
    "convo_customer_reply_created": "convo.customer.reply.created",
    "convo_status_closed": "convo.status",
    "convo_status_reopened": "convo.status",
}
# The Freshdesk body has no time of its own unless the rule sends one; this is "when it arrived".
RECEIVED_AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def fixture_bytes(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / f"{name}.json").read_bytes()


def fixture_json(provider: str, name: str) -> Any:
    return json.loads(fixture_bytes(provider, name))


def fixture_names(provider: str) -> list[str]:
    return sorted(path.stem for path in (FIXTURES / provider).glob("*.json"))


def headers_for(provider: str, name: str) -> dict[str, str]:
    return {"X-HelpScout-Event": HELPSCOUT_EVENTS[name]} if provider == "helpscout" else {}


def parse_fixture(provider: str, name: str, catalog: Catalog) -> list[TicketEvent]:
    return parse_webhook(provider, headers_for(provider, name), fixture_bytes(provider, name), catalog,
                         received_at=RECEIVED_AT)
