"""What every measure shares: an in-process moto account built from template.yaml (like
``touchpoint local --embedded``), a DynamoDB request/item counter on botocore's event hooks, the
handler loader, HTTP API v2 events and a data generator."""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
PERIOD = "2026-W47"  # every data set lives in this ISO week
WEEK_START = datetime(2026, 11, 16, tzinfo=UTC)  # its Monday

# Fake credentials and no endpoint: nothing may reach a real AWS account.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",  # noqa: S105
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "TouchpointBench"}
AWS_UNSET = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETSMANAGER", "AWS_PROFILE",
              "AWS_DEFAULT_PROFILE")


def function_environment(function: str | None = None) -> dict[str, str]:
    """The environment template.yaml gives the functions (names as the local stack makes them), with
    LogLevel WARNING; ``function`` (a logical id) picks one function's, else all of them merged."""
    from touchpoint_local.template import read_stack

    model = read_stack(ROOT / "template.yaml", {"LogLevel": "WARNING"}, region=REGION)
    env: dict[str, str] = {}
    for logical_id, spec in model.functions.items():
        if function in (None, logical_id):
            for key, value in spec.environment.items():
                if key != "AWS_ENDPOINT_URL":
                    env.setdefault(key, value)
    return env


@dataclass
class Stack:
    dynamodb: Any  # a client of the moto account
    table: str  # FeedbackTable's physical name
    resources: dict[str, str]  # logical id -> physical name
    secrets: dict[str, Any]  # infra/local/secrets.json


@contextmanager
def moto_stack() -> Iterator[Stack]:
    """A fresh in-process moto account with every resource of template.yaml (``provision`` of the local
    stack), the functions' environment exported, and ``touchpoint.runtime`` caches dropped. The local
    stack's moto fixes (``moto_speedups``: fast transactions, atomic requests, partition queries) apply;
    none changes a result."""
    import boto3
    from moto import mock_aws
    from touchpoint import runtime
    from touchpoint_local import moto_speedups
    from touchpoint_local.provision import provision
    from touchpoint_local.stack import load_local_secrets
    from touchpoint_local.template import read_stack

    saved = dict(os.environ)
    for name in AWS_UNSET:
        os.environ.pop(name, None)
    os.environ.update(AWS_ENV)
    moto_speedups.apply()
    mock = mock_aws()
    mock.start()
    try:
        model = read_stack(ROOT / "template.yaml", {"LogLevel": "WARNING"}, region=REGION)
        secrets = load_local_secrets(ROOT)
        session = boto3.session.Session(region_name=REGION)
        resources = provision(model, session, secrets, model.parameters.get("SenderAddress"))
        os.environ.update(function_environment())
        runtime.reset()
        yield Stack(session.client("dynamodb"), resources["FeedbackTable"], resources, secrets)
    finally:
        runtime.reset()
        mock.stop()
        os.environ.clear()
        os.environ.update(saved)


# Counting DynamoDB requests and items --------------------------------------------------------------
@dataclass
class DynamoCounter:
    """Requests per operation and items returned by them, from botocore's ``after-call`` hook:
    ``Items``/``Count`` of Query and Scan (plus ``ScannedCount``, what DynamoDB reads and bills for a
    Scan), ``Item`` of GetItem, ``Responses`` of BatchGetItem."""

    requests: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)
    scanned: int = 0

    def attach(self, client: Any) -> DynamoCounter:
        client.meta.events.register("after-call.dynamodb.*", self._after_call)
        return self

    def detach(self, client: Any) -> None:
        client.meta.events.unregister("after-call.dynamodb.*", self._after_call)

    def _after_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        self.requests[operation] += 1
        if "Count" in parsed:
            self.items[operation] += int(parsed["Count"])
            self.scanned += int(parsed.get("ScannedCount", parsed["Count"]))
        elif "Item" in parsed:
            self.items[operation] += 1
            self.scanned += 1
        elif operation == "BatchGetItem":
            got = sum(len(items) for items in parsed.get("Responses", {}).values())
            self.items[operation] += got
            self.scanned += got

    @property
    def items_read(self) -> int:
        return sum(self.items.values())

    def reset(self) -> None:
        self.requests.clear()
        self.items.clear()
        self.scanned = 0


