"""DynamoDB adapter for helpdesk tickets: each distinct event is its own item (its key is the
provider's event id, so a redelivery cannot write twice), and the ticket's state item is the fold of
all of them, written only by a writer that folded at least as many events as the one before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from touchpoint.platform.dynamo import from_item, put_if_absent, query_all, set_fields_expression, to_item
from touchpoint.platform.table import (
    TICKET_EVENT_PREFIX,
    TICKET_STATE_SK,
    key,
    ticket_event_index_key,
    ticket_event_key,
    ticket_index_key,
    ticket_partition,
)
from touchpoint.tickets import TicketEvent, TicketState

STATE_FIELDS = (
    "type", "provider", "ticket_id", "customer_id", "channel", "touchpoint", "status", "created_at",
    "first_agent_reply_at", "solved_at", "agent_replies", "reopens", "handle_seconds", "fcr", "event_count",
    "gsi1pk", "gsi1sk",
)


def state_record(state: TicketState, event_count: int) -> dict[str, Any]:
    return {
        "type": "ticket",
        **state.to_public(),
        "event_count": event_count,
        **ticket_index_key(state.customer_id, state.provider, state.ticket_id, state.status, state.solved_at),
    }


class TicketStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def add_event(self, event: TicketEvent, received_at: str | None = None) -> bool:
        """Store one canonical event unless its id is stored already. True when new. ``received_at``
        (ISO 8601) orders deliveries, for bodies that carry no identity of their own."""
        record = {
            **ticket_event_key(event.provider, event.ticket_id, event.event_id),
            "type": "ticket_event",
            "event": event.model_dump(mode="json"),
            "customer_id": event.customer_id,
            "received_at": received_at,
            **ticket_event_index_key(event.customer_id, event.provider, event.ticket_id, event.event_id),
        }
        return put_if_absent(self._client, self._table, to_item(record))

    def events(self, provider: str, ticket_id: str) -> list[TicketEvent]:
        """Every stored event of a ticket, read strongly consistent so a writer sees its own event."""
        return [TicketEvent.model_validate(from_item(item)["event"]) for item in self._event_items(provider, ticket_id)]

    def receipts(self, provider: str, ticket_id: str) -> list[tuple[str, str]]:
        """(received_at, event_id) of every stored event of the ticket, in the order received (events
        stored before receipts were kept sort first). Reads keys and times only."""
        return sorted((item.get("received_at", {}).get("S", ""), item["sk"]["S"].removeprefix(TICKET_EVENT_PREFIX))
                      for item in self._event_items(provider, ticket_id, ProjectionExpression="sk, received_at"))

    def _event_items(self, provider: str, ticket_id: str, **projection: str) -> Iterator[dict[str, Any]]:
        return query_all(self._client, TableName=self._table, ConsistentRead=True,
                         KeyConditionExpression="pk = :pk AND begins_with(sk, :evt)",
                         ExpressionAttributeValues={":pk": {"S": ticket_partition(provider, ticket_id)},
                                                    ":evt": {"S": TICKET_EVENT_PREFIX}}, **projection)

    def save_state(self, state: TicketState, event_count: int) -> dict[str, Any] | None:
        """Write the state folded from ``event_count`` events, unless a state folded from more events
        is stored already (a concurrent writer saw more). Event sets only grow, so two folds of the
        same count are folds of the same events. Returns the previous state record, or None when
        this write lost (and changed nothing)."""
        record = state_record(state, event_count)
        sets, removes, names, values = set_fields_expression(record, STATE_FIELDS)
        values[":n"] = {"N": str(event_count)}
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            result = self._client.update_item(
                TableName=self._table,
                Key=key(ticket_partition(state.provider, state.ticket_id), TICKET_STATE_SK),
                UpdateExpression=expression,
                ConditionExpression=f"attribute_not_exists(pk) OR #f{STATE_FIELDS.index('event_count')} <= :n",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return from_item(result.get("Attributes", {}))

    def state(self, provider: str, ticket_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table,
                                     Key=key(ticket_partition(provider, ticket_id), TICKET_STATE_SK),
                                     ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def mark_survey_published(self, provider: str, ticket_id: str, solved_at: str) -> None:
        """Remember which solve the support CSAT survey went out for (the outbox marker)."""
        self._client.update_item(
            TableName=self._table,
            Key=key(ticket_partition(provider, ticket_id), TICKET_STATE_SK),
            UpdateExpression="SET survey_published_for = :s",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":s": {"S": solved_at}},
        )
