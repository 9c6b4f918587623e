"""Three fixes to moto's DynamoDB, applied by the local stack, the tests and the benchmarks.

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
    Table.query = _partition_query(Table.query)  # type: ignore[method-assign]
    _applied = True


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
