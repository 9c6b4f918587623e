"""The ticket webhook handler as the integration tests start it: loaded like a cold start inside the
moto account of the ``aws`` fixture, with its webhook secrets and an event bus tapped into a queue."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from touchpoint import runtime
from touchpoint.tickets import PROVIDERS
from touchpoint_local.testing import EventTap, load_handler

WEBHOOK_SECRET_NAME = "touchpoint-test/WebhookSecretsSecret"
EVENT_BUS = "touchpoint-test-events"
TAP_QUEUE = "touchpoint-test-events-tap"
SECRETS = {provider: f"it-{provider}-webhook-secret-0123456789" for provider in PROVIDERS}


def start_ticket_webhook(aws: Any, monkeypatch: pytest.MonkeyPatch,
                         secrets: dict[str, str]) -> tuple[ModuleType, EventTap]:
    """The loaded handler module and the tap of its bus (``unload`` the module when done)."""
    aws.secretsmanager.create_secret(Name=WEBHOOK_SECRET_NAME, SecretString=json.dumps(secrets))
    tap = EventTap(EVENT_BUS, TAP_QUEUE)
    monkeypatch.setenv("WEBHOOK_SECRETS_SECRET", WEBHOOK_SECRET_NAME)
    monkeypatch.setenv("EVENT_BUS_NAME", EVENT_BUS)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "ticket-webhook")
    runtime.reset()
    return load_handler("ticket_webhook"), tap
