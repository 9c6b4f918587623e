"""A DynamoDB client double with DynamoDB's transaction-conflict rule, for concurrency measures and tests.

Neither moto nor DynamoDB Local models what happens when two writers touch one item at the same
time: moto serializes every request under one lock (``touchpoint_local.moto_speedups``), so two
transactions never overlap. DynamoDB does not queue them. From the DynamoDB API reference
(TransactionCanceledException, and the developer guide's "Transaction conflict handling"):

* a TransactWriteItems that touches an item another TransactWriteItems is writing is cancelled:
  ``TransactionCanceledException``, with ``CancellationReasons`` in the order of the request's
  actions: ``{"Code": "TransactionConflict"}`` at each conflicting action, ``{"Code": "None"}``
  elsewhere. SDKs do not retry it;
* a PutItem, UpdateItem or DeleteItem of an item in an ongoing TransactWriteItems fails with
  ``TransactionConflictException``;
* a TransactGetItems of an item being written (by a transaction or a single-item write) is
  cancelled the same way;
* a plain GetItem, BatchGetItem, Query or Scan is never rejected: it reads the last committed state.

``ConflictingClient`` wraps a real boto3 DynamoDB client (moto or DynamoDB Local) and delegates
everything to it, except those four rules. A transaction is "in flight" from the moment it is
accepted until the real call returns: it first waits ``transaction_seconds + per_action_seconds *
actions`` (the simulated latency of DynamoDB's prepare and commit phases; ``pause`` does the waiting,
so a test can hold a transaction in flight as long as it likes), then the real client applies it
atomically. Reads see the committed state only, as on DynamoDB. ``read_seconds`` adds a latency (one
round trip) to BatchGetItem, GetItem, Query, TransactGetItems and single-item writes (an idle wait,
outside any lock), so time spent reading overlaps other workers' transactions as it would against
the service; a request refused for a conflict answers after ``cancel_seconds``.

Time: with a ``VirtualClock`` every pause advances the calling thread's own virtual time instead of
sleeping, and the clock runs the registered threads one at a time, always the one furthest behind,
so a request at virtual time t meets exactly the transactions in flight at t. Measures then do not
depend on moto's speed (about 1 ms of CPU per action, one request at a time, where DynamoDB serves
requests in parallel) and little on the machine's load: a thread's own CPU time between requests
(the aggregator planning) counts as virtual time, the CPU time spent inside the real client does not.

Not modelled: BatchWriteItem against an ongoing transaction (passed through), throttling, and which
of two overlapping transactions DynamoDB cancels (here: always the later one).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Identity = tuple[str, str]  # (table, the item's key as canonical JSON)


@dataclass
class ConflictStats:
    """What the double saw; every field is changed under the double's lock."""

    transactions_attempted: int = 0  # TransactWriteItems calls
    transactions_committed: int = 0
    transactions_cancelled_conflict: int = 0  # cancelled here: an item was in another transaction
    transactions_cancelled_other: Counter[str] = field(default_factory=Counter)  # by the real client, by reason
    conflicting_actions: int = 0  # actions marked TransactionConflict in cancelled transactions
    item_write_conflicts: int = 0  # PutItem/UpdateItem/DeleteItem refused: TransactionConflictException
    transact_get_conflicts: int = 0
    actions_committed: int = 0
    in_flight_seconds: float = 0.0  # summed over committed transactions
    item_writes: Counter[Identity] = field(default_factory=Counter)  # committed transactional writes per item

    @property
    def conflicts(self) -> int:
        """Every request DynamoDB would have rejected for a conflict."""
        return self.transactions_cancelled_conflict + self.item_write_conflicts + self.transact_get_conflicts

    def as_dict(self) -> dict[str, Any]:
        return {
            "transactions_attempted": self.transactions_attempted,
            "transactions_committed": self.transactions_committed,
            "transactions_cancelled_conflict": self.transactions_cancelled_conflict,
            "transactions_cancelled_other": dict(self.transactions_cancelled_other),
            "conflicting_actions": self.conflicting_actions,
            "item_write_conflicts": self.item_write_conflicts,
            "transact_get_conflicts": self.transact_get_conflicts,
            "actions_committed": self.actions_committed,
        }


