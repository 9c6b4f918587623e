"""Measure 2: the aggregator combines a batch (bar: ≤ 0.25 rollup-counter writes per stream record
at batch size 100).

Responses spread over one realistic week and the catalog's 9 touchpoints are written in arrival order
(BatchWriteItem of the items ``ResponseStore`` writes: one INSERT stream record each); the table's
stream is read from moto (``touchpoint_local.streams.read_stream``) and delivered to the REAL
aggregator handler (functions/aggregator/app.py) in batches of 100. (moto emits two INSERT records for
an UpdateItem that creates an item, a keys-only image and then the item, where DynamoDB emits one: the
keys-only ones are dropped.) A ``before-parameter-build`` hook on TransactWriteItems (the request
parameters before botocore serializes them) sorts its actions: Update of a ``ROLLUP#`` item (a
rollup-counter write: day items and period CUSTOMERS items), Put of an activity item (period counts), Put
of an alert item, Put of the delivery's marker (``other_put``). The aggregator's own records (rollups,
activity, alerts) are drained afterwards, as the stream would deliver them, and their writes reported
apart. Beside it, a naive aggregator issues one UpdateItem ADD per record per counter item it changes,
on a second table, and must end with the same rollup items.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any

from touchpoint_local.testing import StreamReader, load_handler

from .common import (
    CONTEXT,
    REGION,
    Stack,
    batch_write,
    median_ms,
    moto_key_only_insert,
    moto_stack,
    ratio,
    responses,
    stored_response,
    timed,
)

BAR = 0.25
BATCH = 100


class TransactionTally:
    """Actions of every TransactWriteItems call, by kind, read from the request before it is sent."""

    def __init__(self) -> None:
        self.calls = 0
        self.actions: Counter[str] = Counter()

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.calls += 1
        for action in params.get("TransactItems", []):
            kind, body = next(iter(action.items()))
            pk = (body.get("Key") or body.get("Item") or {}).get("pk", {}).get("S", "")
            item_type = (body.get("Item") or {}).get("type", {}).get("S", "")
            if kind == "Update" and pk.startswith("ROLLUP#D#"):
                self.actions["rollup_day_counter_updates"] += 1
            elif kind == "Update" and pk.startswith("ROLLUP#P#"):
                self.actions["rollup_period_counter_updates"] += 1
            elif kind == "Put" and item_type in ("activity", "alert"):
                self.actions[f"{item_type}_puts"] += 1
            else:
                self.actions[f"other_{kind.lower()}"] += 1

    @property
    def rollup_counter_writes(self) -> int:
        return self.actions["rollup_day_counter_updates"] + self.actions["rollup_period_counter_updates"]


class RequestTally:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.requests[model.name] += 1


def _measured(record: dict[str, Any]) -> bool:
    images = record["dynamodb"].get("NewImage") or {}, record["dynamodb"].get("OldImage") or {}
    return any(image.get("type", {}).get("S") in ("response", "ticket") for image in images)


def naive_counters(client: Any, table: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """One UpdateItem ADD per stream record per counter item it changes (no combining, no exactly-once;
    each customer's period counts are kept in memory, so its activity writes are not even counted)."""
    from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamRecordModel
    from touchpoint.platform.table import key
    from touchpoint.rollups.changes import change_from_record
    from touchpoint.rollups.contribution import activity_delta, combine, customer_counters_delta, delta

    periods: dict[str, dict[str, int]] = {}
    writes = 0
    for record in records:
        change = change_from_record(DynamoDBStreamRecordModel.model_validate(record))
        if not change.measured:
            continue
        total = Counter(delta(change.old, change.new))
        moved: dict[str, Counter[str]] = {}
        for (customer, period), count in activity_delta(change.old, change.new).items():
            moved.setdefault(customer, Counter())[period] += count
        for customer, counts in moved.items():
            before = periods.get(customer, {})
            after = dict(Counter(before) + counts)
            total.update(customer_counters_delta(before, after))
            periods[customer] = after
        for (pk, sk), counters in combine([total]).items():
            names = {f"#c{i}": name for i, name in enumerate(counters)}
            values = {f":c{i}": {"N": str(v)} for i, v in enumerate(counters.values())}
            adds = ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True))
            client.update_item(TableName=table, Key=key(pk, sk), UpdateExpression=f"ADD {adds}",
                               ExpressionAttributeNames=names, ExpressionAttributeValues=values)
            writes += 1
    return {"rollup_counter_writes": writes}


