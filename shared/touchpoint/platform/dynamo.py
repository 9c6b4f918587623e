"""What every DynamoDB adapter (the ``store`` module of each capability) shares: plain values to
attribute values and back, the one paginated read (``query_all``/``scan_all``), the one insert that
refuses to overwrite (``put_if_absent``), and the SET/REMOVE expression that writes a record's fields."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any


def _plain_to_dynamo(value: Any) -> Any:
    """Plain JSON values to what boto3's serializer accepts (floats become Decimal)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _plain_to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_to_dynamo(v) for v in value]
    return value


def plain_value(value: Any) -> Any:
    """Decimals back to int or float, sets to lists: what boto3's deserializer gives, as plain JSON values."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [plain_value(v) for v in value]
    return value


@lru_cache(maxsize=1)
def _codecs() -> tuple[Any, Any]:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def to_attribute(value: Any) -> dict[str, Any]:
    return _codecs()[0].serialize(_plain_to_dynamo(value))


def to_item(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: to_attribute(v) for k, v in record.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    deserialize = _codecs()[1].deserialize
    return {k: plain_value(deserialize(v)) for k, v in item.items()}


def query_all(client: Any, **request: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query matches, page after page, as raw attribute values."""
    yield from _paginate(client.query, request)


def scan_all(client: Any, **request: Any) -> Iterator[dict[str, Any]]:
    """Every item of a Scan: maintenance jobs, and erasure sweeping the one-hour IdempotencyTable;
    no other request path scans."""
    yield from _paginate(client.scan, request)


def _paginate(call: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    request = dict(request)
    while True:
        page = call(**request)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def put_if_absent(client: Any, table: str, item: Mapping[str, Any], **extra: Any) -> bool:
    """PutItem unless an item with this key exists (``item`` is already in attribute values).
    True when written; False when the key was taken, which is how a retry is recognised."""
    try:
        client.put_item(TableName=table, Item=dict(item), ConditionExpression="attribute_not_exists(pk)", **extra)
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def set_fields_expression(record: Mapping[str, Any], fields: Iterable[str]) -> tuple[list[str], list[str],
                                                                                    dict[str, str], dict[str, Any]]:
    """SET clauses for the fields present in ``record`` and REMOVE clauses for those that are None,
    with their placeholder names and values."""
    sets: list[str] = []
    removes: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for i, field in enumerate(fields):
        names[f"#f{i}"] = field
        if record.get(field) is None:
            removes.append(f"#f{i}")
        else:
            values[f":f{i}"] = to_attribute(record[field])
            sets.append(f"#f{i} = :f{i}")
    return sets, removes, names, values
