"""The DynamoDB stream event source mapping, in-process, read through the DynamoDB Streams API of
whatever serves DynamoDB (moto, DynamoDB Local, any compatible endpoint) the way Lambda's event
source mapping reads it:

- every shard of the stream, a child shard only after its parent is read to its end (DynamoDB keeps
  an item's changes in order across a shard split that way);
- one shard iterator per shard, advanced with NextShardIterator (re-acquired after the last record
  read when it expires), a closed shard being one whose GetRecords answers without a next iterator;
- batches of the template's BatchSize, held up to MaximumBatchingWindowInSeconds while they fill;
- one invocation per shard at a time, shards in parallel;
- ReportBatchItemFailures (resume from the first failed record), BisectBatchOnFunctionError (a batch
  whose invocation raised is retried in halves), MaximumRetryAttempts, then the batch is parked, as
  the template's OnFailure destination would receive it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .functions import LocalFunction


@dataclass
class ShardReader:
    """Where the mapping stands in one shard."""

    shard_id: str
    parent_id: str | None
    iterator: str | None = None  # the next GetRecords position; None before the first read
    last_read: str | None = None  # sequence number of the last record read from the shard
    pending: list[dict[str, Any]] = field(default_factory=list)  # read, not yet accepted by the function
    pending_since: float | None = None  # when the oldest pending record was read (batching window)
    attempts: int = 0  # failed invocations of the current batch
    batch_limit: int = 0  # lowered by bisection after a function error, restored after a success
    closed: bool = False  # the shard ended (no next iterator): nothing more will be written to it

    @property
    def finished(self) -> bool:
        return self.closed and not self.pending


@dataclass
class StreamPump:
    function: LocalFunction
    stream_arn: str
    session: Any
    batch_size: int = 100
    batching_window: float = 0.0
    max_retries: int = 5
    report_failures: bool = True
    bisect_on_error: bool = False
    shards: dict[str, ShardReader] = field(default_factory=dict)
    parked: list[dict[str, Any]] = field(default_factory=list)
    delivered: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _streams: Any = None

    def _client(self) -> Any:
        if self._streams is None:
            self._streams = self.session.client("dynamodbstreams")
        return self._streams

    def drain(self) -> int:
        """Deliver every pending record now (no batching window); returns how many were accepted."""
        return self.poll(flush=True)

    def poll(self, flush: bool = False) -> int:
        """One round of the mapping: read every shard that may be read, invoke the function for each
        full batch (or, with ``flush``, any batch; without it, a batch whose window has passed)."""
        with self._lock:
            streams = self._client()
            accepted = 0
            while True:
                self._discover_shards(streams)
                ready = [s for s in self.shards.values() if not s.finished and self._parent_done(s)]
                if not ready:
                    break
                if len(ready) == 1:
                    counts = [self._poll_shard(streams, ready[0], flush)]
                else:
                    with ThreadPoolExecutor(max_workers=len(ready), thread_name_prefix="stream-shard") as pool:
                        counts = list(pool.map(lambda shard: self._poll_shard(streams, shard, flush), ready))
                accepted += sum(counts)
                # A shard that just finished may have unblocked its children: go round again for them.
                if not any(s.finished and s.shard_id in self._parents_waiting() for s in ready):
                    break
            self.delivered += accepted
            return accepted

    def _discover_shards(self, streams: Any) -> None:
        start: str | None = None
        while True:
            arguments: dict[str, Any] = {"StreamArn": self.stream_arn}
            if start:
                arguments["ExclusiveStartShardId"] = start
            description = streams.describe_stream(**arguments)["StreamDescription"]
            for shard in description.get("Shards", []):
                if shard["ShardId"] not in self.shards:
                    self.shards[shard["ShardId"]] = ShardReader(shard["ShardId"], shard.get("ParentShardId"),
                                                                batch_limit=self.batch_size)
            start = description.get("LastEvaluatedShardId")
            if not start:
                return

    def _parent_done(self, shard: ShardReader) -> bool:
        parent = self.shards.get(shard.parent_id) if shard.parent_id else None
        return parent is None or parent.finished  # a parent past the stream's retention is done too

    def _parents_waiting(self) -> set[str]:
        return {s.parent_id for s in self.shards.values() if s.parent_id and not s.finished}

    def _poll_shard(self, streams: Any, shard: ShardReader, flush: bool) -> int:
        accepted = 0
        while True:
            self._read(streams, shard)
            if not shard.pending:
                return accepted
            window_passed = shard.pending_since is not None and \
                time.monotonic() - shard.pending_since >= self.batching_window
            if len(shard.pending) < shard.batch_limit and not (flush or window_passed or shard.closed):
                return accepted  # let the batch fill, as the batching window does
            batch = shard.pending[:shard.batch_limit]
            done = self._deliver(shard, batch)
            accepted += done
            if done < len(batch) and not flush:
                return accepted  # a failed batch is retried on the next round

    def _read(self, streams: Any, shard: ShardReader) -> None:
        """Read records into ``pending`` until a batch is full or the shard has nothing more now."""
        trimmed = 0
        while not shard.closed and len(shard.pending) < shard.batch_limit:
            try:
                if shard.iterator is None:
                    shard.iterator = self._iterator(streams, shard, horizon=trimmed > 1)
                page = streams.get_records(ShardIterator=shard.iterator, Limit=self.batch_size)
            except streams.exceptions.ExpiredIteratorException:
                shard.iterator = None  # iterators live 15 minutes; take a new one after the last record read
                continue
            except streams.exceptions.TrimmedDataAccessException:
                # The position is behind the trim horizon: on DynamoDB, records older than 24 hours; on
                # DynamoDB Local also a kept iterator that was taken while the shard was still empty.
                # Take a new one after the last record read; when that position is trimmed too, at the
                # oldest record left (what is older is gone, as for Lambda's mapping).
                trimmed += 1
                if trimmed > 3:
                    raise
                shard.iterator = None
                continue
            records = page.get("Records", [])
            shard.iterator = page.get("NextShardIterator")
            if shard.iterator is None:
                shard.closed = True
            if records:
                if not shard.pending:
                    shard.pending_since = time.monotonic()
                shard.pending.extend(records)
                shard.last_read = records[-1]["dynamodb"]["SequenceNumber"]
            else:
                return

    def _iterator(self, streams: Any, shard: ShardReader, horizon: bool = False) -> str:
        if shard.last_read is None or horizon:
            return streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard.shard_id,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard.shard_id,
                                          ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                          SequenceNumber=shard.last_read)["ShardIterator"]

    def _deliver(self, shard: ShardReader, batch: list[dict[str, Any]]) -> int:
        """Invoke the function with ``batch``; returns how many of its records were accepted."""
        event = {"Records": [lambda_stream_record(r, self.stream_arn) for r in batch]}
        failed_from, raised = self._invoke(event)
        if failed_from is None:
            self._accept(shard, len(batch))
            shard.attempts, shard.batch_limit = 0, self.batch_size
            return len(batch)
        done = sum(1 for r in batch if _seq(r) < _seq_value(failed_from))
        self._accept(shard, done)
        if raised and self.bisect_on_error and len(batch) > 1:
            shard.batch_limit = max(1, len(batch) // 2)  # retry the first half alone, then the rest
        shard.attempts += 1
        if shard.attempts > self.max_retries:
            # Like the template's OnFailure destination: park the batch and move past it.
            rest = batch[done:]
            self.parked.append({"shard": shard.shard_id, "failed_from": failed_from,
                                "records": [lambda_stream_record(r, self.stream_arn) for r in rest]})
            self._accept(shard, len(rest))
            shard.attempts, shard.batch_limit = 0, self.batch_size
            return done
        return done

    @staticmethod
    def _accept(shard: ShardReader, count: int) -> None:
        del shard.pending[:count]
        shard.pending_since = time.monotonic() if shard.pending else None

    def _invoke(self, event: dict[str, Any]) -> tuple[str | None, bool]:
        """(sequence number to resume from or None when the whole batch succeeded, whether it raised)."""
        try:
            result = self.function.invoke(event)
        except Exception:
            return event["Records"][0]["dynamodb"]["SequenceNumber"], True  # the whole batch is retried
        failures = (result or {}).get("batchItemFailures") or [] if self.report_failures else []
        if not failures:
            return None, False
        return min((f["itemIdentifier"] for f in failures), key=_seq_value), False


def lambda_stream_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record from GetRecords as Lambda's event source mapping hands it to the function: the same
    fields, the stream ARN added, the creation time as epoch seconds."""
    data = dict(record["dynamodb"])
    for image in ("Keys", "NewImage", "OldImage"):
        if image in data:
            data[image] = {name: _repaired(value) for name, value in data[image].items()}
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        data["ApproximateCreationDateTime"] = created.timestamp()
    elif isinstance(created, str):
        data["ApproximateCreationDateTime"] = datetime.fromisoformat(created).timestamp()
    return {**{k: v for k, v in record.items() if k != "dynamodb"}, "dynamodb": data, "eventSourceARN": stream_arn}


