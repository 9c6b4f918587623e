"""The scorecards' DynamoDB adapter: reads a period's rollup items (a fixed number of small queries,
whatever the volume) and keeps the exactly-once marker of each scorecard email."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from touchpoint.periods import days
from touchpoint.platform.dynamo import from_item, query_all
from touchpoint.platform.table import (
    CUSTOMERS_SK,
    alert_partition,
    day_partition,
    key,
    period_partition,
    sent_marker_key,
)
from touchpoint.scorecards.delivery import recipients_key

COMMENTS_PER_DAY = 10  # worst-scored alerts read per day; the scorecard shows the worst overall
COMMENTS_SHOWN = 8
STALE_CLAIM_SECONDS = 15 * 60


class RollupReader:
    """Reads rollup items; counts the items it read (the benchmark's measure)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self.items_read = 0

    def _query(self, partition: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The partition's items; with ``limit``, only the first page of that many (the worst-first head)."""
        request: dict[str, Any] = {"TableName": self._table, "KeyConditionExpression": "pk = :p",
                                   "ExpressionAttributeValues": {":p": {"S": partition}}}
        items = (self._client.query(**request, Limit=limit)["Items"] if limit
                 else list(query_all(self._client, **request)))
        self.items_read += len(items)
        return [from_item(item) for item in items]

    def day_items(self, period_id: str) -> dict[tuple[str, str], dict[str, int]]:
        items: dict[tuple[str, str], dict[str, int]] = {}
        for day in days(period_id):
            for item in self._query(day_partition(day)):
                items[(item["pk"], item["sk"])] = {k: int(v) for k, v in item.items()
                                                   if k not in ("pk", "sk", "type")}
        return items

    def customer_counters(self, period_id: str) -> dict[str, int]:
        item = self._client.get_item(TableName=self._table,
                                     Key=key(period_partition(period_id), CUSTOMERS_SK)).get("Item")
        self.items_read += 1 if item else 0
        record = from_item(item) if item else {}
        return {k: int(v) for k, v in record.items() if k not in ("pk", "sk", "type")}

    def detractor_comments(self, period_id: str) -> list[dict[str, Any]]:
        found = []
        for day in days(period_id):
            found.extend(a for a in self._query(alert_partition(day), limit=COMMENTS_PER_DAY) if a.get("comment"))
        found.sort(key=lambda a: (int(a["score"]), str(a["submitted_at"])))
        return [{"touchpoint": a["touchpoint"], "score": int(a["score"]), "comment": a["comment"],
                 "submitted_at": a["submitted_at"], "metric": a.get("metric")} for a in found[:COMMENTS_SHOWN]]


class SendOnce:
    """The exactly-once marker of a scorecard email: claimed with a conditional put before sending,
    confirmed after SES accepted it, released if SES refused it (so the scheduler's retry can send)."""

    def __init__(self, client: Any, table: str, now: Any = time.time) -> None:
        self._client = client
        self._table = table
        self._now = now

    def _key(self, period_id: str, recipients: Sequence[str]) -> dict[str, Any]:
        return sent_marker_key(period_id, recipients_key(recipients))

    def claim(self, period_id: str, recipients: Sequence[str]) -> str | None:
        """None when this run may send; else the reason it must not."""
        key = self._key(period_id, recipients)
        now = int(self._now())
        try:
            self._client.put_item(
                TableName=self._table,
                Item={**key, "type": {"S": "scorecard_sent"}, "status": {"S": "sending"},
                      "claimed_at": {"N": str(now)}},
                # A claim left by a run that died before SES answered may be taken over after a while.
                ConditionExpression="attribute_not_exists(pk) OR (#s = :sending AND claimed_at < :stale)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":sending": {"S": "sending"},
                                           ":stale": {"N": str(now - STALE_CLAIM_SECONDS)}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item", {})
            return "already_sent" if item.get("status", {}).get("S") == "sent" else "in_progress"
        return None

    def confirm(self, period_id: str, recipients: Sequence[str], message_id: str) -> None:
        self._client.update_item(TableName=self._table, Key=self._key(period_id, recipients),
                                 UpdateExpression="SET #s = :sent, message_id = :m, sent_at = :t",
                                 ExpressionAttributeNames={"#s": "status"},
                                 ExpressionAttributeValues={":sent": {"S": "sent"}, ":m": {"S": message_id},
                                                            ":t": {"N": str(int(self._now()))}})

    def release(self, period_id: str, recipients: Sequence[str]) -> None:
        self._client.delete_item(TableName=self._table, Key=self._key(period_id, recipients))


