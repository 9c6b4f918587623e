"""AggregatorFunction: the FeedbackTable stream -> exactly-once rollups, customer counters and
detractor alerts. Batch wiring only; the work is done by ``touchpoint.aggregation``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from touchpoint import aggregation, runtime

logger = Logger(service="aggregator")
# Each record is parsed into Powertools' pydantic stream model; one that does not parse is reported
# as a failure on its own, the others still apply.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, model=DynamoDBStreamRecordModel,
                           raise_on_entire_batch_failure=False)
runtime.settings()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    changes: list[aggregation.StreamChange] = []
    with processor(records=event.get("Records", []),
                   handler=lambda record: changes.append(aggregation.change_from_record(record))):
        processor.process()
    failures = [f["itemIdentifier"] for f in processor.response()["batchItemFailures"]]
    failures += aggregation.handle_changes(changes, runtime.aggregator(), runtime.event_publisher(), logger)
    # For streams Lambda resumes from the lowest failed sequence number; later records come again
    # and are skipped by their checkpoints.
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in sorted(set(failures),
                                                                             key=aggregation.sequence_key)]}
