"""Concurrent shard workers over the same days: DynamoDB cancels a transaction that touches an item another
transaction is writing (TransactionConflict). Neither moto nor DynamoDB Local does, so a client double
models the rule (benchmarks/conflicts.py), and the aggregator must still count every record exactly once."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from touchpoint.platform.pseudonyms import Pseudonyms
from touchpoint.rollups.rebuild import rebuild
from touchpoint.rollups.store import RollupStore
from touchpoint_local.testing import StreamReader

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The project root is not on sys.path under plain `pytest`, hence the late imports.
from benchmarks import concurrency  # noqa: E402
from benchmarks.common import batch_write, stored_response  # noqa: E402
from benchmarks.conflicts import ConflictingClient  # noqa: E402

PSEUDONYMS = Pseudonyms(b"concurrent-shards-test-key-0123456789")


def _add(table: str, pk: str, amount: int = 1) -> dict[str, Any]:
    return {"Update": {"TableName": table, "Key": {"pk": {"S": pk}, "sk": {"S": "C"}},
                       "UpdateExpression": "ADD n :n", "ExpressionAttributeValues": {":n": {"N": str(amount)}}}}


def _count(aws: Any, pk: str) -> int | None:
    item = aws.dynamodb.get_item(TableName=aws.table_name, Key={"pk": {"S": pk}, "sk": {"S": "C"}}).get("Item")
    return int(item["n"]["N"]) if item else None


class HeldInFlight:
    """A ``pause`` for the double that holds the transactions of the thread named ``held`` in flight
    until released (the others pass straight through)."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, seconds: float) -> None:
        if threading.current_thread().name == "held":
            self.entered.set()
            assert self.release.wait(10), "never released"


def test_a_transaction_touching_an_item_in_flight_is_cancelled_and_one_on_other_items_commits(aws):
    # Given a transaction adding to item A, held in flight
    hold = HeldInFlight()
    double = ConflictingClient(aws.dynamodb, pause=hold)
    held = threading.Thread(target=double.transact_write_items, name="held",
                            kwargs={"TransactItems": [_add(aws.table_name, "A", 1)]})
    held.start()
    assert hold.entered.wait(10)
    # When a second transaction adds to B and A, a third to B and C, and an UpdateItem adds to A
    with pytest.raises(double.exceptions.TransactionCanceledException) as cancelled:
        double.transact_write_items(TransactItems=[_add(aws.table_name, "B", 10), _add(aws.table_name, "A", 10)])
    double.transact_write_items(TransactItems=[_add(aws.table_name, "B", 100), _add(aws.table_name, "C", 100)])
    with pytest.raises(double.exceptions.TransactionConflictException):
        double.update_item(TableName=aws.table_name, Key={"pk": {"S": "A"}, "sk": {"S": "C"}},
                           UpdateExpression="ADD n :n", ExpressionAttributeValues={":n": {"N": "1000"}})
    hold.release.set()
    held.join(10)
    # Then the second is cancelled as DynamoDB cancels it: the reason at A's position, "None" at B's
    # (what RollupStore reads from a botocore ClientError to tell a conflict from other failures)
    assert isinstance(cancelled.value, ClientError)
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["None", "TransactionConflict"]
    # And the held transaction and the one on other items both committed; nothing of the refused ones did
    assert (_count(aws, "A"), _count(aws, "B"), _count(aws, "C")) == (1, 100, 100)
    assert (double.stats.transactions_committed, double.stats.transactions_cancelled_conflict,
            double.stats.item_write_conflicts, double.stats.conflicts) == (2, 1, 1, 2)
    # And once it has committed, A is free again
    double.update_item(TableName=aws.table_name, Key={"pk": {"S": "A"}, "sk": {"S": "C"}},
                       UpdateExpression="ADD n :n", ExpressionAttributeValues={":n": {"N": "1000"}})
    assert _count(aws, "A") == 1001


def test_four_shard_workers_over_the_same_days_conflict_yet_count_every_answer_once(aws):
    # Given 300 answers on two days and a tenth of them resubmitted with another score, their stream
    # records split by partition key into 4 shards (every shard moves the same days' counters)
    first, again = concurrency.same_days_responses(300, seed=5)
    for records in (first, again):
        for start in range(0, len(records), 25):
            batch_write(aws.dynamodb, aws.table_name, [stored_response(r) for r in records[start:start + 25]])
    changes = concurrency.stream_changes(StreamReader(aws.dynamodb, aws.table_name).new_records())
    assert len(changes) == len(first) + len(again)
    # When 4 workers apply their shards at the same time, in batches of 50 (two per shard), through the
    # double (on its virtual clock: transactions in flight 20 ms + 0.2 ms per action, reads 4 ms),
    # redelivering from the reported record when the aggregator gives up, as Lambda does
    run = concurrency.run_shards(aws.dynamodb, aws.table_name, changes, 4, pseudonyms=PSEUDONYMS, batch=50,
                                 count_cpu=False, transaction_seconds=0.02, per_action_seconds=0.0002,
                                 read_seconds=0.004, cancel_seconds=0.004)
    # Then transactions were cancelled for conflicts, and every worker got through its shard
    assert run.errors == []
    assert run.stats.transactions_cancelled_conflict >= 1
    assert run.stats.transactions_committed >= 4
    # And the rollups equal a recount from the raw records: nothing lost, nothing doubled
    assert rebuild(RollupStore(aws.dynamodb, aws.table_name)).drift == []
    assert concurrency.counted_answers(concurrency.rollup_items(aws.dynamodb, aws.table_name)) == len(first)
