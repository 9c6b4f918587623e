"""Fixtures of the reliability suite that run the real handlers in-process on moto (the ``aws``
fixture of tests/conftest.py): each function loaded from its file like a cold start, an event bus
tapped into a queue, the stream delivered the way Lambda delivers it, and HTTP API v2 events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from reliability_support import WEBHOOK_SECRETS
from touchpoint import runtime
from touchpoint_local.testing import EventTap, HandlerClient, RunningStack, load_handler, running_stack

REGION = "us-east-1"
BUS = "touchpoint-reliability-bus"
WEBHOOK_SECRET_NAME = "touchpoint-reliability/WebhookSecretsSecret"
SENDER = "scorecards@shop.example.com"
RECIPIENTS = "cx-team@shop.example.com,ops@shop.example.com"
BUCKET = "touchpoint-reliability-archive"


@pytest.fixture(scope="session")
def shared_stack(dynamodb_backend: str) -> Iterator[RunningStack]:
    """A `touchpoint local` of this suite's own, on a free port, per DynamoDB backend, for the fuzzing and
    hostile-input tests (the load test starts one more, so that its recount sees only its own data)."""
    with running_stack(dynamodb=dynamodb_backend) as stack:
        yield stack


@pytest.fixture
def tap(aws: Any, monkeypatch: pytest.MonkeyPatch) -> EventTap:
    """Every event that reached the bus, through a rule that copies them into an SQS queue."""
    tap = EventTap(BUS, "reliability-tap", REGION)
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    runtime.reset()
    return tap


class Http(HandlerClient):
    """Invokes a handler with HTTP API v2 events, as API Gateway would: (status, headers, body text)."""

    def __call__(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                 route_key: str, path_params: dict[str, str] | None = None, query: dict[str, str] | None = None,
                 b64: bool | None = None) -> tuple[int, dict[str, str], str]:
        reply = self.request(method, path, body, headers=headers, query=query, path_params=path_params,
                             base64=b64, route_key=route_key)
        return reply.status, reply.headers, reply.body


@pytest.fixture
def intake(aws: Any) -> Iterator[Http]:
    """functions/survey_intake/app.py, cold-started inside the moto account."""
    yield Http(load_handler("survey_intake"))


@pytest.fixture
def webhooks(aws: Any, tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> Iterator[Http]:
    """functions/ticket_webhook/app.py with its webhook secrets and event bus."""
    aws.secretsmanager.create_secret(Name=WEBHOOK_SECRET_NAME, SecretString=json.dumps(WEBHOOK_SECRETS))
    monkeypatch.setenv("WEBHOOK_SECRETS_SECRET", WEBHOOK_SECRET_NAME)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "ticket-webhook")
    runtime.reset()
    yield Http(load_handler("ticket_webhook"))


@pytest.fixture
def aggregator(aws: Any, tap: EventTap) -> Any:
    """functions/aggregator/app.py, loaded like Lambda loads it."""
    return load_handler("aggregator")


@pytest.fixture
def scorecard_function(aws: Any, tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> Any:
    """functions/scorecard/app.py with a verified SES sender and an archive bucket."""
    import boto3

    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("SENDER_ADDRESS", SENDER)
    monkeypatch.setenv("RECIPIENT_ADDRESSES", RECIPIENTS)
    monkeypatch.setenv("ARCHIVE_BUCKET", BUCKET)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "scorecard")
    runtime.reset()
    return load_handler("scorecard")
