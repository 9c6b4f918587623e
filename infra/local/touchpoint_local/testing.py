"""Test support for tests/ and benchmarks/ (never deployed; the local stack itself never imports it).

* Handlers in-process: ``load_handler`` imports functions/<name>/app.py from its file under a fresh
  module name, like a cold start; ``http_event`` builds an API Gateway HTTP API (payload 2.0) event
  from the ``sam local generate-event`` sample; ``HandlerClient`` sends those events to a handler with a
  ``FakeLambdaContext`` and answers a ``Reply``; ``EventTap`` copies what reaches an EventBridge bus into
  an SQS queue; ``StreamReader`` reads a table's stream as Lambda hands it to the aggregator.
* `touchpoint local` over HTTP: ``running_stack`` starts it as a user would, on a ``free_port``, and
  yields a ``RunningStack`` (keep-alive HTTP client, the moto table behind it, ``touchpoint rebuild``).
* Helpdesk webhooks: the fixtures of tests/fixtures/webhooks by provider and name, the header Help Scout
  names its event in, and the providers whose signature carries a timestamp.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import http.client
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from base64 import b64decode, b64encode, urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode, urlsplit

from .functions import load_module
from .stack import load_local_secrets

ROOT = Path(__file__).resolve().parents[3]  # the checkout: template.yaml, functions/, tests/
SAMPLE_HTTP_EVENT = ROOT / "infra" / "events" / "http-api-proxy.json"
WEBHOOK_FIXTURES = ROOT / "tests" / "fixtures" / "webhooks"
REGION = "us-east-1"
API_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
REQUEST_TIMEOUT = 30.0
# Anything that could point boto3 at a real endpoint, profile or config.
REAL_AWS_SETTINGS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
                     "AWS_ENDPOINT_URL_SECRETSMANAGER",
                     "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


@functools.lru_cache(maxsize=1)
def local_secrets() -> dict[str, Any]:
    """infra/local/secrets.json: the admin key, token keys and webhook secrets of `touchpoint local`."""
    return load_local_secrets(ROOT)


# Handlers in-process ---------------------------------------------------------------------------------
_cold_starts = itertools.count()


def load_handler(function: str | Path, prefix: str = "touchpoint_test") -> ModuleType:
    """functions/<function>/app.py (or the file ``function``) imported from its file under a fresh module
    name, like a cold start: import it after the environment is set. ``unload`` drops it again."""
    path = function if isinstance(function, Path) else ROOT / "functions" / function / "app.py"
    return load_module(path, f"{prefix}_{path.parent.name}_{next(_cold_starts)}")


def unload(module: ModuleType) -> None:
    sys.modules.pop(module.__name__, None)


@dataclass
class FakeLambdaContext:
    """What a handler reads of its Lambda context (Powertools logs it), with time to spare."""

    function_name: str = "touchpoint-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_stream_name: str = "test"
    remaining_ms: int = 60_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@functools.lru_cache(maxsize=1)
def _sample_http_event() -> dict[str, Any]:
    return json.loads(SAMPLE_HTTP_EVENT.read_text("utf-8"))


def is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def http_event(
    method: str,
    path: str,
    body: str | bytes | dict | list | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
    base64: bool | None = None,
    route_key: str | None = None,
    domain: str = API_DOMAIN,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, from the `sam local generate-event` sample.

    ``body`` may be text, bytes, or a dict/list (sent as JSON with a JSON content type unless one is
    given). ``base64`` defaults to what API Gateway does: base64-encode a body that is not UTF-8 text.
    ``route_key`` defaults to "METHOD path"; pass the template's route (``POST /s/{token}``) to mirror
    what API Gateway sends."""
    event = copy.deepcopy(_sample_http_event())
    all_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if isinstance(body, dict | list):
        body = json.dumps(body)
        all_headers.setdefault("content-type", "application/json")
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if base64 is None:
        base64 = raw is not None and not is_utf8(raw)
    all_headers.setdefault("host", domain)
    all_headers.setdefault("user-agent", "pytest")
    if raw is not None:
        all_headers.setdefault("content-length", str(len(raw)))
    event.update({
        "routeKey": route_key or f"{method.upper()} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "cookies": [],
        "headers": all_headers,
        "isBase64Encoded": bool(base64 and raw is not None),
    })
    for key, value in (("queryStringParameters", query), ("pathParameters", path_params)):
        if value:
            event[key] = dict(value)
        else:
            event.pop(key, None)
    if raw is None:
        event.pop("body", None)
    else:
        event["body"] = b64encode(raw).decode("ascii") if base64 else raw.decode("utf-8")
    context = event["requestContext"]
    context.pop("authentication", None)
    context.pop("authorizer", None)
    context.update({"domainName": domain, "domainPrefix": domain.split(".")[0], "stage": "$default",
                    "routeKey": event["routeKey"]})
    context["http"].update({"method": method.upper(), "path": path, "userAgent": all_headers["user-agent"]})
    event.pop("stageVariables", None)
    return event


