"""Fixes to moto, applied by the local stack, the tests and the benchmarks: four to its DynamoDB,
one to its SQS.

Atomic requests: DynamoDB applies each request (a conditional put, an update with ReturnValues)
atomically; moto's threaded server does not — its update reads, copies and writes an item in steps,
so two concurrent first answers to one link could both see "no item yet". Every DynamoDB request
is therefore handled under one lock, which is what concurrent clients of the local stack need.

Fast transactions: moto backs up a transaction by deep-copying the WHOLE table once per action (table items and stream
records included), so a 100-action transaction on a table of a few thousand items takes seconds and
grows with the table. DynamoDB itself has no such cost. This patch checks every action's condition
first and cancels the transaction before writing anything when one fails (DynamoDB's own semantics),
so moto's rollback copy is never needed; table copies made inside the call are skipped. Transactions
are serialized by a lock so the check and the writes see the same state.

Partition queries: moto 5 answers a Query on the table's key by sorting every item of the table
and keeping the partition's, so its time grows with the table; a DynamoDB Query reads one
partition. A base-table Query here looks only at its partition's items (same items, same order).

Index queries: moto 5 answers a Query on a global secondary index by walking every item of the
table, so the demo's time grew with the square of its size (every NPS answer and every erasure
queries the ByCustomer index). Here each table keeps a map from an index's hash-key value to the
keys of the items holding it, brought up to date from the items written since the last query
(puts, updates in place, deletes, in transactions and batches too), and moto's own query code runs
over those items only: the same filtering, ordering and paging.

SQS sends: moto's SendMessage reads the queue's attributes to learn whether it deduplicates by
content, and computing them counts every message in the queue, so each send takes time in proportion
to the queue. The local stack's event tap queue collects every DetractorReceived until someone reads
``/_local/events``: a heavy customer's thousands of alerts made the stream drain quadratic (most of a
20,000-record run). Inside SendMessage the three message counts read as 0; anywhere else they are
counted as before.
"""

from __future__ import annotations

import copy
import threading
import types
from typing import Any

