"""DynamoDB adapter for survey responses. The only module of intake that talks to AWS; it takes its
client as a parameter so tests hand it a moto client or a fake."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .keys import response_key

_ALWAYS_SET = (
    "type", "survey_id", "customer_id", "touchpoint", "family", "stage", "metric", "score",
    "submitted_at", "source", "gsi1pk", "gsi1sk",
)
_OPTIONAL = ("comment", "order_id", "properties", "response_id")


def _to_dynamo(value: Any) -> Any:
    """Plain JSON values to what boto3's serializer accepts (floats become Decimal)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


class ResponseStore:
    def __init__(self, client: Any, table_name: str) -> None:
        from boto3.dynamodb.types import TypeSerializer

        self._client = client
        self._table = table_name
        self._serialize = TypeSerializer().serialize

    def _av(self, value: Any) -> dict[str, Any]:
        return self._serialize(_to_dynamo(value))

    def upsert(self, record: dict[str, Any]) -> bool:
        """Write a link response; a resubmission replaces the earlier answer in place. Returns True
        when the record is new. One atomic UpdateItem, so concurrent submits still leave one item."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        removes: list[str] = []
        for i, field in enumerate(_ALWAYS_SET + _OPTIONAL):
            names[f"#a{i}"] = field
            if record.get(field) is None:
                if field in _OPTIONAL:
                    removes.append(f"#a{i}")
                continue
            values[f":v{i}"] = self._av(record[field])
            sets.append(f"#a{i} = :v{i}")
        names["#first"] = "first_submitted_at"
        values[":first"] = self._av(record["submitted_at"])
        sets.append("#first = if_not_exists(#first, :first)")
        names["#n"] = "submissions"
        values[":one"] = {"N": "1"}
        expression = "SET " + ", ".join(sets) + " ADD #n :one"
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        result = self._client.update_item(
            TableName=self._table,
            Key={k: {"S": v} for k, v in response_key(record["survey_id"]).items()},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",
        )
        # ALL_OLD is the item before the update: empty when this answer is the first.
        return not result.get("Attributes")

    def insert_once(self, record: dict[str, Any]) -> bool:
        """Write an imported response unless its survey id exists already (first import wins).
        Returns True when written."""
        item = {**response_key(record["survey_id"]), **{k: v for k, v in record.items() if v is not None}}
        item["first_submitted_at"] = record["submitted_at"]
        item["submissions"] = 1
        try:
            self._client.put_item(
                TableName=self._table,
                Item={k: self._av(v) for k, v in item.items()},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
