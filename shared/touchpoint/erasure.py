"""Erasure (``DELETE /v1/customers/{customer_id}``): delete every record of a customer found through
the ByCustomer index. The rollups follow through the stream: each deleted record's REMOVE subtracts
exactly what it had added."""

from __future__ import annotations

from typing import Any

from .keys import customer_partition
from .store import CUSTOMER_INDEX

BATCH_WRITE_LIMIT = 25


def customer_keys(client: Any, table: str, customer_id: str) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": table, "IndexName": CUSTOMER_INDEX, "KeyConditionExpression": "gsi1pk = :c",
        "ExpressionAttributeValues": {":c": {"S": customer_partition(customer_id)}},
        "ProjectionExpression": "pk, sk",
    }
    while True:
        page = client.query(**request)
        keys.extend({"pk": item["pk"], "sk": item["sk"]} for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return keys
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def erase_customer(client: Any, table: str, customer_id: str) -> int:
    """Delete every record of the customer; returns how many were deleted."""
    keys = customer_keys(client, table, customer_id)
    for start in range(0, len(keys), BATCH_WRITE_LIMIT):
        pending = {table: [{"DeleteRequest": {"Key": key}} for key in keys[start:start + BATCH_WRITE_LIMIT]]}
        for _attempt in range(10):
            unprocessed = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not unprocessed:
                break
            pending = unprocessed
        else:
            raise RuntimeError("DynamoDB kept deletes unprocessed; the erasure can be retried safely")
    return len(keys)
