"""The customers' DynamoDB adapter: every item of one customer, found through the ByCustomer index,
and deleted in batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from touchpoint.platform.dynamo import query_all
from touchpoint.platform.table import CUSTOMER_INDEX, customer_partition

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
