"""Helpers for the ticket-domain tests: the webhook payloads of tests/fixtures/webhooks, parsed as they
arrived (the fixtures themselves are ``touchpoint_local.testing``'s)."""

from __future__ import annotations

from datetime import UTC, datetime

from touchpoint.catalog import Catalog
from touchpoint.tickets import TicketEvent, parse_webhook
from touchpoint_local.testing import event_headers, fixture_bytes

# The Freshdesk body has no time of its own unless the rule sends one; this is "when it arrived".
RECEIVED_AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def parse_fixture(provider: str, name: str, catalog: Catalog) -> list[TicketEvent]:
    return parse_webhook(provider, event_headers(provider, name), fixture_bytes(provider, name), catalog,
                         received_at=RECEIVED_AT)
