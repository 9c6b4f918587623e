"""Fixtures of the reliability suite that run the real handlers in-process on moto (the ``aws``
fixture of tests/conftest.py): each function loaded from its file like a cold start, an event bus
tapped into a queue, the stream delivered the way Lambda delivers it, and HTTP API v2 events."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from reliability_support import ROOT, WEBHOOK_SECRETS, Stack, load_function, running_stack
from touchpoint import runtime

REGION = "us-east-1"
BUS = "touchpoint-reliability-bus"
WEBHOOK_SECRET_NAME = "touchpoint-reliability/WebhookSecretsSecret"
SENDER = "scorecards@shop.example.com"
RECIPIENTS = "cx-team@shop.example.com,ops@shop.example.com"
BUCKET = "touchpoint-reliability-archive"


@pytest.fixture(scope="session")
def shared_stack() -> Iterator[Stack]:
    """A `touchpoint local` of this suite's own, on a free port, for the fuzzing and hostile-input tests
    (the load test starts one more, so that its recount sees only its own data)."""
    with running_stack() as stack:
        yield stack


class Tap:
    """Every event that reached the bus, through a rule that copies them into an SQS queue."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs, self.queue_url = sqs, queue_url
        self.seen: list[dict[str, Any]] = []

    def published(self, detail_type: str | None = None) -> list[dict[str, Any]]:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [e for e in self.seen if detail_type is None or e.get("detail-type") == detail_type]


@pytest.fixture
def tap(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Tap:
    import boto3

    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName="reliability-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tap", EventBusName=BUS, EventPattern=json.dumps({"source": ["touchpoint"]}))
    events.put_targets(Rule="tap", EventBusName=BUS, Targets=[{"Id": "tap", "Arn": arn}])
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    runtime.reset()
    return Tap(sqs, queue_url)


class Http:
    """Invokes a handler with HTTP API v2 events, as API Gateway would."""

    def __init__(self, module: Any, build_event: Callable[..., dict[str, Any]], context: Any) -> None:
        self.module, self.build_event, self.context = module, build_event, context

    def __call__(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                 route_key: str, path_params: dict[str, str] | None = None, query: dict[str, str] | None = None,
                 b64: bool | None = None) -> tuple[int, dict[str, str], str]:
        if b64 is None:
            b64 = isinstance(body, bytes) and not _is_utf8(body)
        event = self.build_event(method, path, body, headers=headers, query=query, path_params=path_params,
                                 base64=b64, route_key=route_key)
        result = self.module.lambda_handler(event, self.context)
        out = result.get("body") or ""
        if result.get("isBase64Encoded"):
            out = base64.b64decode(out).decode("utf-8", "replace")
        return int(result["statusCode"]), {k.lower(): v for k, v in (result.get("headers") or {}).items()}, out


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.fixture
def intake(aws: Any, http_event: Callable[..., dict[str, Any]], lambda_context: Any) -> Iterator[Http]:
    """functions/survey_intake/app.py, cold-started inside the moto account."""
    module = load_function(ROOT / "functions" / "survey_intake" / "app.py")
    yield Http(module, http_event, lambda_context)


@pytest.fixture
def webhooks(aws: Any, tap: Tap, monkeypatch: pytest.MonkeyPatch, http_event: Callable[..., dict[str, Any]],
             lambda_context: Any) -> Iterator[Http]:
    """functions/ticket_webhook/app.py with its webhook secrets and event bus."""
    aws.secretsmanager.create_secret(Name=WEBHOOK_SECRET_NAME, SecretString=json.dumps(WEBHOOK_SECRETS))
    monkeypatch.setenv("WEBHOOK_SECRETS_SECRET", WEBHOOK_SECRET_NAME)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "ticket-webhook")
    runtime.reset()
    module = load_function(ROOT / "functions" / "ticket_webhook" / "app.py")
    yield Http(module, http_event, lambda_context)


@pytest.fixture
def aggregator(aws: Any, tap: Tap) -> Any:
    """functions/aggregator/app.py, loaded like Lambda loads it."""
    return load_function(ROOT / "functions" / "aggregator" / "app.py")


@pytest.fixture
def scorecard_function(aws: Any, tap: Tap, monkeypatch: pytest.MonkeyPatch) -> Any:
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
    return load_function(ROOT / "functions" / "scorecard" / "app.py")
