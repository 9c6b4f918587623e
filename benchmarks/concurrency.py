"""Concurrent shard workers over the same days: conflicts, retries, throughput, nothing lost or doubled.

DynamoDB Streams splits a table's stream into shards by partition key, and Lambda runs one aggregator
invocation per shard at a time (``ParallelizationFactor`` more). Every shard's records of one day
move the same rollup counter items (``ROLLUP#D#<day>|TP#...``) and the period's customer counters
(``ROLLUP#P#<period>|CUSTOMERS``), so concurrent invocations write the same items, and DynamoDB cancels
a transaction that touches an item another transaction is writing (TransactionConflict).

Here responses on the SAME two days (9 touchpoints, a third as many customers, a tenth resubmitted
with another score) are written to a fresh moto table; its stream records are split into 1, 4 and 8
disjoint slices by a hash of the partition key (as shards own partition keys, each slice in stream
order) and fed by that many threads, in batches of up to 100, to what the handler runs for a batch:
``handle_changes`` (``Aggregator.apply``, then, after a failure, the hand-over of what was applied
after the reported record to the retry's delivery marker). Every request goes through one
``ConflictingClient`` (``benchmarks.conflicts``: DynamoDB's conflict rule on a virtual clock, with
assumed latencies, since moto takes about a millisecond of CPU per action, one request at a time).
When the Aggregator gives up (``ChunkFailed``) the worker redelivers from the record reported, as
Lambda does with ``ReportBatchItemFailures``: a Lambda retry. Afterwards ``rebuild`` recounts the
rollups from the raw records: zero drift means nothing was lost or doubled.

One ``concurrent_shards`` line per worker count, then a ``concurrent_shards_ceiling`` line: the records
per second one table's hot counter items allow, from the measured transactions (docs/aggregation.md,
"Capacity and concurrency").
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from .common import REGION, WEEK_START, batch_write, moto_key_only_insert, moto_stack, ratio, stored_response
from .conflicts import ConflictingClient, ConflictStats, VirtualClock, hottest

BATCH = 100  # the event source mapping's BatchSize for the aggregator
DAYS = 2  # every record falls on the first DAYS days of the benchmark week
WORKERS = (1, 4, 8)
# The simulated DynamoDB latencies (assumptions, not measurements): a transaction is in flight for
# 10 ms plus 0.2 ms per action (so 30 ms at 100 actions; its prepare and commit phases), a read takes 4 ms.
# A request DynamoDB rejects for a conflict answers after one round trip (4 ms). Time is virtual
# (``VirtualClock``): those latencies plus the workers' own CPU time, never moto's.
LATENCIES = {"transaction_seconds": 0.010, "per_action_seconds": 0.0002, "read_seconds": 0.004,
             "cancel_seconds": 0.004}
PSEUDONYM_KEY = b"bench-pseudonym-key-0123456789abcdef"
MAX_LAMBDA_RETRIES = 500  # per worker: a livelock fails the measure instead of hanging it
# DynamoDB's per-partition limits (and so per item): write and read capacity units per second.
PARTITION_WCU = 1000
PARTITION_RCU = 3000


def same_days_responses(count: int, *, seed: int = 11, days: int = DAYS,
                        resubmitted: float = 0.1) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` response records (``response_record``) submitted on the first ``days`` days of the week,
    over the catalog's touchpoints, from ``count // 3`` customers, answered links minted earlier the
    same day; and a resubmission (same survey, another score, later) of about ``resubmitted`` of them."""
    from touchpoint.catalog import load_catalog
    from touchpoint.surveys.intake import response_record

    rng = random.Random(seed)
    touchpoints = list(load_catalog("ecommerce").touchpoints)
    scales = {"nps": range(0, 11), "csat": range(1, 6), "ces": range(1, 8)}
    pool = max(1, count // 3)
    first, again = [], []
    for index in range(count):
        touchpoint = rng.choice(touchpoints)
        moment = WEEK_START + timedelta(days=rng.randrange(days), hours=rng.randrange(1, 24),
                                        seconds=rng.randrange(3600), microseconds=index)
        fields = dict(survey_id=f"c{seed}x{index:07d}", customer_id=f"cust-{rng.randrange(pool):06d}",
                      touchpoint=touchpoint, metric=touchpoint.metric, comment=None, order_id=f"A-{index}",
                      source="link", link_minted_at=moment - timedelta(seconds=rng.randrange(3600)))
        first.append(response_record(score=rng.choice(scales[touchpoint.metric]), submitted_at=moment, **fields))
        if rng.random() < resubmitted:
            again.append(response_record(score=rng.choice(scales[touchpoint.metric]),
                                         submitted_at=moment + timedelta(minutes=5), **fields))
    return first, again


def stream_changes(raw: list[dict[str, Any]]) -> list[Any]:
    """Stream records as the aggregator's ``StreamChange``s (moto's keys-only INSERT of an UpdateItem
    that creates an item dropped, see aggregator_writes)."""
    from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamRecordModel
    from touchpoint.rollups.changes import change_from_record

    kept = [r for r in raw if not moto_key_only_insert(r)]
    return [change_from_record(DynamoDBStreamRecordModel.model_validate(r)) for r in kept]


def shards(changes: list[Any], workers: int) -> list[list[Any]]:
    """Disjoint slices by a hash of the partition key, each in stream order: what DynamoDB Streams'
    shards hold (all changes of one item on one shard, in order)."""
    out: list[list[Any]] = [[] for _ in range(workers)]
    for change in changes:
        out[int(hashlib.sha256(change.pk.encode("utf-8")).hexdigest(), 16) % workers].append(change)
    return out


class _Logger:
    """The handler's logger, quiet: keeps the reason of each failure it is told about."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def exception(self, message: str, **_: Any) -> None:
        error = sys.exc_info()[1]
        self.reasons.append(f"{message}: {str(error).split(': ', 1)[-1][:80]}" if error else message)


class _NoEvents:
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        raise AssertionError(f"no alert record is delivered here, yet {detail_type} was published")


def deliver(aggregator: Any, changes: list[Any]) -> tuple[str, str] | None:
    """One Lambda invocation of the aggregator with ``changes`` as its batch (the handler's
    ``handle_changes``, which also hands what was applied after a failed record over to the retry's
    delivery marker). None when it all applied, else (the sequence number Lambda's retry starts at,
    why)."""
    from touchpoint.rollups.aggregator import handle_changes
    from touchpoint.rollups.changes import Delivery, sequence_key

    logger = _Logger()
    try:
        failures = handle_changes(changes, Delivery.of(changes), aggregator, _NoEvents(), logger)
    except Exception as exc:  # a function error: Lambda retries the whole batch
        return changes[0].sequence, f"function error: {type(exc).__name__}"
    if not failures:
        return None
    return min(failures, key=sequence_key), "; ".join(logger.reasons) or "reported"


@dataclass
class ShardRun:
    workers: int
    records: int
    seconds: float  # virtual seconds with a VirtualClock, else wall-clock
    wall_seconds: float
    deliveries: int  # Aggregator.apply calls, redeliveries included
    lambda_retries: int  # ChunkFailed: the batch redelivered from the change it names
    retries_in_a_row: int  # the most retries of one shard before a delivery applied whole
    applied_ahead: int  # records a failed attempt applied after the one it reported (redelivered, to skip)
    failure_reasons: Counter[str]
    stats: ConflictStats
    cpu_seconds: float = 0.0  # the workers' own CPU time counted into virtual time
    errors: list[str] = field(default_factory=list)  # a worker that crashed or gave up


def run_shards(real_client: Any, table: str, changes: list[Any], workers: int, *, pseudonyms: Any,
               batch: int = BATCH, zone: Any = UTC, virtual: bool = True, count_cpu: bool = True,
               **latencies: float) -> ShardRun:
    """``workers`` threads, each with its own Aggregator (a Lambda execution environment), all writing
    through one ``ConflictingClient`` over ``real_client`` (``latencies``: its keyword arguments), each
    feeding its shard's changes in batches of ``batch``. ``virtual``: on a ``VirtualClock`` (the
    default; ``count_cpu``: the workers' own CPU time passes too), else in wall-clock time with real
    sleeps."""
    from touchpoint.rollups.aggregator import Aggregator
    from touchpoint.rollups.store import RollupStore

    clock = VirtualClock(workers, count_cpu=count_cpu) if virtual else None
    client = ConflictingClient(real_client, clock=clock, **latencies)
    slices = shards(changes, workers)
    start = threading.Barrier(workers + 1)
    lock = threading.Lock()
    tally: dict[str, Any] = {"deliveries": 0, "retries": 0, "in_a_row": 0, "ahead": 0, "reasons": Counter(),
                             "errors": []}

    def work(mine: list[Any]) -> None:
        if clock is not None:
            clock.enter()
        else:
            start.wait()
        position, retries, in_a_row = 0, 0, 0
        try:
            # The aggregator's backoff sleeps on the same clock as the simulated DynamoDB (seeded jitter).
            aggregator = Aggregator(RollupStore(client, table, pseudonyms=pseudonyms), zone,
                                    pause=clock.sleep if clock is not None else time.sleep,
                                    jitter=random.Random(len(mine)).random)
            while position < len(mine):
                delivered = mine[position:position + batch]
                with lock:
                    tally["deliveries"] += 1
                resume = deliver(aggregator, delivered)
                if resume is None:
                    position += len(delivered)
                    in_a_row = 0
                    continue
                # Lambda's next batch starts at the record reported (or, after a function error, at
                # the batch's first record again): a Lambda retry.
                retries += 1
                in_a_row += 1
                skip = next((i for i, c in enumerate(delivered) if c.sequence == resume[0]), 0)
                # Records after the reported one that this attempt applied come again with the retry,
                # which must skip them (the hand-over to the retry's delivery marker).
                ahead = {c.sequence for c in delivered[skip + 1:]} & set(getattr(aggregator, "applied", ()))
                with lock:
                    tally["retries"] += 1
                    tally["reasons"][resume[1]] += 1
                    tally["in_a_row"] = max(tally["in_a_row"], in_a_row)
                    tally["ahead"] += len(ahead)
                position += skip
                if retries > MAX_LAMBDA_RETRIES:
                    raise RuntimeError(f"gave up after {retries} Lambda retries")
        except Exception as exc:  # reported, not swallowed: the measure and the test fail on it
            with lock:
                tally["errors"].append(f"{type(exc).__name__}: {exc}")
        finally:
            if clock is not None:
                clock.leave()

    threads = [threading.Thread(target=work, args=(mine,), name=f"shard-{i}") for i, mine in enumerate(slices)]
    for thread in threads:
        thread.start()
    if clock is None:
        start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return ShardRun(workers, len(changes), clock.elapsed if clock else wall, wall, tally["deliveries"],
                    tally["retries"], tally["in_a_row"], tally["ahead"], tally["reasons"], client.stats,
                    clock.cpu_seconds if clock else 0.0, tally["errors"])


def recount_drift(client: Any, table: str) -> int:
    """Differences between the stored rollups and a recount from the raw records (``rebuild``)."""
    from touchpoint.rollups.rebuild import rebuild
    from touchpoint.rollups.store import RollupStore

    return len(rebuild(RollupStore(client, table)).drift)


def rollup_items(client: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every ROLLUP# item, typed (DynamoDB JSON), by (pk, sk)."""
    from touchpoint.platform.dynamo import scan_all

    return {(item["pk"]["S"], item["sk"]["S"]): item for item in scan_all(client, TableName=table)
            if item["pk"]["S"].startswith("ROLLUP#")}


def counters(items: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, int]]:
    """The non-zero counters of each rollup item (a counter moved back to 0 is the same as none)."""
    out = {}
    for where, item in items.items():
        numbers = {name: int(value["N"]) for name, value in item.items() if "N" in value and int(value["N"])}
        if numbers:
            out[where] = numbers
    return out