_LOCK = threading.RLock()
_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.exceptions import MultipleTransactionsException, TransactionCanceledException
    from moto.dynamodb.models.table import Table

    try:
        from moto.dynamodb.comparisons import get_filter_expression
    except ImportError:  # pragma: no cover - an unknown moto layout: keep moto's own behaviour
        return

    original = dynamodb_models.DynamoDBBackend.transact_write_items

    def deepcopy_except_tables(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    # moto's module reaches `copy.deepcopy` through its `copy` name; give it one that leaves tables be.
    dynamodb_models.copy = types.SimpleNamespace(deepcopy=deepcopy_except_tables, copy=copy.copy)

    def conditions_first(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _LOCK:
            errors: list[Any] = []
            seen: set[tuple[str, str]] = set()
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                table = self.get_table(op["TableName"])
                if op_type == "Put":
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                else:
                    key = op["Key"]
                identity = (op["TableName"], str(dict(sorted(key.items()))))
                if identity in seen:
                    raise MultipleTransactionsException()
                seen.add(identity)
                condition = op.get("ConditionExpression")
                if condition is None:
                    errors.append((None, None, None))
                    continue
                current = self.get_item(op["TableName"], key)
                check = get_filter_expression(condition, op.get("ExpressionAttributeNames"),
                                              op.get("ExpressionAttributeValues"))
                if check.expr(current):
                    errors.append((None, None, None))
                else:
                    errors.append(("ConditionalCheckFailed", "The conditional request failed", None))
            if any(code is not None for code, _, _ in errors):
                raise TransactionCanceledException(errors)
            return original(self, transact_items)

    dynamodb_models.DynamoDBBackend.transact_write_items = conditions_first

    from moto.dynamodb.responses import DynamoHandler

    handle = DynamoHandler.call_action

    def one_request_at_a_time(self: Any) -> Any:
        with _LOCK:
            return handle(self)

    DynamoHandler.call_action = one_request_at_a_time  # type: ignore[method-assign]
    Table.query = _index_query(_partition_query(Table.query))  # type: ignore[method-assign]
    _track_writes(dynamodb_models.DynamoDBBackend, Table)
    _uncounted_sqs_sends()
    _applied = True


_SENDING = threading.local()


def _uncounted_sqs_sends() -> None:
    from moto.sqs.models import Queue, SQSBackend

    for name in ("approximate_number_of_messages", "approximate_number_of_messages_delayed",
                 "approximate_number_of_messages_not_visible"):
        counted = getattr(Queue, name)
        setattr(Queue, name, property(lambda queue, counted=counted: 0 if getattr(_SENDING, "on", False)
                                      else counted.fget(queue)))
    send = SQSBackend.send_message

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        _SENDING.on = True
        try:
            return send(self, *args, **kwargs)
        finally:
            _SENDING.on = False

    SQSBackend.send_message = send_message  # type: ignore[method-assign]


def _partition_query(original: Any) -> Any:
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None or not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        partition = list(self.items[hash_key].values()) if hash_key in self.items else []
        with _LOCK:  # the shadowed method below is per table, so no other query may run meanwhile
            self.all_items = lambda: partition
            try:
                return original(self, hash_key, *args, **kwargs)
            finally:
                del self.all_items

    return query


def _track_writes(backend_class: Any, table_class: Any) -> None:
    """Note the key of every item written, so index maps catch up with it at the next index query."""
    put, delete, update = table_class.put_item, table_class.delete_item, backend_class.update_item

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = put(self, *args, **kwargs)
        _written(self).add((item.hash_key, item.range_key))
        return item

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        _written(self).add((hash_key, range_key))
        return delete(self, hash_key, range_key)

    def update_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        item = update(self, table_name, *args, **kwargs)  # changes the stored item in place
        if item is not None:
            _written(self.get_table(table_name)).add((item.hash_key, item.range_key))
        return item

    table_class.put_item, table_class.delete_item = put_item, delete_item
    backend_class.update_item = update_item


def _written(table: Any) -> set[Any]:
    if "_written_keys" not in table.__dict__:
        table._written_keys = set()
    return table._written_keys  # type: ignore[no-any-return]


class _IndexMaps:
    """{index name: {hash-key value: keys of the items holding it}} of one table, and back."""

    def __init__(self, table: Any) -> None:
        self.attributes = {index.name: next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
                           for index in table.global_indexes}
        self.keys_by_value: dict[str, dict[Any, set[Any]]] = {name: {} for name in self.attributes}
        self.value_of_key: dict[str, dict[Any, Any]] = {name: {} for name in self.attributes}
        _written(table).clear()
        for item in table.all_items():
            self._place((item.hash_key, item.range_key), item)

    def _place(self, key: Any, item: Any) -> None:
        for name, attribute in self.attributes.items():
            old = self.value_of_key[name].pop(key, None)
            if old is not None:
                self.keys_by_value[name][old].discard(key)
            value = item.attrs.get(attribute) if item is not None else None
            if value is not None:
                self.keys_by_value[name].setdefault(value, set()).add(key)
                self.value_of_key[name][key] = value

    def catch_up(self, table: Any) -> None:
        written = _written(table)
        while written:
            hash_key, range_key = key = written.pop()
            self._place(key, table.items.get(hash_key, {}).get(range_key))

    def items(self, table: Any, index_name: str, value: Any) -> list[Any]:
        keys = self.keys_by_value[index_name].get(value, ())
        return [table.items[hash_key][range_key] for hash_key, range_key in keys]


def _index_query(original: Any) -> Any:
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is None or hash_key is None or not self.range_key_attr or \
                index_name not in {index.name for index in self.global_indexes}:
            return original(self, hash_key, *args, **kwargs)
        with _LOCK:  # the shadowed method below is per table, so no other query may run meanwhile
            maps = self.__dict__.get("_index_maps")
            if maps is None:
                maps = self._index_maps = _IndexMaps(self)
            maps.catch_up(self)
            candidates = maps.items(self, index_name, hash_key)
            self.all_items = lambda: iter(candidates)
            try:
                return original(self, hash_key, *args, **kwargs)
            finally:
                del self.all_items

    return query
