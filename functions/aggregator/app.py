"""AggregatorFunction: the FeedbackTable stream -> exactly-once rollups, customer counters and
detractor alerts. Batch wiring only; the work is done by ``touchpoint.rollups.aggregator``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from touchpoint import runtime
from touchpoint.platform.settings import AggregatorSettings
from touchpoint.rollups import aggregator
from touchpoint.rollups.changes import (
    StreamChange,
    change_from_record,
    delivery_of,
    sequence_key,
    without_changes_blocked_by,
)

logger = Logger(service="aggregator")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
runtime.cold_start(AggregatorSettings)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    changes: list[StreamChange] = []

    def parse(record: Any) -> None:
        # Each record is validated into Powertools' pydantic stream model here, so whatever is wrong
        # with one record (a bad type tag, an image that is not an object) fails that record alone.
        changes.append(change_from_record(DynamoDBStreamRecordModel.model_validate(record.raw_event)))

    with processor(records=event.get("Records", []), handler=parse):
        processor.process()
    unparsed = [str(f["itemIdentifier"]) for f in processor.response()["batchItemFailures"]]
    # Lambda resumes from the first record that failed. The others apply now, except later changes of
    # an item whose earlier change failed: applied first, they would take out what was never put in.
    changes = without_changes_blocked_by([m.raw_event for m in processor.fail_messages], changes)
    failures = aggregator.handle_changes(changes, delivery_of(event), runtime.aggregator(),
                                         runtime.event_publisher(), logger, unreadable=unparsed)
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in sorted(set(failures),
                                                                             key=sequence_key)]}