def counted_answers(items: dict[tuple[str, str], dict[str, Any]]) -> int:
    """Answers counted in the day touchpoint items: the sum of every ``<metric>_<score>`` counter."""
    return sum(int(value["N"]) for (pk, sk), item in items.items() if pk.startswith("ROLLUP#D#")
               and sk.startswith("TP#") for name, value in item.items()
               if name.split("_")[0] in ("nps", "csat", "ces") and name.split("_")[-1].isdigit())


def one_run(workers: int, first: list[dict[str, Any]], again: list[dict[str, Any]]) -> dict[str, Any]:
    from touchpoint.platform.pseudonyms import Pseudonyms
    from touchpoint_local.testing import StreamReader

    with moto_stack() as stack:
        for records in (first, again):  # the resubmissions replace the answers: MODIFY records
            for start in range(0, len(records), 25):
                batch_write(stack.dynamodb, stack.table, [stored_response(r) for r in records[start:start + 25]])
        changes = stream_changes(StreamReader(stack.dynamodb, stack.table, REGION).new_records())
        run = run_shards(stack.dynamodb, stack.table, changes, workers, pseudonyms=Pseudonyms(PSEUDONYM_KEY),
                         **LATENCIES)
        items = rollup_items(stack.dynamodb, stack.table)
        drift = recount_drift(stack.dynamodb, stack.table)
    stats = run.stats
    committed = stats.transactions_committed
    cancelled = stats.transactions_cancelled_conflict + sum(stats.transactions_cancelled_other.values())
    hot = hottest(stats)
    by_partition: Counter[str] = Counter()
    for (_, key_json), writes in stats.item_writes.items():
        pk = json.loads(key_json)["pk"]["S"]
        if pk.startswith("ROLLUP#"):
            by_partition[pk] += writes
    return {
        "measure": "concurrent_shards", "workers": workers, "records": run.records, "deliveries": run.deliveries,
        "transactions": committed, "transactions_attempted": stats.transactions_attempted,
        "conflicts": stats.conflicts, "conflict_rate": ratio(stats.conflicts, committed),
        "conflict_rate_of": "TransactionConflict cancellations per committed transaction",
        "cancelled_share_of_attempts": ratio(cancelled, stats.transactions_attempted),
        "version_check_failures": dict(stats.transactions_cancelled_other),
        # Each cancellation either made the Aggregator re-read and plan again, or was the one too many
        # after which it gave up (ChunkFailed, reported: a Lambda retry).
        "aggregator_replans": cancelled - sum(n for why, n in run.failure_reasons.items()
                                              if why.startswith("rollup chunk failed")),
        "lambda_retries": run.lambda_retries, "lambda_retry_reasons": dict(run.failure_reasons),
        # Lambda's MaximumRetryAttempts (5 in template.yaml) would send a batch retried more often to the
        # failure queue, its records uncounted: here the worker keeps retrying, and this says how far it went.
        "most_lambda_retries_in_a_row": run.retries_in_a_row,
        "redelivered_records_already_applied": run.applied_ahead,
        "virtual_seconds": round(run.seconds, 3), "records_per_second": round(run.records / run.seconds, 1),
        "worker_cpu_seconds": round(run.cpu_seconds, 3), "wall_seconds": round(run.wall_seconds, 2),
        "records_per_transaction": ratio(run.records, committed),
        "actions_per_transaction": ratio(stats.actions_committed, committed),
        "mean_in_flight_ms": round(stats.in_flight_seconds * 1000 / max(1, committed), 2),
        "hot_items": [{"item": name, "writes": writes, "share_of_transactions": ratio(writes, committed)}
                      for name, writes in hot],
        "hottest_rollup_item": next(((n, w) for n, w in hottest(stats, None) if n.startswith("ROLLUP#")), ("", 0)),
        "rollup_partition_writes_per_transaction": {pk: ratio(n, committed) for pk, n in by_partition.most_common(4)},
        "rollup_items": len(items), "answers_counted": counted_answers(items), "answers": len(first),
        "recount_drift": drift, "errors": run.errors,
        "nothing_lost_or_doubled": drift == 0 and counted_answers(items) == len(first) and not run.errors,
        "_items": items,
    }


