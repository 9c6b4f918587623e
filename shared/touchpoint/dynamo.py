"""Small helpers shared by the DynamoDB adapters: plain values to attribute values and back, and
the SET/REMOVE update expression that writes a record's fields in place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def _dynamo_to_plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _dynamo_to_plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_dynamo_to_plain(v) for v in value]
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
    return {k: _dynamo_to_plain(deserialize(v)) for k, v in item.items()}


def key_of(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


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