# Handlers ----------------------------------------------------------------------------------------
_loads = itertools.count()


def load_handler(function_dir: str) -> ModuleType:
    """functions/<function_dir>/app.py imported from its file under a fresh name, as a cold start would."""
    path = ROOT / "functions" / function_dir / "app.py"
    name = f"_bench_{function_dir}_{next(_loads)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    function_name: str = "touchpoint-bench"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:touchpoint-bench"
    aws_request_id: str = "bench"
    log_group_name: str = "/aws/lambda/touchpoint-bench"
    log_stream_name: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


_SAMPLE_EVENT = ROOT / "infra" / "events" / "http-api-proxy.json"


def http_event(method: str, path: str, body: Any, route_key: str, path_params: dict[str, str] | None = None) -> dict:
    """An API Gateway HTTP API (payload 2.0) event with a JSON body, from the SAM sample event."""
    event = copy.deepcopy(json.loads(_SAMPLE_EVENT.read_text("utf-8")))
    raw = json.dumps(body)
    domain = "abc123.execute-api.us-east-1.amazonaws.com"
    event.update({"routeKey": route_key, "rawPath": path, "rawQueryString": "", "cookies": [], "body": raw,
                  "isBase64Encoded": False,
                  "headers": {"content-type": "application/json", "host": domain, "content-length": str(len(raw)),
                              "user-agent": "benchmarks"}})
    event.pop("queryStringParameters", None)
    event.pop("stageVariables", None)
    if path_params:
        event["pathParameters"] = path_params
    else:
        event.pop("pathParameters", None)
    context = event["requestContext"]
    context.pop("authentication", None)
    context.pop("authorizer", None)
    context.update({"domainName": domain, "domainPrefix": "abc123", "routeKey": route_key})
    context["http"].update({"method": method, "path": path, "userAgent": "benchmarks"})
    return event


# Timing ------------------------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 4)


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


# Data --------------------------------------------------------------------------------------------
# Answers arrive mostly in the day and evening (a realistic week, not a uniform smear).
_HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 9, 8, 8, 8, 9, 10, 10, 9, 7, 4, 2]
_COMMENTS = ["Arrived late", "Box was crushed", "Hard to find the return label", "Great service", "Fine"]


def responses(count: int, *, seed: int = 7, customers: int | None = None) -> list[dict[str, Any]]:
    """``count`` response records (as ``touchpoint.surveys.response_record`` makes them) submitted in
    PERIOD, over the catalog's 9 touchpoints with each one's metric, from ``customers`` customers
    (default: a third of the count, so customers come back during the week)."""
    from touchpoint.catalog import load_catalog
    from touchpoint.surveys.intake import response_record

    rng = random.Random(seed)
    catalog = load_catalog("ecommerce")
    touchpoints = list(catalog.touchpoints)
    pool = customers or max(1, count // 3)
    scales = {"nps": range(0, 11), "csat": range(1, 6), "ces": range(1, 8)}
    out = []
    for index in range(count):
        touchpoint = rng.choice(touchpoints)
        score = rng.choice(scales[touchpoint.metric])
        moment = WEEK_START + timedelta(days=rng.randrange(7), hours=rng.choices(range(24), _HOUR_WEIGHTS)[0],
                                        seconds=rng.randrange(3600), microseconds=index)
        out.append(response_record(
            survey_id=f"b{seed}x{index:07d}", customer_id=f"cust-{rng.randrange(pool):06d}", touchpoint=touchpoint,
            metric=touchpoint.metric, score=score, comment=rng.choice(_COMMENTS) if rng.random() < 0.3 else None,
            submitted_at=moment, order_id=f"A-{index}", source="link"))
    return out


def stored_response(record: dict[str, Any]) -> dict[str, Any]:
    """The item ResponseStore writes for a record (its key, first_submitted_at and submissions)."""
    from touchpoint.platform.table import response_key

    return {**response_key(record["survey_id"]), **record, "first_submitted_at": record["submitted_at"],
            "submissions": 1}


def batch_write(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    """Plain items written 25 at a time (BatchWriteItem), retrying unprocessed ones."""
    from touchpoint.platform.dynamo import to_item

    for start in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": to_item(item)}} for item in items[start:start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