def ceiling(one: dict[str, Any], busiest: dict[str, Any]) -> dict[str, Any]:
    """Records per second one table's hot counter items allow, from the one-worker run's transactions
    (what each commits) and item sizes, and from the busiest run's conflicts."""
    from .capacity import item_size, write_units

    items = one["_items"]
    committed = one["transactions"]
    per_tx = one["records_per_transaction"]
    hot_name, hot_writes = one["hottest_rollup_item"]
    hot_share = hot_writes / committed
    hot_size = item_size(items.get(tuple(hot_name.split("|", 1))))
    wcu_per_write = 2 * write_units(hot_size)  # a transactional write costs twice a standard one
    # The busiest partition: every item of a day shares the pk ROLLUP#D#<day> (one item collection).
    partition, writes_per_tx = next(iter(one["rollup_partition_writes_per_transaction"].items()))
    partition_items = [item for (pk, _), item in items.items() if pk == partition]
    partition_wcu_per_tx = writes_per_tx * 2 * max(write_units(item_size(i)) for i in partition_items)
    in_flight = one["mean_in_flight_ms"] / 1000
    return {
        "measure": "concurrent_shards_ceiling",
        "from_runs": f"workers=1 (transactions, item sizes) and workers={busiest['workers']} (conflicts)",
        "records_per_transaction": per_tx,
        "hottest_item": hot_name, "hottest_item_share_of_transactions": round(hot_share, 4),
        "hottest_item_bytes": hot_size, "wcu_per_transactional_write_of_it": wcu_per_write,
        "item_limit_records_per_second": round(PARTITION_WCU / wcu_per_write / hot_share * per_tx),
        "busiest_partition": partition, "busiest_partition_items": len(partition_items),
        "busiest_partition_wcu_per_transaction": round(partition_wcu_per_tx, 2),
        "partition_limit_records_per_second": round(PARTITION_WCU / partition_wcu_per_tx * per_tx),
        "simulated_in_flight_ms": one["mean_in_flight_ms"],
        "serialization_limit_transactions_per_second": round(1 / in_flight / hot_share, 1),
        "serialization_limit_records_per_second": round(per_tx / in_flight / hot_share),
        "serialization_limit_formula": "records_per_transaction / (in-flight seconds x hottest item's share)",
        "measured_records_per_second": {str(busiest["workers"]): busiest["records_per_second"],
                                        "1": one["records_per_second"]},
        "partition_limits": {"wcu_per_second": PARTITION_WCU, "rcu_per_second": PARTITION_RCU},
    }


def measure(quick: bool, count: int | None = None, workers: tuple[int, ...] = WORKERS) -> list[dict[str, Any]]:
    count = count or (1_000 if quick else 4_000)
    first, again = same_days_responses(count)
    runs = [one_run(n, first, again) for n in workers]
    base = runs[0]
    last = ceiling(base, runs[-1])
    for run in runs:
        run["same_rollups_as_first_run"] = counters(run["_items"]) == counters(base["_items"])
        run["throughput_vs_one_worker"] = ratio(run["records_per_second"], base["records_per_second"])
        run["ratio"], run["ratio_of"] = run["throughput_vs_one_worker"], "records/s against one worker"
        run["bar"] = "nothing lost or doubled: recount drift 0, every answer counted once, same rollups as one worker"
        run["pass"] = run["nothing_lost_or_doubled"] and run["same_rollups_as_first_run"]
        run["latency_model"] = {name.replace("_seconds", "_ms"): value * 1000 for name, value in LATENCIES.items()}
        run["note"] = (f"{count:,} answers on {DAYS} days (+{len(again)} resubmissions), {run['workers']} shard "
                       f"worker(s), batches of {BATCH}, through ConflictingClient over moto")
    for run in runs:
        del run["_items"]
    return [*runs, last]
