"""The local event source mapping (touchpoint_local.streams.StreamPump) against a fake DynamoDB Streams
API that splits shards, closes them and expires iterators the way DynamoDB's does: every record
reaches the function once and in order per item, children after parents, one invocation per shard
at a time and shards in parallel, batching window, partial failures, bisection and parking."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from touchpoint_local.streams import StreamPump, lambda_stream_record, read_stream

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-12-03T00:00:00.000"


class ExpiredIteratorException(Exception):
    pass


class TrimmedDataAccessException(Exception):
    pass


@dataclass
class FakeShard:
    parent: str | None
    records: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    trimmed: int = 0  # records before this index are past the retention and gone


class FakeStreams:
    """DynamoDB Streams with shards the test writes to; iterators are (shard, position) tokens that
    expire when ``expire_all`` is called, as real ones do after 15 minutes."""

    def __init__(self) -> None:
        self.shards: dict[str, FakeShard] = {}
        self.sequence = 0
        self.generation = 0
        self.exceptions = type("Exceptions", (), {"ExpiredIteratorException": ExpiredIteratorException,
                                                  "TrimmedDataAccessException": TrimmedDataAccessException})
        self.lock = threading.Lock()
        self.empty_iterators_go_stale = False  # DynamoDB Local 3.3: see the test of that name

    def add_shard(self, shard_id: str, parent: str | None = None) -> None:
        self.shards[shard_id] = FakeShard(parent)

    def write(self, shard_id: str, key: str) -> str:
        with self.lock:
            self.sequence += 1
            sequence = f"{self.sequence:021d}"
            self.shards[shard_id].records.append({
                "eventID": f"e{self.sequence}", "eventName": "INSERT", "eventSource": "aws:dynamodb",
                "dynamodb": {"Keys": {"pk": {"S": key}}, "NewImage": {"pk": {"S": key}},
                             "SequenceNumber": sequence, "ApproximateCreationDateTime": 1796256000.0}})
            return sequence

    def expire_all(self) -> None:
        self.generation += 1

    # the API -------------------------------------------------------------------------------------
    def describe_stream(self, StreamArn: str, ExclusiveStartShardId: str | None = None) -> dict[str, Any]:  # noqa: N803
        ids = sorted(self.shards)
        if ExclusiveStartShardId:
            ids = [i for i in ids if i > ExclusiveStartShardId]
        page, more = ids[:2], len(ids) > 2  # two per page: the mapping must follow LastEvaluatedShardId
        description: dict[str, Any] = {"Shards": [
            {"ShardId": i, **({"ParentShardId": self.shards[i].parent} if self.shards[i].parent else {})}
            for i in page]}
        if more:
            description["LastEvaluatedShardId"] = page[-1]
        return {"StreamDescription": description}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str,  # noqa: N803
                           SequenceNumber: str | None = None) -> dict[str, Any]:
        shard = self.shards[ShardId]
        position = shard.trimmed if ShardIteratorType == "TRIM_HORIZON" else \
            next(i + 1 for i, r in enumerate(shard.records) if r["dynamodb"]["SequenceNumber"] == SequenceNumber)
        if position < shard.trimmed:
            raise TrimmedDataAccessException(SequenceNumber)
        return {"ShardIterator": f"{ShardId}|{position}|{self.generation}|{len(shard.records)}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        shard_id, position, generation, written = ShardIterator.split("|")
        if int(generation) != self.generation:
            raise ExpiredIteratorException(ShardIterator)
        shard = self.shards[shard_id]
        if int(position) < shard.trimmed or \
                (self.empty_iterators_go_stale and int(written) == 0 and shard.records):
            raise TrimmedDataAccessException(ShardIterator)
        records = shard.records[int(position):int(position) + Limit]
        after = int(position) + len(records)
        page: dict[str, Any] = {"Records": records}
        if not (shard.closed and after >= len(shard.records)):
            page["NextShardIterator"] = f"{shard_id}|{after}|{self.generation}|{len(shard.records)}"
        return page


@dataclass
class FakeFunction:
    """Records each invocation (which keys, on which shard-thread) and fails as told."""

    delay: float = 0.0
    fail_from: dict[str, int] = field(default_factory=dict)  # key -> times to report it failed
    always_raise_on: str | None = None  # a poison key: any batch holding it raises
    calls: list[list[str]] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.calls.append(keys)
        try:
            time.sleep(self.delay)
            if self.always_raise_on in keys:
                raise RuntimeError("function error")
            for record in event["Records"]:
                key = record["dynamodb"]["Keys"]["pk"]["S"]
                if self.fail_from.get(key):
                    self.fail_from[key] -= 1
                    return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
            return {"batchItemFailures": []}
        finally:
            with self.lock:
                self.running -= 1

    def delivered(self) -> list[str]:
        return [key for call in self.calls for key in call]


def pump(streams: FakeStreams, function: FakeFunction, **options: Any) -> StreamPump:
    session = type("Session", (), {"client": lambda self, name: streams})()
    return StreamPump(function=function, stream_arn=ARN, session=session, **options)  # type: ignore[arg-type]


def test_a_child_shard_is_read_only_after_its_parent_is_read_to_its_end() -> None:
    # Given a parent shard that closed after a split, and its child that already has records
    streams = FakeStreams()
    streams.add_shard("shard-1")
    streams.add_shard("shard-2", parent="shard-1")
    for key in ("a1", "a2", "a3"):
        streams.write("shard-1", key)
    streams.shards["shard-1"].closed = True
    for key in ("a4", "a5"):
        streams.write("shard-2", key)
    function = FakeFunction()
    # When the mapping drains the stream with batches of 2
    delivered = pump(streams, function, batch_size=2).drain()
    # Then every record arrived once, the parent's before the child's
    assert delivered == 5
    assert function.delivered() == ["a1", "a2", "a3", "a4", "a5"]
    assert function.calls == [["a1", "a2"], ["a3"], ["a4", "a5"]]


def test_shards_are_read_in_parallel_but_one_invocation_per_shard_at_a_time() -> None:
    # Given four open shards of one stream (more than a DescribeStream page), each with 4 records
    streams = FakeStreams()
    for shard in ("s-a", "s-b", "s-c", "s-d"):
        streams.add_shard(shard)
        for index in range(4):
            streams.write(shard, f"{shard}:{index}")
    function = FakeFunction(delay=0.05)
    mapping = pump(streams, function, batch_size=1)
    # When it drains
    assert mapping.drain() == 16
    # Then shards overlapped in time, and within each shard the records came one batch after another, in order
    assert function.most_at_once > 1
    for shard in ("s-a", "s-b", "s-c", "s-d"):
        assert [k for k in function.delivered() if k.startswith(shard)] == [f"{shard}:{i}" for i in range(4)]
    assert function.most_at_once <= 4


def test_a_partial_batch_waits_for_the_batching_window_unless_drained() -> None:
    # Given 3 records, batches of 100 and a batching window of 0.3 s
    streams = FakeStreams()
    streams.add_shard("shard-1")
    for key in ("a", "b", "c"):
        streams.write("shard-1", key)
    function = FakeFunction()
    mapping = pump(streams, function, batch_size=100, batching_window=0.3)
    # When the background poll runs at once, nothing is invoked yet: the batch may still fill
    assert mapping.poll() == 0 and function.calls == []
    # Then after the window the partial batch goes out, in one invocation
    time.sleep(0.35)
    assert mapping.poll() == 3
    assert function.calls == [["a", "b", "c"]]
    # And a drain does not wait for the window
    streams.write("shard-1", "d")
    assert mapping.drain() == 1


def test_a_full_batch_goes_out_without_waiting_for_the_window() -> None:
    streams = FakeStreams()
    streams.add_shard("shard-1")
    for index in range(5):
        streams.write("shard-1", f"k{index}")
    function = FakeFunction()
    # Given batches of 2 and a long window, when the background poll runs
    delivered = pump(streams, function, batch_size=2, batching_window=60).poll()
    # Then the two full batches went out and the fifth record waits for its window
    assert delivered == 4 and function.calls == [["k0", "k1"], ["k2", "k3"]]


def test_a_reported_failure_resumes_from_that_record_and_keeps_the_ones_before() -> None:
    # Given a function that reports record "c" as failed once
    streams = FakeStreams()
    streams.add_shard("shard-1")
    for key in ("a", "b", "c", "d"):
        streams.write("shard-1", key)
    function = FakeFunction(fail_from={"c": 1})
    # When the stream is drained
    mapping = pump(streams, function, batch_size=10)
    assert mapping.drain() == 4
    # Then the retry started at "c", and "a" and "b" were not sent again
    assert function.calls == [["a", "b", "c", "d"], ["c", "d"]]
    assert mapping.parked == []


def test_a_batch_that_keeps_raising_is_bisected_then_parked_and_the_shard_moves_on() -> None:
    # Given a poison record "p" among good ones: any batch holding it raises
    streams = FakeStreams()
    streams.add_shard("shard-1")
    for key in ("a", "b", "p", "c", "d", "e"):
        streams.write("shard-1", key)
    function = FakeFunction(always_raise_on="p")
    mapping = pump(streams, function, batch_size=4, max_retries=3, bisect_on_error=True)
    # When the stream is drained
    accepted = mapping.drain()
    # Then bisection let the good records before "p" through, "p" was parked (the OnFailure destination)
    # after its retries, and the records after it were delivered
    parked = [r["dynamodb"]["Keys"]["pk"]["S"] for batch in mapping.parked for r in batch["records"]]
    assert parked == ["p"]
    assert accepted == 5
    assert function.calls[-1] == ["c", "d", "e"]
    assert ["a", "b"] in function.calls


def test_an_expired_iterator_is_taken_again_after_the_last_record_read() -> None:
    # Given a drained shard whose iterator then expires (15 minutes on DynamoDB)
    streams = FakeStreams()
    streams.add_shard("shard-1")
    streams.write("shard-1", "a")
    function = FakeFunction()
    mapping = pump(streams, function, batch_size=10)
    assert mapping.drain() == 1
    streams.expire_all()
    streams.write("shard-1", "b")
    # When the mapping reads again
    assert mapping.drain() == 1
    # Then it neither lost "b" nor repeated "a"
    assert function.delivered() == ["a", "b"]


def test_read_stream_gives_parents_before_children_and_only_new_records_after_a_position() -> None:
    streams = FakeStreams()
    streams.add_shard("b-child", parent="a-parent")
    streams.add_shard("a-parent")
    streams.write("a-parent", "p1")
    streams.shards["a-parent"].closed = True
    streams.write("b-child", "c1")
    session = type("Session", (), {"client": lambda self, name: streams})()
    positions: dict[str, str] = {}
    first = read_stream(session, ARN, positions)
    streams.write("b-child", "c2")
    second = read_stream(session, ARN, positions)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in first] == ["p1", "c1"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in second] == ["c2"]


@pytest.mark.parametrize("image, expected", [
    ({"m": {}}, {"m": {"M": {}}}),
    ({"m": {"M": {"inner": {}}}}, {"m": {"M": {"inner": {"M": {}}}}}),
    ({"l": {"L": [{}, {"S": "x"}]}}, {"l": {"L": [{"M": {}}, {"S": "x"}]}}),
    ({"s": {"S": "x"}, "n": {"N": "1"}}, {"s": {"S": "x"}, "n": {"N": "1"}}),
])
def test_dynamodb_locals_untagged_empty_maps_reach_the_function_as_dynamodb_sends_them(image, expected) -> None:
    # Given a record as DynamoDB Local 3.3's GetRecords writes it (an empty map as a bare {})
    record = {"eventID": "1", "eventName": "INSERT",
              "dynamodb": {"Keys": {"pk": {"S": "k"}}, "NewImage": image, "SequenceNumber": "1"}}
    # When the mapping hands it to the function
    handed = lambda_stream_record(record, ARN)
    # Then the empty map carries its type tag, as a record from DynamoDB does
    assert handed["dynamodb"]["NewImage"] == expected
    assert handed["eventSourceARN"] == ARN


def test_an_iterator_kept_from_an_empty_shard_that_dynamodb_local_calls_trimmed_loses_nothing():
    # Given DynamoDB Local 3.3, which answers TrimmedDataAccessException for an iterator taken while
    # the shard was empty, once records arrive; and a mapping that polled the empty shard
    streams = FakeStreams()
    streams.empty_iterators_go_stale = True
    streams.add_shard("s1")
    function = FakeFunction()
    mapping = pump(streams, function)
    assert mapping.poll() == 0
    # When records arrive and the mapping drains
    for key in ("a", "b", "c"):
        streams.write("s1", key)
    delivered = mapping.drain()
    # Then each record reaches the function once, in order
    assert delivered == 3 and function.calls == [["a", "b", "c"]]


def test_records_past_the_retention_are_skipped_and_the_rest_delivered():
    # Given a mapping that fell behind: it read a and b, then c and d passed the 24-hour retention
    streams = FakeStreams()
    streams.add_shard("s1")
    function = FakeFunction()
    mapping = pump(streams, function, batch_size=2)
    for key in ("a", "b"):
        streams.write("s1", key)
    assert mapping.drain() == 2
    for key in ("c", "d", "e"):
        streams.write("s1", key)
    streams.shards["s1"].trimmed = 4
    # When it reads again
    mapping.drain()
    # Then it goes on from the oldest record left, as Lambda's mapping does, instead of failing forever
    assert function.calls[-1] == ["e"]