@dataclass
class Reply:
    """An HTTP answer, from a handler or over the wire: header names lower-cased, the body as text."""

    status: int
    headers: dict[str, str]
    body: str
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return self.body

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


class HandlerClient:
    """Sends HTTP API v2 events to a handler module as API Gateway would, and reads its answer."""

    http_event = staticmethod(http_event)
    domain = API_DOMAIN

    def __init__(self, module: ModuleType, context: Any = None) -> None:
        self.module = module
        self.context = context or FakeLambdaContext()

    def send(self, event: dict[str, Any]) -> Reply:
        result = self.module.lambda_handler(event, self.context)
        body = result.get("body") or ""
        if result.get("isBase64Encoded"):
            body = b64decode(body).decode("utf-8", "replace")
        return Reply(int(result["statusCode"]), {k.lower(): v for k, v in (result.get("headers") or {}).items()},
                     body)

    def request(self, method: str, path: str, body: Any = None, **event: Any) -> Reply:
        """``http_event(method, path, body, **event)``, sent."""
        return self.send(http_event(method, path, body, **event))


class EventTap:
    """Every Touchpoint event that reached an EventBridge bus, through a rule that copies them into an
    SQS queue. ``published`` keeps what it read, so each call answers everything so far."""

    def __init__(self, bus: str, queue: str = "touchpoint-test-tap", region: str = REGION) -> None:
        import boto3

        events = boto3.client("events", region_name=region)
        self.sqs = boto3.client("sqs", region_name=region)
        events.create_event_bus(Name=bus)
        self.queue_url = self.sqs.create_queue(QueueName=queue)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url,
                                            AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["touchpoint"]}))
        events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def published(self, detail_type: str | None = None) -> list[dict[str, Any]]:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                break
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [e for e in self.seen if detail_type is None or e.get("detail-type") == detail_type]


class StreamReader:
    """A table's stream as Lambda hands it to the aggregator, from where the last read stopped."""

    def __init__(self, client: Any, table: str, region: str = REGION) -> None:
        self.client, self.table, self.region = client, table, region
        self.positions: dict[str, str] = {}  # per shard

    def new_records(self) -> list[dict[str, Any]]:
        import boto3

        from .streams import read_stream

        arn = self.client.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        return read_stream(boto3.session.Session(region_name=self.region), arn, self.positions)


# `touchpoint local` over HTTP --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def touchpoint_exe() -> str:
    """The ``touchpoint`` command of this environment."""
    return shutil.which("touchpoint") or str(Path(sys.executable).parent / "touchpoint")