class VirtualClock:
    """Virtual time for ``participants`` threads: each calls ``enter`` first and ``leave`` last, and
    ``sleep`` advances its own time and hands over to the thread whose time is earliest (ties: the
    one that got there first). Only one registered thread runs at any moment. With ``count_cpu`` a
    thread's CPU time between two sleeps is added to its time, less what ``discount`` was told (the
    real client's own work)."""

    def __init__(self, participants: int, *, count_cpu: bool = True) -> None:
        self.participants = participants
        self.count_cpu = count_cpu
        self._cond = threading.Condition()
        self._order = itertools.count()
        self._times: dict[int, tuple[float, int]] = {}  # thread -> (virtual seconds, tie-breaker)
        self._cpu_mark: dict[int, float] = {}
        self._discounted: dict[int, float] = {}
        self._entered = 0
        self.elapsed = 0.0  # the latest virtual time any thread reached
        self.cpu_seconds = 0.0  # counted CPU time of all threads

    def enter(self) -> None:
        me = threading.get_ident()
        with self._cond:
            self._times[me] = (0.0, next(self._order))
            self._entered += 1
            self._cond.notify_all()
            self._wait_turn(me)
        self._resume(me)

    def leave(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if me in self._times:
                self.elapsed = max(self.elapsed, self._advance(me, 0.0))
                del self._times[me]
                self._cond.notify_all()

    def sleep(self, seconds: float) -> None:
        me = threading.get_ident()
        with self._cond:
            if me not in self._times:
                return  # not a participant (a check after the run): no time passes
            self.elapsed = max(self.elapsed, self._advance(me, seconds))
            self._cond.notify_all()
            self._wait_turn(me)
        self._resume(me)

    def now(self) -> float:
        with self._cond:
            return self._times.get(threading.get_ident(), (self.elapsed, 0))[0]

    def discount(self, cpu_seconds: float) -> None:
        me = threading.get_ident()
        if me in self._discounted:
            self._discounted[me] += cpu_seconds

    def _advance(self, me: int, seconds: float) -> float:
        cpu = 0.0
        if self.count_cpu:
            cpu = max(0.0, time.thread_time() - self._cpu_mark[me] - self._discounted[me])
            self.cpu_seconds += cpu
        moment = self._times[me][0] + seconds + cpu
        self._times[me] = (moment, next(self._order))
        return moment

    def _wait_turn(self, me: int) -> None:
        self._cond.wait_for(lambda: self._entered >= self.participants
                            and min(self._times, key=self._times.__getitem__) == me)

    def _resume(self, me: int) -> None:
        self._cpu_mark[me] = time.thread_time()
        self._discounted[me] = 0.0


class ConflictingClient:
    """A boto3 DynamoDB client that cancels what DynamoDB cancels when writers overlap (module doc)."""

    def __init__(self, client: Any, *, transaction_seconds: float = 0.02, per_action_seconds: float = 0.0,
                 read_seconds: float = 0.0, cancel_seconds: float = 0.0, pause: Callable[[float], None] = time.sleep,
                 clock: VirtualClock | None = None) -> None:
        self._client = client
        self.transaction_seconds = transaction_seconds
        self.per_action_seconds = per_action_seconds
        self.read_seconds = read_seconds
        self.cancel_seconds = cancel_seconds  # the round trip of a request DynamoDB rejects
        self.clock = clock
        self._pause = clock.sleep if clock is not None else pause
        self._lock = threading.Lock()
        self._transactions: dict[Identity, int] = {}  # item -> the in-flight transaction writing it
        self._single_writes: Counter[Identity] = Counter()  # items of in-flight PutItem/UpdateItem/DeleteItem
        self._key_names: dict[str, tuple[str, ...]] = {}
        self._next_id = 0
        self.stats = ConflictStats()

    def __getattr__(self, name: str) -> Any:
        # exceptions, meta, scan, batch_write_item, get_paginator ...: the real client's.
        return getattr(self._client, name)

    # ------------------------------------------------------------------------------ transactions
    def transact_write_items(self, **request: Any) -> Any:
        self._sync()
        actions = request["TransactItems"]
        items = [self._identity(*_target(action)) for action in actions]
        with self._lock:
            self.stats.transactions_attempted += 1
            busy = [i for i, item in enumerate(items) if item in self._transactions]
            if busy:
                self.stats.transactions_cancelled_conflict += 1
                self.stats.conflicting_actions += len(busy)
            else:
                self._next_id += 1
                for item in items:
                    self._transactions[item] = self._next_id
        if busy:
            self._pause(self.cancel_seconds)
            raise self._cancelled("TransactWriteItems", len(items), busy)
        started = self._now()
        try:
            # In flight: prepared, then committed by the real client at the end of the window.
            self._pause(self.transaction_seconds + self.per_action_seconds * len(actions))
            result = self._backend(self._client.transact_write_items, request)
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            with self._lock:
                self.stats.transactions_cancelled_other[",".join(sorted(set(reasons) - {"None"})) or "?"] += 1
            raise
        else:
            with self._lock:
                self.stats.transactions_committed += 1
                self.stats.actions_committed += len(actions)
                self.stats.in_flight_seconds += self._now() - started
                self.stats.item_writes.update(items)
            return result
        finally:
            with self._lock:
                for item in items:
                    del self._transactions[item]

    def transact_get_items(self, **request: Any) -> Any:
        self._sync()
        gets = [entry["Get"] for entry in request["TransactItems"]]
        items = [self._identity(get["TableName"], get["Key"]) for get in gets]
        with self._lock:
            busy = [i for i, item in enumerate(items) if item in self._transactions or item in self._single_writes]
            if busy:
                self.stats.transact_get_conflicts += 1
        if busy:
            self._pause(self.cancel_seconds)
            raise self._cancelled("TransactGetItems", len(items), busy)
        self._pause(self.read_seconds)
        return self._backend(self._client.transact_get_items, request)

    # ------------------------------------------------------------------------------ single-item writes
    def put_item(self, **request: Any) -> Any:
        return self._single_write("put_item", self._identity(request["TableName"], request["Item"]), request)

    def update_item(self, **request: Any) -> Any:
        return self._single_write("update_item", self._identity(request["TableName"], request["Key"]), request)

    def delete_item(self, **request: Any) -> Any:
        return self._single_write("delete_item", self._identity(request["TableName"], request["Key"]), request)

    def _single_write(self, operation: str, item: Identity, request: dict[str, Any]) -> Any:
        self._sync()
        with self._lock:
            conflict = item in self._transactions
            if conflict:
                self.stats.item_write_conflicts += 1
            else:
                self._single_writes[item] += 1
        if conflict:
            self._pause(self.cancel_seconds)
            raise self._client.exceptions.TransactionConflictException(
                {"Error": {"Code": "TransactionConflictException", "Message": "Transaction is ongoing for the item"},
                 "ResponseMetadata": {"HTTPStatusCode": 400}}, _operation_name(operation))
        try:
            self._pause(self.read_seconds)
            return self._backend(getattr(self._client, operation), request)
        finally:
            with self._lock:
                self._single_writes[item] -= 1
                if not self._single_writes[item]:
                    del self._single_writes[item]

    # ------------------------------------------------------------------------------ reads (latency only)
    def batch_get_item(self, **request: Any) -> Any:
        self._sync()
        self._pause(self.read_seconds)
        return self._backend(self._client.batch_get_item, request)

    def get_item(self, **request: Any) -> Any:
        self._sync()
        self._pause(self.read_seconds)
        return self._backend(self._client.get_item, request)

    def query(self, **request: Any) -> Any:
        self._sync()
        self._pause(self.read_seconds)
        return self._backend(self._client.query, request)

    # ------------------------------------------------------------------------------ helpers
    def in_flight(self) -> int:
        """Items held by transactions in flight now."""
        with self._lock:
            return len(self._transactions)

    def _sync(self) -> None:
        """On a virtual clock: the caller's CPU time so far passes, and every thread behind it runs
        first, so the request happens at the caller's true virtual time."""
        if self.clock is not None:
            self.clock.sleep(0.0)

    def _now(self) -> float:
        return self.clock.now() if self.clock is not None else time.perf_counter()

    def _backend(self, call: Callable[..., Any], request: dict[str, Any]) -> Any:
        """The real client's answer; its CPU time is not the application's (``VirtualClock.discount``)."""
        if self.clock is None:
            return call(**request)
        started = time.thread_time()
        try:
            return call(**request)
        finally:
            self.clock.discount(time.thread_time() - started)

    def _identity(self, table: str, item_or_key: dict[str, Any]) -> Identity:
        names = self._key_names.get(table)
        if names is None:
            schema = self._backend(self._client.describe_table, {"TableName": table})["Table"]["KeySchema"]
            names = self._key_names[table] = tuple(sorted(k["AttributeName"] for k in schema))
        return table, json.dumps({name: item_or_key[name] for name in names}, sort_keys=True)

    def _cancelled(self, operation: str, count: int, busy: list[int]) -> Exception:
        reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                   if i in busy else {"Code": "None"} for i in range(count)]
        message = ("Transaction cancelled, please refer cancellation reasons for specific reasons ["
                   + ", ".join(r["Code"] for r in reasons) + "]")
        return self._client.exceptions.TransactionCanceledException(
            {"Error": {"Code": "TransactionCanceledException", "Message": message}, "Message": message,
             "CancellationReasons": reasons, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


def _target(action: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(table, key or item) of one TransactWriteItems action (Put, Update, Delete, ConditionCheck)."""
    kind, body = next(iter(action.items()))
    return body["TableName"], body["Item"] if kind == "Put" else body["Key"]


def _operation_name(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("_"))


def hottest(stats: ConflictStats, top: int | None = 5) -> list[tuple[str, int]]:
    """The items most often written by committed transactions, as "pk|sk" and how many times (``top``
    of them; None: all)."""
    out = []
    for (_, key_json), writes in stats.item_writes.most_common(top):
        key = json.loads(key_json)
        out.append(("|".join(next(iter(key[name].values())) for name in sorted(key)), writes))
    return out
