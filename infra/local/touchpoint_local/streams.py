"""The DynamoDB stream event source mapping, in-process: reads the table's stream from moto and
invokes the function named in template.yaml with batches shaped like Lambda's, honouring the
template's BatchSize, ReportBatchItemFailures (resume from the first failed record) and
MaximumRetryAttempts (then the batch is parked, like an on-failure destination)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .functions import LocalFunction


@dataclass
class ShardPosition:
    after: str | None = None  # last sequence number delivered successfully
    attempts: int = 0


@dataclass
class StreamPump:
    function: LocalFunction
    stream_arn: str
    session: Any
    batch_size: int = 100
    max_retries: int = 5
    report_failures: bool = True
    positions: dict[str, ShardPosition] = field(default_factory=dict)
    parked: list[dict[str, Any]] = field(default_factory=list)
    delivered: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _client(self) -> Any:
        return self.session.client("dynamodbstreams")

    def drain(self) -> int:
        """Deliver every pending record now; returns how many records were delivered and accepted."""
        with self._lock:
            streams = self._client()
            shards = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
            accepted = 0
            for shard in shards:
                accepted += self._drain_shard(streams, shard["ShardId"])
            self.delivered += accepted
            return accepted

    def _drain_shard(self, streams: Any, shard_id: str) -> int:
        position = self.positions.setdefault(shard_id, ShardPosition())
        accepted = 0
        while True:
            if position.after is None:
                iterator = streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id,
                                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            else:
                iterator = streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id,
                                                      ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                                      SequenceNumber=position.after)["ShardIterator"]
            records = streams.get_records(ShardIterator=iterator, Limit=self.batch_size)["Records"]
            if not records:
                return accepted
            event = {"Records": [lambda_stream_record(r, self.stream_arn) for r in records]}
            failed_from = self._invoke(event)
            if failed_from is None:
                position.after, position.attempts = records[-1]["dynamodb"]["SequenceNumber"], 0
                accepted += len(records)
                continue
            done = [r for r in records if _seq(r) < _seq_value(failed_from)]
            accepted += len(done)
            if done:
                position.after = done[-1]["dynamodb"]["SequenceNumber"]
            position.attempts += 1
            if position.attempts > self.max_retries:
                # Like the template's OnFailure destination: park the batch and move past it.
                self.parked.append({"shard": shard_id, "records": event["Records"], "failed_from": failed_from})
                position.after, position.attempts = records[-1]["dynamodb"]["SequenceNumber"], 0

    def _invoke(self, event: dict[str, Any]) -> str | None:
        """Sequence number to resume from, or None when the whole batch succeeded."""
        try:
            result = self.function.invoke(event)
        except Exception:
            return event["Records"][0]["dynamodb"]["SequenceNumber"]  # the whole batch is retried
        failures = (result or {}).get("batchItemFailures") or [] if self.report_failures else []
        if not failures:
            return None
        return min((f["itemIdentifier"] for f in failures), key=_seq_value)


def lambda_stream_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record from GetRecords as Lambda's event source mapping hands it to the function: the same
    fields, the stream ARN added, the creation time as epoch seconds."""
    data = dict(record["dynamodb"])
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        data["ApproximateCreationDateTime"] = created.timestamp()
    elif isinstance(created, str):
        data["ApproximateCreationDateTime"] = datetime.fromisoformat(created).timestamp()
    return {**{k: v for k, v in record.items() if k != "dynamodb"}, "dynamodb": data, "eventSourceARN": stream_arn}


def read_stream(session: Any, stream_arn: str, after: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The records of a stream, shard by shard, as Lambda records (for tests and tools). With
    ``after`` ({shard id: last sequence number read}, updated in place) only the new ones."""
    streams = session.client("dynamodbstreams")
    out: list[dict[str, Any]] = []
    positions = after if after is not None else {}
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
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


def _seq_value(sequence: str) -> tuple[int, str]:
    return len(sequence), sequence


def _seq(record: dict[str, Any]) -> tuple[int, str]:
    return _seq_value(record["dynamodb"]["SequenceNumber"])