class KeepAliveClient:
    """One persistent HTTP/1.1 connection per thread to the stack (the gateway keeps connections
    open), reconnecting once when the server closed it."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
            self._local.connection = connection
        return connection

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = REQUEST_TIMEOUT) -> Reply:
        for attempt in (1, 2):
            connection = self._connection()
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=dict(headers or {}))
                response = connection.getresponse()
                payload = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest,
                    http.client.BadStatusLine):
                # A kept-alive connection the server had closed; a fresh one is a new request.
                self.close()
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - started
            if response.getheader("connection", "").lower() == "close":
                self.close()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                         payload.decode("utf-8", "replace"), elapsed)
        raise AssertionError("unreachable")


# What the HTTP entry points write; the aggregator writes the rest (rollups, activity, alerts).
ENTRY_POINT_RECORDS = ("response", "ticket", "ticket_event")


@dataclass
class RunningStack:
    """A running `touchpoint local`: its base URL, /_local/info and the local secrets."""

    base: str
    info: dict[str, Any]
    secrets: dict[str, Any] = field(default_factory=local_secrets)
    process: subprocess.Popen | None = None
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = KeepAliveClient(self.base)

    @property
    def admin_key(self) -> str:
        return self.secrets["admin_api_key"]

    def request(self, method: str, path: str, *, json_body: Any = None, data: bytes | None = None,
                headers: Mapping[str, str] | None = None, admin: bool = False,
                timeout: float = REQUEST_TIMEOUT) -> Reply:
        all_headers = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            all_headers.setdefault("content-type", "application/json")
        if admin:
            all_headers["x-api-key"] = self.admin_key
        return self.http.request(method, path, data, all_headers, timeout)

    def dynamodb(self) -> Any:
        """A client of the stack's DynamoDB: moto's server, or DynamoDB Local / the endpoint it was given."""
        import boto3

        endpoint = self.info.get("dynamodb_endpoint") or self.info["aws_endpoint"]
        return boto3.client("dynamodb", endpoint_url=endpoint, region_name=self.info["region"],
                            aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106 - local

    def client(self, service: str) -> Any:
        """A client of the stack's moto server (S3, Secrets Manager, EventBridge, ...)."""
        import boto3

        return boto3.client(service, endpoint_url=self.info["aws_endpoint"], region_name=self.info["region"],
                            aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106 - local

    @property
    def table(self) -> str:
        return self.info["resources"]["FeedbackTable"]

    def items(self) -> list[dict[str, Any]]:
        """Every item of the feedback table, as plain values."""
        from touchpoint.platform.dynamo import from_item, scan_all

        return [from_item(item) for item in scan_all(self.dynamodb(), TableName=self.table)]

    @contextmanager
    def quiet_pump(self) -> Iterator[None]:
        """Drain the stream, then hold the background pump until the block ends: the table's item
        count only moves by what the block itself writes."""
        drained = self.request("POST", "/_local/drain")
        assert drained.status == 200, drained.text
        paused = self.request("POST", "/_local/pump", json_body={"paused": True})
        assert paused.status == 200, paused.text
        try:
            yield
        finally:
            self.request("POST", "/_local/pump", json_body={"paused": False})

    def record_count(self) -> int:
        """How many records the entry points wrote (responses, tickets, ticket events): unlike
        ``item_count`` it does not move while the stream pump writes rollups in the background, so
        "nothing was written" can be checked without racing the aggregator."""
        return sum(1 for item in self.items() if item.get("type") in ENTRY_POINT_RECORDS)

    def item_count(self) -> int:
        client, total, request = self.dynamodb(), 0, {"TableName": self.table, "Select": "COUNT"}
        while True:
            page = client.scan(**request)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                return total
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def rebuild(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """`touchpoint rebuild --stack BASE ARGS...`, as a user runs it against this stack."""
        return subprocess.run([touchpoint_exe(), "rebuild", "--stack", self.base, *args],  # noqa: S603
                              capture_output=True, text=True, timeout=timeout, check=False)


@contextmanager
def running_stack(start_timeout: float = 120.0, dynamodb: str = "moto",
                  dynamodb_endpoint: str | None = None) -> Iterator[RunningStack]:
    """`touchpoint local` as a user starts it (no AWS_* settings inherited), on a free port, stopped
    (SIGINT, then SIGKILL) after. Raises RuntimeError with the end of its output if it does not start.
    ``dynamodb``: moto or local (the stack starts DynamoDB Local); ``dynamodb_endpoint``: one already running."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = [touchpoint_exe(), "local", "--port", str(port), "--dynamodb", dynamodb]
    if dynamodb_endpoint:
        command += ["--dynamodb-endpoint", dynamodb_endpoint]
    process = subprocess.Popen(command, cwd=ROOT, env=env,  # noqa: S603
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    assert process.stdout is not None
    threading.Thread(target=lambda: [lines.append(line) for line in process.stdout], daemon=True).start()
    ready = f"Touchpoint local stack on http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout
    try:
        while time.monotonic() < deadline and process.poll() is None and not any(ready in x for x in lines):
            time.sleep(0.05)
        if not any(ready in line for line in lines):
            raise RuntimeError("local stack did not start:\n" + "".join(lines[-40:]))
        base = f"http://127.0.0.1:{port}"
        info = RunningStack(base, {}).request("GET", "/_local/info").json()
        stack = RunningStack(base, info, process=process, log=lines)
        yield stack
        stack.http.close()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


# Helpdesk webhook fixtures (tests/fixtures/webhooks/<provider>/<name>.json) ---------------------------
# Help Scout names the event in a header, not in the body; the fixtures record which one they are.
HELPSCOUT_EVENTS = {
    "convo_created": "convo.created",
    "convo_agent_reply_created": "convo.agent.reply.created",
    "convo_customer_reply_created": "convo.customer.reply.created",
    "convo_status_closed": "convo.status",
    "convo_status_reopened": "convo.status",
}
# The providers whose signature carries a timestamp (and therefore a 5-minute window).
TIMESTAMPED = ("zendesk", "chatwoot", "generic")


def fixture_names(provider: str) -> list[str]:
    return sorted(path.stem for path in (WEBHOOK_FIXTURES / provider).glob("*.json"))


def fixture_bytes(provider: str, name: str) -> bytes:
    return (WEBHOOK_FIXTURES / provider / f"{name}.json").read_bytes()


def fixture_json(provider: str, name: str) -> Any:
    return json.loads(fixture_bytes(provider, name))


def event_headers(provider: str, name: str) -> dict[str, str]:
    """The headers a delivery of the fixture carries besides its signature: Help Scout's event name."""
    return {"X-HelpScout-Event": HELPSCOUT_EVENTS[name]} if provider == "helpscout" else {}


def json_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """The path (keys and indexes) of every part of a JSON value, the value itself first: where a fuzzer
    can damage a realistic payload."""
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += json_paths(child, (*prefix, index))
    return out


# Field lifecycles (tests/fixtures/field; its README says where every shape comes from) ----------------
FIELD_FIXTURES = ROOT / "tests" / "fixtures" / "field"
# The README's timeline (UTC), the same for every helpdesk: created, Tom replies, Ana replies, solved,
# Ana writes again (the reopen), Tom replies, solved again.
FIELD_T0 = datetime(2026, 3, 10, 9, 14, 5, tzinfo=UTC)
FIELD_T1 = datetime(2026, 3, 10, 9, 41, 30, tzinfo=UTC)
FIELD_T3 = datetime(2026, 3, 10, 10, 20, 45, tzinfo=UTC)
FIELD_T5 = datetime(2026, 3, 12, 9, 12, 2, tzinfo=UTC)
FIELD_CUSTOMER_EXTERNAL_ID = "cust_48213"  # Ana's id in the shop

# Each lifecycle in dispatch order (created -> agent reply -> customer reply -> solved -> reopened ->
# solved), by label: (provider, the files under tests/fixtures/field/<provider>/). Help Scout's
# canonical reopen is 06 (06b is the other possibility), Intercom's is 05 (alt-05 the manual one);
# Chatwoot sends both conversation_status_changed and conversation_updated for a status change.
FIELD_LIFECYCLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "zendesk": ("zendesk", (
        "01-ticket.created", "02-ticket.comment_added.agent", "03-ticket.status_changed.new-to-pending",
        "04-ticket.comment_added.customer", "05-ticket.status_changed.pending-to-open",
        "06-ticket.status_changed.open-to-solved", "07-ticket.comment_added.customer-on-solved",
        "08-ticket.status_changed.solved-to-open", "09-ticket.comment_added.agent",
        "10-ticket.status_changed.open-to-solved")),
    "intercom": ("intercom", (
        "01-conversation.user.created", "02-conversation.admin.replied", "03-conversation.user.replied",
        "04-conversation.admin.closed", "05-conversation.user.replied.into-closed",
        "06-conversation.admin.replied", "07-conversation.admin.closed")),
    "helpscout": ("helpscout", (
        "01-convo.created", "02-convo.agent.reply.created", "03-convo.customer.reply.created",
        "04-convo.status.closed", "05-convo.customer.reply.created.reopens", "06-convo.status.active",
        "07-convo.agent.reply.created", "08-convo.status.closed")),
    "chatwoot": ("chatwoot", (
        "01-conversation_created", "02-message_created.incoming", "03-message_created.outgoing",
        "04-message_created.incoming", "05-conversation_status_changed.resolved",
        "05b-conversation_updated.resolved", "06-conversation_status_changed.reopened",
        "06b-conversation_updated.reopened", "07-message_created.incoming", "08-message_created.outgoing",
        "09-conversation_status_changed.resolved", "09b-conversation_updated.resolved")),
    "freshdesk-advanced": ("freshdesk", (
        "advanced/01-created", "advanced/02-agent_replied", "advanced/03-customer_replied", "advanced/04-solved",
        "advanced/05-reopened", "advanced/06-solved")),
    # 03 is left out: its triggered_event (a customer reply) is UNCONFIRMED.
    "freshdesk-simple": ("freshdesk", (
        "simple/01-ticket-created", "simple/02-agent-reply-sent", "simple/04-status-resolved",
        "simple/05-status-reopened", "simple/06-status-resolved-again")),
}


@dataclass(frozen=True)
class FieldTicket:
    """What the lifecycle's ticket must read, from the files: the id Touchpoint keeps it under, the
    customer, the canonical channel and the agent replies the files hold."""

    provider: str
    ticket_id: str
    customer_id: str
    channel: str
    agent_replies: int


FIELD_TICKETS = {
    # detail.id; only detail.requester_id names the customer; via.channel "email"; comments 02 and 09
    "zendesk": FieldTicket("zendesk", "4821", "zendesk:user:21684302411533", "email", 2),
    # data.item.id; contacts[0].external_id; source.type "conversation" (Messenger); parts of 02 and 06
    "intercom": FieldTicket("intercom", "215470123456789", FIELD_CUSTOMER_EXTERNAL_ID, "chat", 2),
    # id; no external id, so the email; type "email"; reply threads of 02 and 07
    "helpscout": FieldTicket("helpscout", "2791048312", "ana.souza@example.com", "email", 2),
    # account.id 3 : conversation (display) id 87; meta.sender.identifier; Channel::WebWidget; 03 and 08
    "chatwoot": FieldTicket("chatwoot", "3:87", FIELD_CUSTOMER_EXTERNAL_ID, "chat", 2),
    # ticket_id; requester_external_id / ticket_contact_unique_external_id; source "Email"; only 02
    "freshdesk": FieldTicket("freshdesk", "3917", FIELD_CUSTOMER_EXTERNAL_ID, "email", 1),
}


@dataclass(frozen=True)
class FieldDelivery:
    """One delivery of tests/fixtures/field: the body's bytes as they are in the file, and the headers
    the helpdesk sends besides its signature (``NN-name.headers.json``)."""

    provider: str
    name: str  # the file under the provider's folder, without ".json" ("advanced/04-solved")
    raw: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.raw)

    def with_body(self, body: Any) -> FieldDelivery:
        """The same delivery with another body, written as the fixtures are (2-space indent, UTF-8)."""
        raw = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        return FieldDelivery(self.provider, self.name, raw, dict(self.headers))


