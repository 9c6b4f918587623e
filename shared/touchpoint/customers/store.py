"""The customers' DynamoDB adapter: every item of one customer, found through the ByCustomer index,
and deleted in batches; and the suppression list of erased customers, named by keyed pseudonyms."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from touchpoint.platform.dynamo import from_item, query_all, scan_all, to_item
from touchpoint.platform.pseudonyms import Pseudonyms
from touchpoint.platform.table import (
    CUSTOMER_INDEX,
    SUPPRESSION_PREFIX,
    closed_survey_item,
    contact_key,
    customer_partition,
    key,
    suppression_key,
)

BATCH_GET_LIMIT = 100

BATCH_WRITE_LIMIT = 25
MAX_UNPROCESSED_RETRIES = 10


class CustomerStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def keys_of(self, customer_id: str) -> list[dict[str, Any]]:
        """The primary keys of every item that carries the customer's index key."""
        return [{"pk": item["pk"], "sk": item["sk"]} for item in query_all(
            self._client, TableName=self._table, IndexName=CUSTOMER_INDEX, KeyConditionExpression="gsi1pk = :c",
            ExpressionAttributeValues={":c": {"S": customer_partition(customer_id)}}, ProjectionExpression="pk, sk",
        )]

    def open_links(self, customer_id: str) -> dict[str, Any]:
        """The links the contact item lists as sent (survey id -> expiry epoch), expired ones included."""
        keys = contact_key(customer_id)
        item = self._client.get_item(TableName=self._table, Key=key(keys["pk"], keys["sk"]),
                                     ProjectionExpression="open_links", ConsistentRead=True).get("Item")
        return (from_item(item).get("open_links") or {}) if item else {}

    def close_surveys(self, links: dict[str, int]) -> int:
        """Put a tombstone on each open link's survey id (until the link expires), replacing an answer
        already there (its stream MODIFY subtracts it from the rollups). Returns how many answers it
        replaced."""
        replaced = 0
        for survey_id, expires in sorted(links.items()):
            old = self._client.put_item(TableName=self._table, Item=to_item(closed_survey_item(survey_id, expires)),
                                        ReturnValues="ALL_OLD").get("Attributes") or {}
            replaced += old.get("type", {}).get("S") == "response"
        return replaced

    def delete(self, keys: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(keys), BATCH_WRITE_LIMIT):
            pending = {self._table: [{"DeleteRequest": {"Key": key}}
                                     for key in keys[start:start + BATCH_WRITE_LIMIT]]}
            for _attempt in range(MAX_UNPROCESSED_RETRIES):
                unprocessed = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not unprocessed:
                    break
                pending = unprocessed
            else:
                raise RuntimeError("DynamoDB kept deletes unprocessed; the erasure can be retried safely")


class MintRetries:
    """The idempotency records of ``POST /v1/links`` (Powertools, IdempotencyTable, one hour): each
    keeps the link it answered, whose token names the customer. Erasure deletes that customer's, so a
    retried mint cannot hand out their old link. Scans the table: it holds one hour of mints only."""

    def __init__(self, client: Any, table_name: str, owner_of: Callable[[str], str | None]) -> None:
        self._client = client
        self._table = table_name
        self._owner_of = owner_of  # token -> customer id

    def forget(self, customer_id: str) -> int:
        theirs = []
        for item in scan_all(self._client, TableName=self._table, ProjectionExpression="id, #d",
                             ExpressionAttributeNames={"#d": "data"}):
            try:
                token = json.loads(item.get("data", {}).get("S") or "{}").get("token")
            except ValueError:
                continue
            if isinstance(token, str) and self._owner_of(token) == customer_id:
                theirs.append({"id": item["id"]})
        for record_key in theirs:
            self._client.delete_item(TableName=self._table, Key=record_key)
        return len(theirs)


class SuppressionStore:
    """One small item per erased customer, ``SUPPRESSED#<pseudonym>``: the erasure date and how many
    records were erased, never the id. Checked with one GetItem (a batch: one BatchGetItem per 100)."""

    def __init__(self, client: Any, table_name: str, pseudonyms: Pseudonyms) -> None:
        self._client = client
        self._table = table_name
        self._pseudonyms = pseudonyms

    def is_suppressed(self, customer_id: str) -> bool:
        reply = self._client.get_item(TableName=self._table, Key=suppression_key(self._pseudonyms.of(customer_id)),
                                      ProjectionExpression="pk", ConsistentRead=True)
        return "Item" in reply

    def suppressed_among(self, customer_ids: Iterable[str]) -> set[str]:
        by_key = {self._pseudonyms.of(c): c for c in set(customer_ids)}
        found: set[str] = set()
        names = list(by_key)
        for start in range(0, len(names), BATCH_GET_LIMIT):
            pending: dict[str, Any] = {self._table: {
                "Keys": [suppression_key(n) for n in names[start:start + BATCH_GET_LIMIT]],
                "ProjectionExpression": "pk", "ConsistentRead": True}}
            for _attempt in range(MAX_UNPROCESSED_RETRIES):
                reply = self._client.batch_get_item(RequestItems=pending)
                for item in reply.get("Responses", {}).get(self._table, []):
                    found.add(by_key[item["pk"]["S"].removeprefix(SUPPRESSION_PREFIX)])
                pending = reply.get("UnprocessedKeys") or {}
                if not pending:
                    break
            else:
                # Fail closed: an unread key might be an erased customer's (the caller's 5xx is retried).
                raise RuntimeError("DynamoDB kept suppression reads unprocessed; the request can be retried")
        return found

    def suppress(self, customer_id: str, erased_at: str, records: int) -> None:
        item = {**suppression_key(self._pseudonyms.of(customer_id)),
                **to_item({"type": "suppression", "erased_at": erased_at, "erased_records": records})}
        self._client.put_item(TableName=self._table, Item=item)

    def release(self, customer_id: str) -> bool:
        """Take the customer off the list (they came back of their own will); False when not on it."""
        reply = self._client.delete_item(TableName=self._table, Key=suppression_key(self._pseudonyms.of(customer_id)),
                                         ReturnValues="ALL_OLD")
        return "Attributes" in reply