def _repaired(value: Any) -> Any:
    """DynamoDB Local 3.3's GetRecords writes an empty map attribute as ``{}`` where DynamoDB writes
    ``{"M": {}}`` (GetItem on the same item answers ``{"M": {}}``), which no deserializer accepts.
    Lambda would never hand over such a record, so the mapping restores the type tag."""
    if value == {}:
        return {"M": {}}
    if isinstance(value, dict) and isinstance(value.get("M"), dict):
        return {"M": {name: _repaired(inner) for name, inner in value["M"].items()}}
    if isinstance(value, dict) and isinstance(value.get("L"), list):
        return {"L": [_repaired(inner) for inner in value["L"]]}
    return value


def read_stream(session: Any, stream_arn: str, after: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The records of a stream, parents' shards before their children's, as Lambda records (for tests
    and tools). With ``after`` ({shard id: last sequence number read}, updated in place) only the new ones."""
    streams = session.client("dynamodbstreams")
    out: list[dict[str, Any]] = []
    positions = after if after is not None else {}
    for shard in _shards_parents_first(streams, stream_arn):
        shard_id = shard["ShardId"]
        if shard_id in positions:
            iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id,
                                                  ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                                  SequenceNumber=positions[shard_id])["ShardIterator"]
        else:
            iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id,
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page["Records"]:
                break
            out.extend(lambda_stream_record(r, stream_arn) for r in page["Records"])
            positions[shard_id] = page["Records"][-1]["dynamodb"]["SequenceNumber"]
            iterator = page.get("NextShardIterator")
    return out


def _shards_parents_first(streams: Any, stream_arn: str) -> list[dict[str, Any]]:
    shards: list[dict[str, Any]] = []
    start: str | None = None
    while True:
        arguments: dict[str, Any] = {"StreamArn": stream_arn}
        if start:
            arguments["ExclusiveStartShardId"] = start
        description = streams.describe_stream(**arguments)["StreamDescription"]
        shards.extend(description.get("Shards", []))
        start = description.get("LastEvaluatedShardId")
        if not start:
            break
    known = {s["ShardId"] for s in shards}
    ordered: list[dict[str, Any]] = []
    placed: set[str] = set()
    while len(ordered) < len(shards):
        for shard in shards:
            parent = shard.get("ParentShardId")
            if shard["ShardId"] not in placed and (parent is None or parent not in known or parent in placed):
                ordered.append(shard)
                placed.add(shard["ShardId"])
    return ordered


def _seq_value(sequence: str) -> tuple[int, str]:
    return len(sequence), sequence


def _seq(record: dict[str, Any]) -> tuple[int, str]:
    return _seq_value(record["dynamodb"]["SequenceNumber"])
