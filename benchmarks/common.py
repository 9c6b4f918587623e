"""What every measure shares: an in-process moto account built from template.yaml (like
``touchpoint local --embedded``), a DynamoDB request/item counter on botocore's event hooks, timing and
a data generator. The handler loader, HTTP API v2 events and the fake Lambda context are the tests'
(``touchpoint_local.testing``)."""

from __future__ import annotations

import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from touchpoint_local.testing import REAL_AWS_SETTINGS, ROOT, FakeLambdaContext

REGION = "us-east-1"
PERIOD = "2026-W47"  # every data set lives in this ISO week
WEEK_START = datetime(2026, 11, 16, tzinfo=UTC)  # its Monday

# Fake credentials and no endpoint: nothing may reach a real AWS account.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",  # noqa: S105
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "TouchpointBench"}
CONTEXT = FakeLambdaContext("touchpoint-bench", aws_request_id="bench")  # what the handlers are invoked with


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


# The DynamoDB the measures run on: "moto" (in-process) or "local" (DynamoDB Local, AWS's emulator,
# over loopback HTTP as a real endpoint would be). ``python -m benchmarks --dynamodb`` sets it.
BACKEND = "moto"


@contextmanager
def moto_stack() -> Iterator[Stack]:
    """A fresh in-process moto account with every resource of template.yaml (``provision`` of the local
    stack), the functions' environment exported, and ``touchpoint.runtime`` caches dropped. The local
    stack's moto fixes (``moto_speedups``: fast transactions, atomic requests, partition queries) apply;
    none changes a result. With ``BACKEND = "local"`` DynamoDB and its stream are a fresh DynamoDB
    Local instead (botocore's service-specific endpoints; the other services stay on moto)."""
    import boto3
    from moto import mock_aws
    from touchpoint import runtime
    from touchpoint_local import moto_speedups
    from touchpoint_local.provision import provision
    from touchpoint_local.stack import load_local_secrets
    from touchpoint_local.template import read_stack

    saved = dict(os.environ)
    for name in REAL_AWS_SETTINGS:
        os.environ.pop(name, None)
    os.environ.update(AWS_ENV)
    moto_speedups.apply()
    dynamodb_local = None
    if BACKEND == "local":
        from touchpoint_local.dynamodb_local import DynamoDBLocal

        dynamodb_local = DynamoDBLocal().start()
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_local.endpoint
        os.environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = dynamodb_local.endpoint
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
        if dynamodb_local is not None:
            dynamodb_local.stop()
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


def moto_key_only_insert(record: dict[str, Any]) -> bool:
    """moto emits two INSERT records for an UpdateItem that creates an item, a keys-only image and then
    the item, where DynamoDB emits one: the benchmarks drop the keys-only one."""
    data = record["dynamodb"]
    return record["eventName"] == "INSERT" and set(data.get("NewImage") or {}) <= {"pk", "sk"}


def batch_write(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    """Plain items written 25 at a time (BatchWriteItem), retrying unprocessed ones."""
    from touchpoint.platform.dynamo import to_item

    for start in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": to_item(item)}} for item in items[start:start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