def _rollup_items(client: Any, table: str) -> dict[tuple[str, str], dict[str, int]]:
    from touchpoint.platform.dynamo import from_item

    request: dict[str, Any] = {"TableName": table, "FilterExpression": "begins_with(pk, :r)",
                               "ExpressionAttributeValues": {":r": {"S": "ROLLUP#"}}}
    out = {}
    while True:
        page = client.scan(**request)
        for item in map(from_item, page["Items"]):
            out[(item["pk"], item["sk"])] = {k: int(v) for k, v in item.items() if k not in ("pk", "sk", "type")
                                             and int(v)}
        if "LastEvaluatedKey" not in page:
            return out
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _naive_table(stack: Stack) -> str:
    name = f"{stack.table}-naive"
    stack.dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                      {"AttributeName": "sk", "AttributeType": "S"}],
                                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                           {"AttributeName": "sk", "KeyType": "RANGE"}])
    return name


def batch_floor(batch: list[dict[str, Any]]) -> int:
    """Counter items a batch changes: the fewest rollup-counter writes any aggregator that combines the
    batch could make (one per item). Period CUSTOMERS items are counted for every period a customer's
    activity moves in, an upper bound of the ones whose counters really change."""
    from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamRecordModel
    from touchpoint.platform.table import CUSTOMERS_SK, period_partition
    from touchpoint.rollups.changes import change_from_record
    from touchpoint.rollups.contribution import activity_delta, delta

    items: set[tuple[str, str]] = set()
    for record in batch:
        change = change_from_record(DynamoDBStreamRecordModel.model_validate(record))
        if change.measured:
            items.update((pk, sk) for pk, sk, _ in delta(change.old, change.new))
            items.update((period_partition(period), CUSTOMERS_SK)
                         for _, period in activity_delta(change.old, change.new))
    return len(items)


def one_week(seed: int, count: int, *, details: bool) -> dict[str, Any]:
    """A week of ``count`` responses through the real handler in a fresh moto account; with ``details``
    also the drain of the aggregator's own records, a rebuild and the naive counters."""
    from touchpoint import runtime
    from touchpoint.rollups.rebuild import rebuild
    from touchpoint.rollups.store import RollupStore

    with moto_stack() as stack:
        records = sorted(responses(count, seed=seed), key=lambda r: r["submitted_at"])  # arrival order
        for start in range(0, len(records), 25):  # 25 at a time keeps the stream in arrival order
            batch_write(stack.dynamodb, stack.table, [stored_response(r) for r in records[start:start + 25]])
        reader = StreamReader(stack.dynamodb, stack.table, REGION)
        raw = reader.new_records()
        stream = [r for r in raw if not moto_key_only_insert(r)]
        app = load_handler("aggregator", prefix="_bench")
        client = runtime.aws_client("dynamodb")  # the client the handler's Aggregator uses
        tally, requests, events = TransactionTally(), RequestTally(), RequestTally()
        client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", tally)
        client.meta.events.register("before-call.dynamodb.*", requests)
        runtime.aws_client("events").meta.events.register("before-call.events.*", events)

        batch_times: list[float] = []
        floor = 0
        for start in range(0, len(stream), BATCH):
            batch = stream[start:start + BATCH]
            floor += batch_floor(batch)
            seconds, result = timed(partial(app.lambda_handler, {"Records": batch}, CONTEXT))
            assert result == {"batchItemFailures": []}, result
            batch_times.append(seconds)
        measured = sum(1 for r in stream if _measured(r))
        week: dict[str, Any] = {
            "seed": seed, "customers": len({r["customer_id"] for r in records}),
            "batches": len(batch_times), "stream_records": len(stream), "measured_records": measured,
            "moto_key_only_inserts_dropped": len(raw) - len(stream),
            "transactions": tally.calls, "actions": dict(tally.actions),
            "rollup_counter_writes": tally.rollup_counter_writes, "ratio": ratio(tally.rollup_counter_writes, measured),
            "floor_counter_items_per_batch_summed": floor,
            "requests_by_operation": dict(requests.requests), "median_batch_ms": median_ms(batch_times),
            "ms_per_record": round(sum(batch_times) * 1000 / max(1, measured), 4)}
        if not details:
            return week

        # The aggregator's own writes come back on the stream; drain them like the event source would.
        before_actions, before_requests = Counter(tally.actions), Counter(requests.requests)
        follow_up = 0
        for _ in range(10):
            more = [r for r in reader.new_records() if not moto_key_only_insert(r)]
            if not more:
                break
            follow_up += len(more)
            for start in range(0, len(more), BATCH):
                assert app.lambda_handler({"Records": more[start:start + BATCH]}, CONTEXT) == \
                    {"batchItemFailures": []}
        week["drain_of_aggregator_own_records"] = {
            "stream_records": follow_up, "measured_records": 0,
            "actions": dict(Counter(tally.actions) - before_actions),
            "requests_by_operation": dict(Counter(requests.requests) - before_requests),
            "events_published": events.requests.get("PutEvents", 0)}
        week["rebuild_drift"] = len(rebuild(RollupStore(stack.dynamodb, stack.table)).drift)

        naive_table = _naive_table(stack)
        seconds, naive = timed(lambda: naive_counters(stack.dynamodb, naive_table, stream))
        naive["ms_per_record"] = round(seconds * 1000 / max(1, measured), 4)
        naive["same_rollups_as_aggregator"] = _rollup_items(stack.dynamodb, naive_table) == \
            _rollup_items(stack.dynamodb, stack.table)
        naive["per_stream_record"] = ratio(naive["rollup_counter_writes"], measured)
        week["naive_per_record_updates"] = naive
    return week


