"""DynamoDB adapter for survey responses. The only module of intake that talks to AWS; it takes its
client as a parameter so tests hand it a moto client or a fake."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from touchpoint.platform.dynamo import from_item, put_if_absent, set_fields_expression, to_item
from touchpoint.platform.table import (
    CLOSED_SURVEY_TYPE,
    CUSTOMER_INDEX,
    RESPONSE_SK,
    contact_key,
    customer_partition,
    key,
    response_key,
    solved_between,
)
from touchpoint.surveys.models import SurveyClosed

RESPONSE_FIELDS = (
    "type", "survey_id", "customer_id", "touchpoint", "family", "stage", "metric", "score", "submitted_at",
    "source", "gsi1pk", "gsi1sk", "comment", "order_id", "properties", "response_id", "s2e_ticket", "s2e_fcr",
    "suspected_bot", "bot_reason", "link_minted_at",
)


class ResponseStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def upsert(self, record: dict[str, Any]) -> bool:
        """Write a link response; a resubmission replaces the earlier answer in place. Returns True
        when the record is new. A first answer is one conditional PutItem (the common, cheap case);
        when the survey was answered before, one atomic UpdateItem replaces it, keeping
        ``first_submitted_at`` and counting ``submissions``. Concurrent submits still leave one item.
        ``SurveyClosed`` when an erasure closed the survey (its tombstone fails both writes' conditions),
        so an erased customer's old link needs no read of the suppression list."""
        if self.insert_once(record):
            return True
        # An answer without a comment keeps the comment given before (an email button carries only a
        # score); any other field the new answer lacks is removed, so the record is the new answer.
        fields = [f for f in RESPONSE_FIELDS if f != "comment" or record.get("comment") is not None]
        sets, removes, names, values = set_fields_expression(record, fields)
        names.update({"#first": "first_submitted_at", "#n": "submissions", "#kind": "type"})
        values.update({":first": values[f":f{fields.index('submitted_at')}"], ":one": {"N": "1"},
                       ":response": {"S": "response"}})
        sets.append("#first = if_not_exists(#first, :first)")
        expression = "SET " + ", ".join(sets) + " ADD #n :one"
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key(response_key(record["survey_id"])["pk"], RESPONSE_SK),
                UpdateExpression=expression,
                # Only an answer is replaced: a tombstone, or nothing (erased since our Put), stays so.
                ConditionExpression="#kind = :response",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            raise SurveyClosed(record["survey_id"]) from None
        return False

    def answer(self, survey_id: str) -> dict[str, Any] | None:
        """The survey's current answer (score, comment, submitted_at), or None before the first one;
        ``SurveyClosed`` when an erasure closed it."""
        item = self._client.get_item(TableName=self._table, Key=key(response_key(survey_id)["pk"], RESPONSE_SK),
                                     ProjectionExpression="score, #comment, submitted_at, #kind",
                                     ExpressionAttributeNames={"#comment": "comment", "#kind": "type"}).get("Item")
        if not item:
            return None
        found = from_item(item)
        if found.pop("type", None) == CLOSED_SURVEY_TYPE:
            raise SurveyClosed(survey_id)
        return found

    def insert_once(self, record: dict[str, Any]) -> bool:
        """Write an imported response unless its survey id exists already (first import wins).
        Returns True when written."""
        item = {**response_key(record["survey_id"]), **record,
                "first_submitted_at": record["submitted_at"], "submissions": 1}
        return put_if_absent(self._client, self._table, to_item(item))

    def latest_solved_ticket(self, customer_id: str, since: datetime, until: datetime) -> dict[str, Any] | None:
        """The customer's ticket solved last between ``since`` and ``until`` (its pk, status, solved_at,
        fcr), or None: one entry of the ByCustomer index, read newest first, whatever their history."""
        low, high = solved_between(since, until)
        found = self._client.query(
            TableName=self._table, IndexName=CUSTOMER_INDEX,
            KeyConditionExpression="gsi1pk = :c AND gsi1sk BETWEEN :low AND :high",
            ExpressionAttributeValues={":c": {"S": customer_partition(customer_id)}, ":low": {"S": low},
                                       ":high": {"S": high}},
            ScanIndexForward=False, Limit=1,
        ).get("Items") or []
        return from_item(found[0]) if found else None


class ContactStore:
    """The customer's one contact item (``surveys.contact``): read it, then write the next state of it
    only if nobody else wrote since, so two concurrent mints for one customer cannot both pass."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def contact(self, customer_id: str) -> dict[str, Any] | None:
        keys = contact_key(customer_id)
        item = self._client.get_item(TableName=self._table, Key=key(keys["pk"], keys["sk"]),
                                     ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def replace(self, record: dict[str, Any], read_version: int) -> bool:
        """Write the contact item if it is still at ``read_version`` (0: absent). False when another
        mint or hold-back got there first: read again and decide again."""
        condition = "attribute_not_exists(pk)" if read_version == 0 else "version = :v"
        extra = {"ExpressionAttributeValues": {":v": {"N": str(read_version)}}} if read_version else {}
        item = {**record, **contact_key(record["customer_id"]), "type": "contact", "version": read_version + 1}
        try:
            self._client.put_item(TableName=self._table, Item=to_item(item), ConditionExpression=condition, **extra)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
