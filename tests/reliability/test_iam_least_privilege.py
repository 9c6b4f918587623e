"""Least privilege, checked against what the functions really do: every DynamoDB request each function
makes on an embedded local stack (links, pages, answers, an NPS answer linked to a ticket, imports,
helpdesk webhooks with a solve and its CSAT link, the stream, the scorecard, an erasure and a
release) is allowed by that function's own policy in template.yaml, read as IAM reads it: action,
table or index, and the ``dynamodb:LeadingKeys`` condition (``ForAllValues:StringLike``) on the
partition keys it touches. A request the policy would deny on AWS fails here; so does a statement
that lets a function write outside its own key prefixes."""

from __future__ import annotations

import fnmatch
import functools
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from touchpoint.tickets import sign
from touchpoint_local.functions import LocalFunction
from touchpoint_local.template import load_template
from touchpoint_local.testing import ROOT

TRANSACTION_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                       "ConditionCheck": "ConditionCheckItem"}


class Recorder:
    """DynamoDB requests by the function (template logical id) that made them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self._current = threading.local()

    def invoking(self, original: Any) -> Any:
        recorder = self

        def invoke(function: LocalFunction, event: dict[str, Any]) -> Any:
            recorder._current.name = function.spec.logical_id
            try:
                return original(function, event)
            finally:
                recorder._current.name = None

        return invoke

    def hook(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        name = getattr(self._current, "name", None)
        if name:
            self.calls.append((name, model.name, json.loads(json.dumps(params, default=str))))


def _partition_of(table_key: dict[str, Any], attribute: str) -> str:
    return next(iter(table_key[attribute].values()))


def requests_of(operation: str, params: dict[str, Any], key_of: dict[str, str],
                index_key_of: dict[str, str]) -> Iterator[tuple[str, str, str | None, list[str]]]:
    """(action, table, index, partition keys) of one API call, as IAM authorizes it."""
    if operation == "TransactWriteItems":
        for entry in params["TransactItems"]:
            [(kind, body)] = entry.items()
            table = body["TableName"]
            yield (TRANSACTION_ACTIONS[kind], table, None,
                   [_partition_of(body.get("Key") or body["Item"], key_of[table])])
    elif operation == "BatchGetItem":
        for table, request in params["RequestItems"].items():
            yield operation, table, None, [_partition_of(k, key_of[table]) for k in request["Keys"]]
    elif operation == "BatchWriteItem":
        for table, requests in params["RequestItems"].items():
            keys = [_partition_of((r.get("PutRequest") or {}).get("Item") or r["DeleteRequest"]["Key"],
                                  key_of[table]) for r in requests]
            yield operation, table, None, keys
    elif operation == "Query":
        table, index = params["TableName"], params.get("IndexName")
        attribute = index_key_of[index] if index else key_of[table]
        names = {v: k for k, v in (params.get("ExpressionAttributeNames") or {}).items()}
        match = re.search(rf"(?:{re.escape(attribute)}|{re.escape(names.get(attribute, attribute))})\s*=\s*(:\w+)",
                          params["KeyConditionExpression"])
        assert match, f"no partition key in {params['KeyConditionExpression']!r}"
        yield operation, table, index, [next(iter(params["ExpressionAttributeValues"][match.group(1)].values()))]
    elif operation == "Scan":
        yield operation, params["TableName"], None, []
    else:
        table = params["TableName"]
        yield operation, table, None, [_partition_of(params.get("Key") or params["Item"], key_of[table])]


def statement_resources(statement: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(table logical id, index) of each resource a statement names."""
    found = []
    for resource in statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]:
        text = json.dumps(resource)
        table = re.search(r"(\w+Table)", text)
        if table:
            index = re.search(r"/index/(\w+)", text)
            found.append((table.group(1), index.group(1) if index else None))
    return found


def allowed(statements: list[dict[str, Any]], action: str, table: str, index: str | None, keys: list[str]) -> bool:
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] != "Allow" or f"dynamodb:{action}" not in actions:
            continue
        if (table, index) not in statement_resources(statement):
            continue
        condition = statement.get("Condition")
        if condition is None:
            return True
        patterns = condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        if all(any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns) for key in keys):
            return True
    return False


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[Recorder, dict[str, str]]]:
    from touchpoint import runtime
    from touchpoint_local.stack import LocalStack

    recorder = Recorder()
    patch = pytest.MonkeyPatch()
    patch.setattr(LocalFunction, "invoke", recorder.invoking(LocalFunction.invoke))
    original = runtime.aws_client

    @functools.lru_cache(maxsize=8)
    def aws_client(service: str) -> Any:
        client = original.__wrapped__(service)
        if service == "dynamodb":
            client.meta.events.register("provide-client-params.dynamodb.*", recorder.hook)
        return client

    patch.setattr(runtime, "aws_client", aws_client)
    stack = LocalStack(port=0, preset="ecommerce", pool_size=1, pump_interval=0, embedded=True)
    try:
        stack.start()
        _drive_every_route(stack)
        yield recorder, stack.resources
    finally:
        stack.stop()
        patch.undo()
        runtime.reset()