def measure(quick: bool, count: int = 1_000, weeks: int | None = None) -> list[dict[str, Any]]:
    from touchpoint.catalog import load_catalog

    weeks = weeks or (3 if quick else 6)
    runs = [one_week(seed, count, details=seed == 3) for seed in range(3, 3 + weeks)]
    first = runs[0]
    writes = sum(run["rollup_counter_writes"] for run in runs)
    measured = sum(run["measured_records"] for run in runs)
    value = ratio(writes, measured)
    other: Counter[str] = Counter()
    for run in runs:
        other.update({k: v for k, v in run["actions"].items() if not k.startswith("rollup_")})
    return [{
        "measure": "aggregator_rollup_writes_per_record",
        "note": (f"{weeks} independent weeks (seeds) of {count:,} responses each, "
                 f"{len(load_catalog('ecommerce').touchpoints)} touchpoints, from about a third as many customers, "
                 "written in arrival order (BatchWriteItem of the items ResponseStore writes); their moto stream "
                 f"records delivered to the real aggregator handler in batches of {BATCH}; rollup-counter writes = "
                 "Update actions on ROLLUP# items in its TransactWriteItems; ratio pooled over the weeks; the first "
                 "week also drains the aggregator's own records (reported apart), rebuilds, and runs the naive "
                 "counters"),
        "weeks": runs,
        "rollup_counter_writes": writes,
        "measured_records": measured,
        "ratio_per_week": [run["ratio"] for run in runs],
        "other_writes_per_stream_record": {k: ratio(v, measured) for k, v in sorted(other.items())},
        "floor_if_each_counter_item_were_written_once_per_batch": ratio(
            sum(run["floor_counter_items_per_batch_summed"] for run in runs), measured),
        "transactions_per_batch": ratio(sum(run["transactions"] for run in runs), sum(run["batches"] for run in runs)),
        "naive_per_stream_record": first["naive_per_record_updates"]["per_stream_record"],
        "naive_over_aggregator_writes_first_week": ratio(first["naive_per_record_updates"]["rollup_counter_writes"],
                                                         first["rollup_counter_writes"]),
        "ratio": value,
        "ratio_of": "rollup-counter writes / stream records of measured types (response, ticket), all weeks",
        "bar": f"ratio <= {BAR}",
        "pass": value is not None and value <= BAR,
    }]
