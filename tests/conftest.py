"""Shared fixtures: a moto account built from template.yaml, HTTP API v2 events built from the SAM
sample event, and the survey intake handler loaded the way Lambda loads it (from its file, after the
environment is set)."""

from __future__ import annotations

import base64
import copy
import functools
import importlib.util
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
SAMPLE_HTTP_EVENT = ROOT / "infra" / "events" / "http-api-proxy.json"
SURVEY_INTAKE_APP = ROOT / "functions" / "survey_intake" / "app.py"

REGION = "us-east-1"
TABLE_NAME = "touchpoint-test-FeedbackTable"
IDEMPOTENCY_TABLE_NAME = "touchpoint-test-IdempotencyTable"
TOKEN_SECRET_NAME = "touchpoint-test/TokenKeysSecret"
# The last key listed signs (template.yaml, TokenKeysSecret).
TOKEN_KEYS = {"k-old": "old-token-key-0123456789abcdef", "k-new": "new-token-key-fedcba9876543210"}
API_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"

_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
# Anything that could point boto3 at a real endpoint, profile or config.
_UNSET_AWS_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETSMANAGER",
                  "AWS_PROFILE", "AWS_DEFAULT_PROFILE")
_FUNCTION_ENV = ("TABLE_NAME", "TOKEN_KEYS_SECRET", "TOUCHPOINT_CATALOG", "PUBLIC_BASE_URL", "STAGE",
                 "IDEMPOTENCY_TABLE_NAME", "WEBHOOK_SECRETS_SECRET", "SECRETS_MAX_AGE_SECONDS", "EVENT_BUS_NAME")


@functools.lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    from touchpoint_local.template import load_template

    return load_template(TEMPLATE)


def template_resources(kind: str) -> dict[str, dict[str, Any]]:
    """The resources of template.yaml of one type, by logical id (a copy: callers may change it)."""
    resources = copy.deepcopy(_template()["Resources"])
    return {lid: res for lid, res in resources.items() if res["Type"] == kind}


def table_request(logical_id: str, name: str) -> dict[str, Any]:
    """CreateTable arguments for a table of template.yaml (keys, indexes, stream), as CloudFormation
    would create it."""
    from touchpoint_local.provision import create_table_request

    return create_table_request(name, template_resources("AWS::DynamoDB::Table")[logical_id]["Properties"])


@dataclass
class AwsAccount:
    """The moto account of one test: the feedback table and the token-keys secret."""

    table_name: str
    idempotency_table_name: str
    token_secret: str
    token_keys: dict[str, str]
    dynamodb: Any
    secretsmanager: Any

    def item_count(self) -> int:
        return self.dynamodb.scan(TableName=self.table_name, Select="COUNT")["Count"]

    def items(self) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        raw = self.dynamodb.scan(TableName=self.table_name)["Items"]
        return [{k: deserialize(v) for k, v in item.items()} for item in raw]

    def set_token_keys(self, keys: dict[str, str]) -> None:
        """Rotate the token keys, and drop the cached copy like a cold start would."""
        from touchpoint import runtime

        self.secretsmanager.put_secret_value(SecretId=self.token_secret, SecretString=json.dumps(keys))
        runtime.reset()


@pytest.fixture(scope="session", autouse=True)
def fast_moto_transactions() -> None:
    """The local stack's fix for moto copying whole tables on every TransactWriteItems action."""
    from touchpoint_local import moto_speedups

    moto_speedups.apply()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsAccount]:
    """A fresh moto account with FeedbackTable and IdempotencyTable (as template.yaml declares them) and
    the token secret, and the function environment pointing at them. Never reaches a real endpoint:
    AWS_ENDPOINT_URL (declared empty in template.yaml for sam local) is removed."""
    import boto3
    from moto import mock_aws
    from touchpoint import runtime

    for name in _UNSET_AWS_ENV + _FUNCTION_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in _FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", IDEMPOTENCY_TABLE_NAME)
    monkeypatch.setenv("TOKEN_KEYS_SECRET", TOKEN_SECRET_NAME)
    monkeypatch.setenv("TOUCHPOINT_CATALOG", "ecommerce")
    monkeypatch.setenv("PUBLIC_BASE_URL", "")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "survey-intake")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    runtime.reset()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        # Every table of the template, so a table added there exists here too.
        names = {"FeedbackTable": TABLE_NAME, "IdempotencyTable": IDEMPOTENCY_TABLE_NAME}
        for logical_id in template_resources("AWS::DynamoDB::Table"):
            dynamodb.create_table(**table_request(logical_id, names.get(logical_id, f"touchpoint-test-{logical_id}")))
        secretsmanager = boto3.client("secretsmanager", region_name=REGION)
        secretsmanager.create_secret(Name=TOKEN_SECRET_NAME, SecretString=json.dumps(TOKEN_KEYS))
        try:
            yield AwsAccount(TABLE_NAME, IDEMPOTENCY_TABLE_NAME, TOKEN_SECRET_NAME, dict(TOKEN_KEYS),
                             dynamodb, secretsmanager)
        finally:
            runtime.reset()


