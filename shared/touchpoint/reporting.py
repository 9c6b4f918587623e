"""Scorecards from rollups (SPEC §6) and their delivery: read the period's rollup items (a fixed
number of small queries, whatever the volume), build the scorecard, and send it exactly once per
period and recipient list through SES, archiving JSON and HTML to S3."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .dynamo import from_item, key_of
from .periods import days, previous
from .rollups import CUSTOMERS_SK, day_partition, period_partition
from .scorecard import Targets, build_scorecard

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
        request: dict[str, Any] = {"TableName": self._table, "KeyConditionExpression": "pk = :p",
                                   "ExpressionAttributeValues": {":p": {"S": partition}}}
        if limit:
            request["Limit"] = limit
        out: list[dict[str, Any]] = []
        while True:
            page = self._client.query(**request)
            out.extend(from_item(item) for item in page["Items"])
            self.items_read += len(page["Items"])
            if limit or "LastEvaluatedKey" not in page:
                return out
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def day_items(self, period_id: str) -> dict[tuple[str, str], dict[str, int]]:
        items: dict[tuple[str, str], dict[str, int]] = {}
        for day in days(period_id):
            for item in self._query(day_partition(day)):
                items[(item["pk"], item["sk"])] = {k: int(v) for k, v in item.items()
                                                   if k not in ("pk", "sk", "type")}
        return items

    def customer_counters(self, period_id: str) -> dict[str, int]:
        item = self._client.get_item(TableName=self._table,
                                     Key=key_of(period_partition(period_id), CUSTOMERS_SK)).get("Item")
        self.items_read += 1 if item else 0
        record = from_item(item) if item else {}
        return {k: int(v) for k, v in record.items() if k not in ("pk", "sk", "type")}

    def detractor_comments(self, period_id: str) -> list[dict[str, Any]]:
        found = []
        for day in days(period_id):
            found.extend(a for a in self._query(f"ALERT#{day}", limit=COMMENTS_PER_DAY) if a.get("comment"))
        found.sort(key=lambda a: (int(a["score"]), str(a["submitted_at"])))
        return [{"touchpoint": a["touchpoint"], "score": int(a["score"]), "comment": a["comment"],
                 "submitted_at": a["submitted_at"], "metric": a.get("metric")} for a in found[:COMMENTS_SHOWN]]


def compute_scorecard(reader: RollupReader, catalog: Any, period_id: str, *, targets: Targets | None = None,
                      min_sample: int = 30) -> dict[str, Any]:
    """This period's scorecard with the previous period beside it, from rollups only."""
    before = previous(period_id)
    periods = {p: reader.customer_counters(p) for p in (period_id, before, previous(before))}
    earlier = build_scorecard(before, reader.day_items(before), periods, catalog, targets=targets,
                              min_sample=min_sample)
    return build_scorecard(period_id, reader.day_items(period_id), periods, catalog, previous=earlier,
                           targets=targets, min_sample=min_sample,
                           top_comments=reader.detractor_comments(period_id))


def recipients_key(recipients: Sequence[str]) -> str:
    normalized = sorted({r.strip().lower() for r in recipients if r.strip()})
    return hashlib.sha256(json.dumps(normalized).encode()).hexdigest()[:24]


@dataclass
class Delivery:
    status: str  # "sent" | "already_sent" | "in_progress"
    message_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "message_id": self.message_id}


class SendOnce:
    """The exactly-once marker of a scorecard email: claimed with a conditional put before sending,
    confirmed after SES accepted it, released if SES refused it (so the scheduler's retry can send)."""

    def __init__(self, client: Any, table: str, now: Any = time.time) -> None:
        self._client = client
        self._table = table
        self._now = now

    def _key(self, period_id: str, recipients: Sequence[str]) -> dict[str, Any]:
        return key_of(f"SENT#{period_id}", recipients_key(recipients))

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


def deliver_scorecard(scorecard: dict[str, Any], *, brand: str, sender: str, recipients: Sequence[str],
                      marker: SendOnce, ses: Any, s3: Any | None, bucket: str | None) -> Delivery:
    from .email_render import render_email, render_html

    period_id = scorecard["period"]["id"]
    message = render_email(scorecard, brand=brand, sender=sender, recipients=list(recipients))
    if s3 is not None and bucket:
        # Archived on every run (idempotent overwrite): the latest numbers are kept even when no mail goes.
        s3.put_object(Bucket=bucket, Key=f"scorecards/{period_id}.json", ContentType="application/json",
                      Body=json.dumps(scorecard, indent=2).encode("utf-8"))
        s3.put_object(Bucket=bucket, Key=f"scorecards/{period_id}.html", ContentType="text/html; charset=utf-8",
                      Body=render_html(scorecard, brand).encode("utf-8"))
    refusal = marker.claim(period_id, recipients)
    if refusal:
        return Delivery(refusal)
    try:
        sent = ses.send_email(FromEmailAddress=sender, Destination={"ToAddresses": list(recipients)},
                              Content={"Raw": {"Data": message.as_bytes()}})
    except Exception:
        marker.release(period_id, recipients)
        raise
    marker.confirm(period_id, recipients, sent["MessageId"])
    return Delivery("sent", sent["MessageId"])