def field_delivery(provider: str, name: str) -> FieldDelivery:
    folder = FIELD_FIXTURES / provider
    return FieldDelivery(provider, name, (folder / f"{name}.json").read_bytes(),
                         json.loads((folder / f"{name}.headers.json").read_text("utf-8")))


def field_lifecycle(label: str, names: tuple[str, ...] | None = None) -> list[FieldDelivery]:
    """The deliveries of a lifecycle of ``FIELD_LIFECYCLES`` (or of other files of its provider)."""
    provider, canonical = FIELD_LIFECYCLES[label]
    return [field_delivery(provider, name) for name in (canonical if names is None else names)]


def sign_as_helpdesk(provider: str, raw: bytes, secret: str, now: datetime) -> dict[str, str]:
    """The authentication headers the helpdesk itself sends with ``raw`` at ``now``, written from the
    providers' documentation (tests/fixtures/field/README.md) and deliberately not from
    ``touchpoint.tickets.signatures``: a test signing with the product's code cannot catch it signing wrong."""
    key = secret.encode("utf-8")
    if provider == "zendesk":
        timestamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        mac = hmac.new(key, timestamp.encode("utf-8") + raw, hashlib.sha256).digest()
        return {"X-Zendesk-Webhook-Signature": b64encode(mac).decode("ascii"),
                "X-Zendesk-Webhook-Signature-Timestamp": timestamp}
    if provider == "intercom":
        return {"X-Hub-Signature": "sha1=" + hmac.new(key, raw, hashlib.sha1).hexdigest()}
    if provider == "helpscout":
        return {"X-HelpScout-Signature": b64encode(hmac.new(key, raw, hashlib.sha1).digest()).decode("ascii")}
    if provider == "chatwoot":
        timestamp = str(int(now.timestamp()))
        mac = hmac.new(key, timestamp.encode("ascii") + b"." + raw, hashlib.sha256).hexdigest()
        return {"X-Chatwoot-Signature": f"sha256={mac}", "X-Chatwoot-Timestamp": timestamp}
    if provider == "freshdesk":  # Freshdesk does not sign: the rule sends the secret in a custom header
        return {"X-Touchpoint-Secret": secret}
    raise ValueError(f"no field lifecycle for {provider!r}")