# HTTP API v2 events ------------------------------------------------------------------------------
HttpEvent = Callable[..., dict[str, Any]]


def build_http_event(
    method: str,
    path: str,
    body: str | bytes | dict | list | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
    base64: bool = False,
    route_key: str | None = None,
    domain: str = API_DOMAIN,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, from the `sam local generate-event` sample.

    ``body`` may be text, bytes, or a dict/list (sent as JSON with a JSON content type unless one is
    given). ``route_key`` defaults to "METHOD path"; pass the template's route (``POST /s/{token}``)
    to mirror what API Gateway sends."""
    event = copy.deepcopy(json.loads(SAMPLE_HTTP_EVENT.read_text("utf-8")))
    all_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if isinstance(body, dict | list):
        body = json.dumps(body)
        all_headers.setdefault("content-type", "application/json")
    raw = body.encode("utf-8") if isinstance(body, str) else body
    all_headers.setdefault("host", domain)
    all_headers.setdefault("user-agent", "pytest")
    if raw is not None:
        all_headers.setdefault("content-length", str(len(raw)))
    query_string = urlencode(query or {})
    event.update({
        "routeKey": route_key or f"{method.upper()} {path}",
        "rawPath": path,
        "rawQueryString": query_string,
        "cookies": [],
        "headers": all_headers,
        "isBase64Encoded": bool(base64 and raw is not None),
    })
    if query:
        event["queryStringParameters"] = dict(query)
    else:
        event.pop("queryStringParameters", None)
    if path_params:
        event["pathParameters"] = dict(path_params)
    else:
        event.pop("pathParameters", None)
    if raw is None:
        event.pop("body", None)
    elif base64:
        event["body"] = _b64(raw)
    else:
        event["body"] = raw.decode("utf-8")
    context = event["requestContext"]
    context.pop("authentication", None)
    context.pop("authorizer", None)
    context["domainName"] = domain
    context["domainPrefix"] = domain.split(".")[0]
    context["stage"] = "$default"
    context["routeKey"] = event["routeKey"]
    context["http"]["method"] = method.upper()
    context["http"]["path"] = path
    context["http"]["userAgent"] = all_headers["user-agent"]
    event.pop("stageVariables", None)
    return event


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@pytest.fixture
def http_event() -> HttpEvent:
    """Factory: ``http_event(method, path, body=None, headers=None, query=None, path_params=None, base64=False)``."""
    return build_http_event


# Lambda ------------------------------------------------------------------------------------------
@dataclass
class FakeLambdaContext:
    function_name: str = "touchpoint-test-SurveyIntakeFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:touchpoint-test-SurveyIntakeFunction"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/touchpoint-test-SurveyIntakeFunction"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


_module_ids = itertools.count()


def load_function_module(path: Path, name: str) -> ModuleType:
    """Import a handler module from its file under a unique name, like a fresh cold start."""
    unique = f"{name}_{next(_module_ids)}"
    spec = importlib.util.spec_from_file_location(unique, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(unique, None)
        raise
    return module


@pytest.fixture
def function_loader() -> Callable[[Path, str], ModuleType]:
    """``load_function_module`` for test modules (they cannot import this conftest by name)."""
    return load_function_module


@pytest.fixture
def survey_intake(aws: AwsAccount) -> Iterator[ModuleType]:
    """functions/survey_intake/app.py, loaded inside the moto account with its environment set."""
    module = load_function_module(SURVEY_INTAKE_APP, "survey_intake_app")
    yield module
    sys.modules.pop(module.__name__, None)
