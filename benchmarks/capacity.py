"""Capacity units from item sizes, by DynamoDB's rules, and the two measures built on them.

DynamoDB bills on-demand writes in write request units (one per 1 KB of the item written, rounded up;
twice that inside a transaction; an UpdateItem or a replacing PutItem counts the larger of the item
before and after), reads in read request units (one per 4 KB, rounded up; half that when eventually
consistent), and every write that changes an item's entry in a global secondary index writes the index
too (the index entry's size: keys plus projected attributes; a moved entry is a delete and a put).
Neither moto nor DynamoDB Local reports this truly (DynamoDB Local reported 2.0 units for a 50-item
transaction), so ``CapacityMeter`` computes it: botocore hooks see every request, and a second client
reads each touched item before and after the request.

* ``heavy_customer_wru``: the aggregator's write units per stream record for a customer with 20,000
  records of history (``--quick``: 1,000) over those of a new customer (bar: ≤ 1.2, SPEC §8 "Bounded
  state"). Where the history cannot even be aggregated (an item over DynamoDB's 400 KB), that is the
  result.
* ``cost_per_million_responses``: the all-in AWS cost of a million survey responses (bar: ≤ $4), from
  the units and requests measured here and list prices: per response one link minted, one page view
  and one answer through the real intake handler, and the stream aggregation of what they wrote.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from touchpoint_local.testing import StreamReader, http_event, load_handler

from .common import CONTEXT, REGION, batch_write, moto_stack, ratio, responses, stored_response, timed

HEAVY_BAR = 1.2
COST_BAR = 4.0
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
# us-east-1 list prices (on-demand): DynamoDB per request unit, HTTP API per request, Lambda arm64,
# EventBridge custom events.
USD = {"wru": 0.625e-6, "rru": 0.125e-6, "http_request": 1.00e-6, "lambda_request": 0.20e-6,
       "lambda_gb_second": 0.0000133334, "event": 1.00e-6}
INDEX_KEYS = ("pk", "sk", "gsi1pk", "gsi1sk")


# DynamoDB's item size rules -------------------------------------------------------------------------
def attribute_size(value: dict[str, Any]) -> int:
    [(kind, inner)] = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        digits = str(inner).lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode("utf-8")) + attribute_size(v) + 1 for name, v in inner.items())
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in inner)
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum(attribute_size({"N": n}) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in (item or {}).items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units if consistent else units / 2)


def index_entry(item: dict[str, Any] | None, projected: tuple[str, ...]) -> dict[str, Any] | None:
    if not item or "gsi1pk" not in item or "gsi1sk" not in item:
        return None
    return {k: v for k, v in item.items() if k in INDEX_KEYS or k in projected}


class CapacityMeter:
    """Write and read request units of every request ``client`` sends, from item sizes (``shadow``, an
    unmetered client of the same table, reads each written item before and after)."""

    def __init__(self, client: Any, shadow: Any, projected: tuple[str, ...]) -> None:
        self.shadow, self.projected = shadow, projected
        self.wru = 0.0
        self.rru = 0.0
        self.by_kind: Counter[str] = Counter()
        self.largest_item = 0
        self.enabled = True
        self._pending: list[tuple[str, dict[str, Any], dict[str, Any] | None, int]] = []
        client.meta.events.register("provide-client-params.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)

    # which items a request writes: (table, key, multiplier)
    def _writes(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
        def key_of(item: dict[str, Any]) -> dict[str, Any]:
            return {k: item[k] for k in ("pk", "sk", "id") if k in item}

        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return [(params["TableName"], key_of(params.get("Item") or params["Key"]), 1)]
        if operation == "BatchWriteItem":
            return [(table, key_of((r.get("PutRequest") or {}).get("Item") or r["DeleteRequest"]["Key"]), 1)
                    for table, requests in params["RequestItems"].items() for r in requests]
        if operation == "TransactWriteItems":
            out = []
            for entry in params["TransactItems"]:
                [(_kind, body)] = entry.items()
                out.append((body["TableName"], key_of(body.get("Item") or body["Key"]), 2))
            return out
        return []

    def _read(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self.shadow.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.enabled:
            return
        self._pending = [(table, key, self._read(table, key), multiplier)
                         for table, key, multiplier in self._writes(model.name, params)]
        self._consistent = bool(params.get("ConsistentRead"))
        self._request = params

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.enabled:
            return
        operation = model.name
        for table, key, before, multiplier in self._pending:
            after = self._read(table, key)
            size = max(item_size(before), item_size(after))
            self.largest_item = max(self.largest_item, item_size(after))
            self.wru += write_units(size) * multiplier
            self.by_kind[f"{operation}:{self._kind(before or after)}"] += write_units(size) * multiplier
            old_entry, new_entry = index_entry(before, self.projected), index_entry(after, self.projected)
            if old_entry != new_entry:
                moved = old_entry and new_entry and any(old_entry[k] != new_entry[k] for k in ("gsi1pk", "gsi1sk"))
                if old_entry and (moved or not new_entry):
                    self.wru += write_units(item_size(old_entry))
                    self.by_kind["index"] += write_units(item_size(old_entry))
                if new_entry:
                    self.wru += write_units(item_size(new_entry))
                    self.by_kind["index"] += write_units(item_size(new_entry))
        self._pending = []
        if operation == "GetItem":
            self.rru += read_units(item_size(parsed.get("Item")), self._consistent)
        elif operation == "BatchGetItem":
            for table, items in parsed.get("Responses", {}).items():
                consistent = bool(self._request["RequestItems"][table].get("ConsistentRead"))
                self.rru += sum(read_units(item_size(item), consistent) for item in items) or 0.0
        elif operation in ("Query", "Scan"):
            size = sum(item_size(item) for item in parsed.get("Items", []))
            self.rru += read_units(size, bool(self._request.get("ConsistentRead")))

    @staticmethod
    def _kind(item: dict[str, Any] | None) -> str:
        pk = str(((item or {}).get("pk") or {}).get("S", "")) or "idempotency"
        return pk.split("#")[0]


# The stream, through the real aggregator -------------------------------------------------------------
def _drain(app: Any, reader: StreamReader, batch: int = 100) -> tuple[int, int]:
    """Deliver every new stream record (the aggregator's own too) until quiet: (records, failed)."""
    delivered = failed = 0
    for _ in range(20):
        records = [r for r in reader.new_records()
                   if not (r["eventName"] == "INSERT" and set(r["dynamodb"].get("NewImage") or {}) <= {"pk", "sk"})]
        if not records:
            break
        for start in range(0, len(records), batch):
            result = app.lambda_handler({"Records": records[start:start + batch]}, CONTEXT)
            failed += len(result.get("batchItemFailures", []))
            delivered += len(records[start:start + batch])
        if failed:
            break
    return delivered, failed


def _as_customer(records: list[dict[str, Any]], customer: str) -> list[dict[str, Any]]:
    from touchpoint.platform.table import response_index_key

    return [{**r, "customer_id": customer, **response_index_key(customer, r["submitted_at"], r["survey_id"])}
            for r in records]


def heavy_customer(quick: bool) -> dict[str, Any]:
    from touchpoint import runtime
    from touchpoint.platform.table import CUSTOMER_INDEX_ATTRIBUTES

    history = 1_000 if quick else 20_000
    sample = 200
    with moto_stack() as stack:
        app = load_handler("aggregator", prefix="_bench_wru")
        meter = CapacityMeter(runtime.aws_client("dynamodb"), stack.dynamodb, CUSTOMER_INDEX_ATTRIBUTES)
        reader = StreamReader(stack.dynamodb, stack.table, REGION)
        units: dict[str, float] = {}
        notes: dict[str, Any] = {}
        for customer, past in (("new-customer", 0), ("heavy-customer", history)):
            meter.enabled = False
            if past:
                batch_write(stack.dynamodb, stack.table,
                            [stored_response(r) for r in _as_customer(responses(past, seed=3, customers=1), customer)])
                delivered, failed = _drain(app, reader)
                if failed:
                    notes["history_failed"] = f"{failed} of {delivered} history records could not be aggregated"
            _drain(app, reader)
            meter.enabled, meter.wru, meter.largest_item = True, 0.0, 0
            batch_write(stack.dynamodb, stack.table,
                        [stored_response(r) for r in _as_customer(responses(sample, seed=4 + past, customers=1),
                                                                     customer)])
            delivered, failed = _drain(app, reader)
            units[customer] = meter.wru / sample
            notes[f"{customer}_largest_item_bytes"] = meter.largest_item
            if failed:
                notes[f"{customer}_failed"] = f"{failed} of {delivered} stream records failed"
    value = ratio(units["heavy-customer"], units["new-customer"])
    passed = value is not None and value <= HEAVY_BAR and not any(k.endswith("failed") for k in notes)
    return {"measure": "heavy_customer_wru", "history_records": history, "sample_records": sample,
            "wru_per_record": {k: round(v, 3) for k, v in units.items()}, **notes,
            "ratio": value, "ratio_of": "aggregator write units per record, heavy customer / new customer",
            "bar": f"ratio <= {HEAVY_BAR}", "pass": passed}


def cost(quick: bool) -> dict[str, Any]:
    from touchpoint import runtime
    from touchpoint.platform.table import CUSTOMER_INDEX_ATTRIBUTES
    from touchpoint_local.template import read_stack
    from touchpoint_local.testing import ROOT

    count = 100 if quick else 300
    memory = {logical: spec.memory for logical, spec in read_stack(ROOT / "template.yaml", {}, region=REGION)
              .functions.items()}
    with moto_stack() as stack:
        intake = load_handler("survey_intake", prefix="_bench_cost")
        aggregator = load_handler("aggregator", prefix="_bench_cost")
        admin = {"x-api-key": stack.secrets["admin_api_key"]}
        meter = CapacityMeter(runtime.aws_client("dynamodb"), stack.dynamodb, CUSTOMER_INDEX_ATTRIBUTES)
        reader = StreamReader(stack.dynamodb, stack.table, REGION)
        seconds = Counter()
        scores = [0, 3, 6, 8, 9, 10, 10, 9, 7, 5]
        for index in range(count + 5):  # 5 warm-up rounds, not counted
            counted = index >= 5
            meter.enabled = counted
            mint = http_event("POST", "/v1/links", {"customer_id": f"c-{index}", "touchpoint": "relationship"},
                              headers=admin, route_key="POST /v1/links")
            took, reply = timed(lambda e=mint: intake.lambda_handler(e, CONTEXT))
            seconds["intake"] += took * counted
            token = json.loads(reply["body"])["token"]
            page = http_event("GET", f"/s/{token}", None, route_key="GET /s/{token}", path_params={"token": token})
            took, _ = timed(lambda e=page: intake.lambda_handler(e, CONTEXT))
            seconds["intake"] += took * counted
            answer = http_event("POST", f"/s/{token}", {"score": scores[index % 10]}, route_key="POST /s/{token}",
                                path_params={"token": token})
            took, reply = timed(lambda e=answer: intake.lambda_handler(e, CONTEXT))
            seconds["intake"] += took * counted
            assert reply["statusCode"] == 201, reply
        intake_wru, intake_rru = meter.wru, meter.rru
        intake_kinds, meter.by_kind = dict(meter.by_kind), Counter()
        meter.wru = meter.rru = 0.0
        published = Counter()
        runtime.aws_client("events").meta.events.register(
            "provide-client-params.events.PutEvents",
            lambda params, **_: published.update({"events": len(params["Entries"])}))
        took, (delivered, failed) = timed(lambda: _drain(aggregator, reader))
        seconds["aggregator"] += took
        agg_wru, agg_rru = meter.wru, meter.rru
        agg_kinds = dict(meter.by_kind)
    per = {  # per response
        "http_requests": 3, "lambda_invocations": 3 + delivered / 100 / count,
        "intake_wru": intake_wru / count, "intake_rru": intake_rru / count,
        "aggregator_wru": agg_wru / count, "aggregator_rru": agg_rru / count,
        "events": published["events"] / count,
        "lambda_gb_seconds": (seconds["intake"] * memory["SurveyIntakeFunction"]
                              + seconds["aggregator"] * memory["AggregatorFunction"]) / 1024 / count,
    }
    usd = {
        "api": per["http_requests"] * USD["http_request"],
        "lambda": (per["lambda_invocations"] * USD["lambda_request"]
                   + per["lambda_gb_seconds"] * USD["lambda_gb_second"]),
        "dynamodb_intake": per["intake_wru"] * USD["wru"] + per["intake_rru"] * USD["rru"],
        "dynamodb_aggregation": per["aggregator_wru"] * USD["wru"] + per["aggregator_rru"] * USD["rru"],
        "events": per["events"] * USD["event"],
    }
    total = sum(usd.values()) * 1e6
    return {"measure": "cost_per_million_responses", "usd": round(total, 2),
            "usd_by_part": {k: round(v * 1e6, 3) for k, v in usd.items()},
            "per_response": {k: round(v, 4) for k, v in per.items()},
            "wru_by_item": {"intake": {k: round(v / count, 3) for k, v in sorted(intake_kinds.items())},
                            "aggregator": {k: round(v / count, 3) for k, v in sorted(agg_kinds.items())}},
            "stream_records": delivered, "failed": failed,
            "note": ("per response: one link minted (POST /v1/links), one page view and one answer through the real "
                     "intake handler (a higher response rate than most shops see: each unanswered link adds its "
                     "mint), the stream aggregation of everything they wrote; Lambda time is this machine's "
                     "in-process handler time; DynamoDB units from item sizes"),
            "bar": f"usd <= {COST_BAR}", "pass": total <= COST_BAR}


def measure(quick: bool) -> list[dict[str, Any]]:
    return [heavy_customer(quick), cost(quick)]