def field_view(view: Mapping[str, Any], received: Mapping[str, tuple[datetime, datetime]] | None = None,
               ) -> dict[str, Any]:
    """A ticket view as the field tests compare it. Times are cut to the second (the timeline has
    seconds; helpdesks send fractions). With ``received`` ({delivery: (before, after) its POST}), a time
    inside one of those windows reads as that delivery's name: Freshdesk bodies are dated on receipt."""
    out = dict(view)
    for name in ("created_at", "first_agent_reply_at", "solved_at"):
        value = out.get(name)
        if not isinstance(value, str):
            continue
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        windows = [label for label, (start, end) in (received or {}).items() if start <= moment <= end]
        out[name] = windows[0] if windows else moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return out


def expected_field_view(ticket: FieldTicket, created_at: str | datetime = FIELD_T0,
                        first_agent_reply_at: str | datetime = FIELD_T1, solved_at: str | datetime = FIELD_T5,
                        **changes: Any) -> dict[str, Any]:
    """The view of a full lifecycle (solved, reopened once, solved again: not first contact resolution),
    in ``field_view`` form; pass delivery names instead of times for bodies dated on receipt."""
    def moment(value: str | datetime) -> str:
        return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value

    return {"provider": ticket.provider, "ticket_id": ticket.ticket_id, "customer_id": ticket.customer_id,
            "channel": ticket.channel, "touchpoint": "support", "status": "solved",
            "created_at": moment(created_at), "first_agent_reply_at": moment(first_agent_reply_at),
            "solved_at": moment(solved_at), "agent_replies": ticket.agent_replies, "reopens": 1,
            "handle_seconds": None, "fcr": False, **changes}


