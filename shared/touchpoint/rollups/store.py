"""The rollups' DynamoDB adapter: reads customers' activity items and stream delivery markers, commits
one planned chunk as one TransactWriteItems, keeps the detractor-alert outbox marks, scans the raw
records for a rebuild and writes a repair's recomputed rollups."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from touchpoint.platform.dynamo import from_item, scan_all, to_attribute, to_item
from touchpoint.platform.pseudonyms import Pseudonyms
from touchpoint.platform.table import ACTIVITY_SK, activity_key, delivery_key, key
from touchpoint.rollups.plan import ActivityItem, ChunkPlan, DeliveryMarker

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
ERASED_ACTIVITY_TTL_SECONDS = 3 * 86400  # an erased customer's empty activity item: TTL removes it
# A delivery marker (and an earlier version's checkpoints) only has to outlive the stream's 24-hour
# retention: no record older than that can be delivered again.
RETRY_HORIZON_SECONDS = 2 * 86400


class TransactionConflict(RuntimeError):
    """DynamoDB cancelled a chunk's transaction. ``stale``: an activity item or the delivery's marker
    changed since it was read (ConditionalCheckFailed: read again and plan again); otherwise another
    transaction was writing one of the same items (TransactionConflict). Either way the aggregator reads
    and plans again, up to MAX_CONFLICT_RETRIES times."""

    def __init__(self, reasons: list[str | None]) -> None:
        super().__init__(str(reasons))
        self.stale = "ConditionalCheckFailed" in reasons


class RollupStore:
    """Reads and writes the aggregator's items through one DynamoDB client. ``pseudonyms`` names the
    customers' activity items; reading a table (a rebuild's drift check) needs none."""

    def __init__(self, client: Any, table_name: str, *, pseudonyms: Pseudonyms | None = None,
                 now_epoch: Any = None) -> None:
        self._client = client
        self._table = table_name
        self._pseudonyms = pseudonyms
        self._now = now_epoch or time.time
        self.transactions = 0  # for tests and benchmarks: how many TransactWriteItems calls landed

    def activity_pk(self, customer_id: str) -> str:
        if self._pseudonyms is None:
            raise RuntimeError("customers' activity items are named by their pseudonyms: give RollupStore the "
                               "pseudonym key")
        return activity_key(self._pseudonyms.of(customer_id))[0]

    def read_activity(self, customer_ids: Iterable[str]) -> dict[str, ActivityItem]:
        wanted = sorted(set(customer_ids))
        found: dict[str, Mapping[str, Any]] = {}
        pk_of = {c: self.activity_pk(c) for c in wanted}
        by_key = {pk: c for c, pk in pk_of.items()}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            keys = [key(pk_of[c], ACTIVITY_SK) for c in wanted[start:start + BATCH_GET_LIMIT]]
            request = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                page = self._client.batch_get_item(RequestItems=request)
                for item in page["Responses"].get(self._table, []):
                    record = from_item(item)
                    found[by_key[record["pk"]]] = record
                request = page.get("UnprocessedKeys") or {}
        return {c: ActivityItem.from_record(c, found.get(c)) for c in wanted}

    def read_delivery(self, first_event_id: str) -> DeliveryMarker:
        """What the delivery that starts with ``first_event_id`` has applied (nothing, the first time)."""
        item = self._client.get_item(TableName=self._table, Key=delivery_key(first_event_id),
                                     ConsistentRead=True).get("Item")
        if not item:
            return DeliveryMarker(first_event_id)
        record = from_item(item)
        return DeliveryMarker(first_event_id, frozenset(record.get("applied") or ()), int(record.get("version") or 0))

    def hand_over(self, resume_event_id: str, sequences: Iterable[str]) -> None:
        """Tell the retry that starts at ``resume_event_id`` (a record a failure is reported at) which of
        its sequences were applied already. A set union: writing it twice changes nothing."""
        applied = sorted(set(sequences))
        if not applied:
            return
        self._client.update_item(
            TableName=self._table, Key=delivery_key(resume_event_id),
            UpdateExpression="ADD applied :s, version :one SET #type = :delivery, expires_at = :e",
            ExpressionAttributeNames={"#type": "type"},
            ExpressionAttributeValues={":s": {"SS": applied}, ":one": {"N": "1"}, ":delivery": {"S": "delivery"},
                                       ":e": {"N": str(int(self._now()) + RETRY_HORIZON_SECONDS)}})

    def commit(self, plan: ChunkPlan) -> None:
        """Write one planned chunk in one transaction; ``TransactionConflict`` when an activity item
        changed since it was read (the caller re-reads and plans again)."""
        if not plan.effective:
            return  # every change was applied before: nothing to write
        actions: list[dict[str, Any]] = []
        for (pk, sk), counters in sorted(plan.counter_items().items()):
            names = {f"#c{i}": name for i, name in enumerate(counters)}
            values = {f":c{i}": {"N": str(value)} for i, value in enumerate(counters.values())}
            actions.append({"Update": {
                "TableName": self._table, "Key": key(pk, sk),
                "UpdateExpression": "SET #type = :rollup ADD " + ", ".join(f"{n} {v}" for n, v in zip(
                    names, values, strict=True)),
                "ExpressionAttributeNames": {**names, "#type": "type"},
                "ExpressionAttributeValues": {**values, ":rollup": {"S": "rollup"}},
            }})
        now = int(self._now())
        for customer_id, after in sorted(plan.changed_customers().items()):
            pk, sk = self.activity_pk(customer_id), ACTIVITY_SK
            item: dict[str, Any] = {"pk": pk, "sk": sk, "type": "activity",
                                    "periods": {p: n for p, n in after.periods.items() if n},
                                    "version": after.version + 1}
            if after.legacy_applied:
                until = after.legacy_until or now + RETRY_HORIZON_SECONDS
                if now < until:  # an earlier version's checkpoints, kept until no record they name can come again
                    item.update(applied=after.legacy_applied, legacy_until=until)
            if not any(after.periods.values()):
                item["expires_at"] = now + ERASED_ACTIVITY_TTL_SECONDS  # nothing of the customer is left (erased)
            actions.append(self._guarded_put(item, after.version))
        marker = plan.marker
        actions.append(self._guarded_put(
            {**from_item(delivery_key(marker.event_id)), "type": "delivery",
             "applied": set(marker.applied) | set(plan.applied), "expires_at": now + RETRY_HORIZON_SECONDS,
             "version": marker.version + 1}, marker.version))
        for alert in plan.alerts.values():
            actions.append({"Put": {"TableName": self._table, "Item": to_item(alert)}})
        for pk, sk in sorted(plan.withdrawn):
            actions.append({"Delete": {"TableName": self._table, "Key": key(pk, sk)}})
        try:
            self._client.transact_write_items(TransactItems=actions)
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                raise TransactionConflict(reasons) from exc
            raise
        self.transactions += 1

    def _guarded_put(self, item: dict[str, Any], version_read: int) -> dict[str, Any]:
        """A transaction's Put of an item that must still be as read (``version``), or still absent."""
        put: dict[str, Any] = {"TableName": self._table, "Item": to_item(item),
                               "ConditionExpression": "version = :v" if version_read else "attribute_not_exists(pk)"}
        if version_read:
            put["ExpressionAttributeValues"] = {":v": {"N": str(version_read)}}
        return {"Put": put}

    # ----------------------------------------------------------------------------- alert outbox
    def alert_unpublished(self, pk: str, sk: str) -> bool:
        """True while the alert item exists and carries no ``published_at`` (not erased, not sent)."""
        item = self._client.get_item(TableName=self._table, Key=key(pk, sk), ConsistentRead=True).get("Item")
        return bool(item) and "published_at" not in item

    def mark_alert_published(self, pk: str, sk: str) -> None:
        # An alert erased in the meantime has nothing left to mark.
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self._table, Key=key(pk, sk),
                UpdateExpression="SET published_at = :t", ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":t": {"N": str(int(self._now()))}},
            )

    # ----------------------------------------------------------------------------- rebuild
    def all_items(self) -> Iterator[dict[str, Any]]:
        """Every item of the table as plain values (a maintenance job, never a request path)."""
        for item in scan_all(self._client, TableName=self._table):
            yield from_item(item)

    def replace_rollups(self, wanted: Mapping[tuple[str, str], Mapping[str, int]],
                        stale: Iterable[tuple[str, str]]) -> int:
        """Write every rollup item of ``wanted`` whole (counters as given) and delete the ``stale``
        ones; returns how many items were written or deleted. A repair, not a request path."""
        requests: list[dict[str, Any]] = [
            {"PutRequest": {"Item": to_item({"pk": pk, "sk": sk, "type": "rollup", **counters})}}
            for (pk, sk), counters in sorted(wanted.items())]
        requests += [{"DeleteRequest": {"Key": key(pk, sk)}} for pk, sk in sorted(set(stale) - set(wanted))]
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            pending = {self._table: requests[start:start + BATCH_WRITE_LIMIT]}
            while pending:
                pending = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        return len(requests)

    def set_index_sort_key(self, pk: str, sk: str, gsi1sk: str) -> None:
        """Move an item within the ByCustomer index (a repair of keys an earlier version wrote)."""
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):  # erased meanwhile
            self._client.update_item(TableName=self._table, Key=key(pk, sk), UpdateExpression="SET gsi1sk = :k",
                                     ConditionExpression="attribute_exists(pk)",
                                     ExpressionAttributeValues={":k": {"S": gsi1sk}})

    def replace_activity_periods(self, activity_pk: str, periods: Mapping[str, int], version: int) -> None:
        """Set one customer's per-period record counts (recomputed for a new reporting time zone),
        guarded by the version read, so a concurrent aggregator write makes this fail, not vanish."""
        self._client.update_item(
            TableName=self._table, Key=key(activity_pk, ACTIVITY_SK),
            UpdateExpression="SET periods = :p, version = :next", ConditionExpression="version = :v",
            ExpressionAttributeValues={":p": to_attribute(dict(periods)), ":v": {"N": str(version)},
                                       ":next": {"N": str(version + 1)}})