def _call(stack: Any, method: str, path: str, body: Any = None, admin: bool = False,
          headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
    sent = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    all_headers = {"content-type": "application/json", **(headers or {})}
    if admin:
        all_headers["x-api-key"] = stack.secrets["admin_api_key"]
    status, _headers, reply = stack.gateway.handle(method, path, all_headers, sent, "127.0.0.1", "127.0.0.1")
    try:
        return status, json.loads(reply)
    except ValueError:
        return status, reply


def _deliver(stack: Any, events: list[dict[str, Any]]) -> int:
    raw = json.dumps(events).encode()
    headers = sign("generic", raw, stack.secrets["webhook_secrets"]["generic"], datetime.now(UTC))
    return _call(stack, "POST", "/webhooks/generic", headers=headers, raw=raw)[0]


def _drive_every_route(stack: Any) -> None:
    now = datetime.now(UTC)
    stamp = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    solved = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # A solved ticket (its CSAT link minted through the contact policy), then the customer's NPS
    # answer through a link, which is linked to that ticket (service -> experience)
    assert _deliver(stack, [
        {"event_id": "e1", "ticket_id": "T1", "customer_id": "ann", "channel": "email", "event": "created",
         "occurred_at": stamp},
        {"event_id": "e2", "ticket_id": "T1", "customer_id": "ann", "channel": "email", "event": "solved",
         "occurred_at": solved, "handle_seconds": 60},
    ]) == 202
    status, link = _call(stack, "POST", "/v1/links", {"customer_id": "bob", "touchpoint": "relationship"},
                         admin=True)
    assert status == 201, link
    assert _call(stack, "GET", f"/s/{link['token']}")[0] == 200
    assert _call(stack, "POST", f"/s/{link['token']}", {"score": 3, "comment": "slow"})[0] == 201
    assert _call(stack, "POST", f"/s/{link['token']}", {"score": 4})[0] == 200
    status, nps = _call(stack, "POST", "/v1/links", {"customer_id": "ann", "touchpoint": "relationship"},
                        admin=True)
    if status == 201:  # the CSAT link of the solve may hold ann back: then her answer is imported
        assert _call(stack, "POST", f"/s/{nps['token']}", {"score": 9})[0] == 201
    assert _call(stack, "POST", "/v1/responses", [
        {"customer_id": "ann", "touchpoint": "relationship", "metric": "nps", "score": 2, "response_id": "r1",
         "comment": "never again"}], admin=True)[0] == 201
    assert _call(stack, "GET", "/v1/tickets/generic/T1", admin=True)[0] in (200, 403)
    stack.drain()
    assert stack.run_schedule({})["delivery"]["status"] in ("sent", "skipped", "already_sent")
    # An erasure (with tombstones on bob's open link), the late arrivals, and a release
    assert _call(stack, "DELETE", "/v1/customers/bob", admin=True)[0] == 200
    assert _call(stack, "POST", f"/s/{link['token']}", {"score": 5})[0] == 410
    assert _call(stack, "POST", "/v1/links", {"customer_id": "bob", "touchpoint": "shipping"}, admin=True)[0] == 409
    assert _call(stack, "DELETE", "/v1/customers/bob/suppression", admin=True)[0] == 200
    stack.drain()


def test_every_dynamodb_request_of_every_function_is_allowed_by_its_own_policy(recorded):
    recorder, resources = recorded
    template = load_template(ROOT / "template.yaml")
    tables = {logical: physical for logical, physical in resources.items()
              if template["Resources"][logical]["Type"] == "AWS::DynamoDB::Table"}
    logical_of = {physical: logical for logical, physical in tables.items()}
    key_of, index_key_of = {}, {}
    for logical, physical in tables.items():
        properties = template["Resources"][logical]["Properties"]
        key_of[physical] = next(k["AttributeName"] for k in properties["KeySchema"] if k["KeyType"] == "HASH")
        for index in properties.get("GlobalSecondaryIndexes", []):
            index_key_of[index["IndexName"]] = next(k["AttributeName"] for k in index["KeySchema"]
                                                    if k["KeyType"] == "HASH")
    # Given what each function did (all four took part)
    assert {name for name, _, _ in recorder.calls} == {"SurveyIntakeFunction", "TicketWebhookFunction",
                                                        "AggregatorFunction", "ScorecardFunction"}
    denied = set()
    for function, operation, params in recorder.calls:
        statements = [s for policy in template["Resources"][function]["Properties"]["Policies"]
                      if isinstance(policy, dict) for s in policy["Statement"]]
        for action, table, index, keys in requests_of(operation, params, key_of, index_key_of):
            if not allowed(statements, action, logical_of[table], index, keys):
                denied.add((function, action, logical_of[table], index, tuple(sorted({k.split("#")[0] for k in keys}))))
    # Then IAM would have allowed every one of them
    assert sorted(denied) == []


def test_the_policies_keep_each_function_to_its_own_key_prefixes():
    # Given the template's statements on FeedbackTable, then each function may write only its own items
    template = load_template(ROOT / "template.yaml")

    def may(function: str, action: str, pk: str) -> bool:
        statements = [s for policy in template["Resources"][function]["Properties"]["Policies"]
                      if isinstance(policy, dict) for s in policy["Statement"]]
        return allowed(statements, action, "FeedbackTable", None, [pk])

    assert not may("SurveyIntakeFunction", "DeleteItem", "ROLLUP#D#2026-11-16")
    assert not may("SurveyIntakeFunction", "BatchWriteItem", "ACT#0123")
    assert not may("SurveyIntakeFunction", "PutItem", "SENT#2026-W47")
    assert may("SurveyIntakeFunction", "DeleteItem", "TICKET#zendesk#42")  # erasure
    assert not may("TicketWebhookFunction", "PutItem", "RESP#o123")
    assert not may("TicketWebhookFunction", "UpdateItem", "ROLLUP#D#2026-11-16")
    assert not may("AggregatorFunction", "PutItem", "RESP#o123")
    assert not may("AggregatorFunction", "DeleteItem", "RESP#o123")
    assert may("AggregatorFunction", "DeleteItem", "ALERT#2026-11-16")  # the alert of an erased or improved answer
    assert not may("ScorecardFunction", "PutItem", "RESP#o123")
    assert not may("ScorecardFunction", "DeleteItem", "ROLLUP#D#2026-11-16")