def chatwoot_in_account(delivery: FieldDelivery, account_id: int) -> FieldDelivery:
    """The delivery as another account of the same install would send it: the account named where
    Chatwoot names it, and message ids moved (they are global to the install). Conversation 87 stays:
    display ids are per account."""
    body = delivery.json()
    conversation = body.get("conversation", body)
    for holder in (body, conversation):
        if isinstance(holder.get("account"), dict):
            holder["account"]["id"] = account_id
    for message in conversation.get("messages", []):
        message["account_id"] = account_id
        message["id"] += 100_000
    if body["event"].startswith("message_"):
        body["id"] += 100_000
    moved = delivery.with_body(body)
    if "X-Chatwoot-Delivery" in moved.headers:  # one uuid per delivery
        moved.headers["X-Chatwoot-Delivery"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{delivery.name}/{account_id}"))
    return moved


# Survey tokens, as an observer of a URL sees them -------------------------------------------------
def b64url(raw: bytes) -> str:
    """URL-safe base64 without padding, as survey tokens are written."""
    return urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))


def legacy_v1_token(payload: Any, key: str) -> str:
    """A survey link in the legacy signed format (version 1), as links were sent before tokens were
    encrypted: base64url(compact JSON) "." base64url(HMAC-SHA256(key, that base64 text)). Written
    here, not by tokens.py, so the legacy verifier is held to the format the links went out in."""
    payload_b64 = b64url(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    mac = hmac.new(key.encode("utf-8"), payload_b64.encode("ascii"), hashlib.sha256).digest()
    return f"{payload_b64}.{b64url(mac)}"



# The contact policy ----------------------------------------------------------------------------------
class FakeContactStore:
    """``surveys.store.ContactStore`` in memory, with its conditional write: ``replace`` refuses when
    the item moved past the version read. ``race`` (a callable) runs once before the next write, so a
    test can slip a concurrent mint in between a read and a write."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.race: Any = None

    def contact(self, customer_id: str) -> dict[str, Any] | None:
        found = self.items.get(customer_id)
        return copy.deepcopy(found) if found else None

    def replace(self, record: dict[str, Any], read_version: int) -> bool:
        if self.race is not None:
            race, self.race = self.race, None
            race()
        current = self.items.get(record["customer_id"])
        if int((current or {}).get("version") or 0) != read_version:
            return False
        self.writes += 1
        self.items[record["customer_id"]] = {**copy.deepcopy(record), "type": "contact", "version": read_version + 1}
        return True
