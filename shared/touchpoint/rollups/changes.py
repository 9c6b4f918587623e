"""Stream records as changes: what the aggregator reads from the FeedbackTable stream, and which
records of a batch may apply when others in it could not be read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from touchpoint.platform.dynamo import plain_value

MEASURED_TYPES = ("response", "ticket", "contact")  # contact: links minted and held back


@dataclass(frozen=True)
class StreamChange:
    """One stream record, images as plain Python values."""

    event_id: str
    sequence: str
    event_name: str
    pk: str
    sk: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None

    @property
    def source(self) -> str:
        return f"{self.pk}|{self.sk}"

    @property
    def measured(self) -> bool:
        return any(image and image.get("type") in MEASURED_TYPES for image in (self.old, self.new))

    @property
    def owner(self) -> str | None:
        """The customer the record belongs to (their activity item counts it per period)."""
        for image in (self.new, self.old):
            if image and image.get("customer_id"):
                return str(image["customer_id"])
        return None


def change_from_record(record: Any) -> StreamChange:
    """From Powertools' parsed ``DynamoDBStreamRecordModel``."""
    data = record.dynamodb
    keys = plain_value(data.Keys)
    return StreamChange(
        event_id=record.eventID,
        sequence=data.SequenceNumber,
        event_name=record.eventName,
        pk=str(keys.get("pk", "")),
        sk=str(keys.get("sk", "")),
        old=plain_value(data.OldImage) if data.OldImage else None,
        new=plain_value(data.NewImage) if data.NewImage else None,
    )


def sequence_key(sequence: str) -> tuple[int, str]:
    """Stream sequence numbers are decimal strings of varying length: compare them as numbers."""
    return len(sequence), sequence


def without_changes_blocked_by(failed_records: list[Mapping[str, Any]],
                               changes: list[StreamChange]) -> list[StreamChange]:
    """The changes that may apply although ``failed_records`` (raw stream records) could not be read:
    all but the later changes of the same items. A failed record whose keys cannot be read either
    blocks every change after it."""
    blocked: dict[str, tuple[int, str]] = {}
    cutoff: tuple[int, str] | None = None
    for record in failed_records:
        data = record.get("dynamodb") if isinstance(record, Mapping) else None
        sequence = str((data or {}).get("SequenceNumber", "")) if isinstance(data, Mapping) else ""
        if not sequence:
            continue  # Powertools could not report it either; nothing to order against
        keys = data.get("Keys") if isinstance(data, Mapping) else None
        try:
            source = f"{keys['pk']['S']}|{keys['sk']['S']}"  # type: ignore[index]
        except (KeyError, TypeError):
            cutoff = min(cutoff or sequence_key(sequence), sequence_key(sequence))
            continue
        blocked[source] = min(blocked.get(source, sequence_key(sequence)), sequence_key(sequence))
    return [c for c in changes
            if (cutoff is None or sequence_key(c.sequence) < cutoff)
            and not (c.source in blocked and sequence_key(c.sequence) > blocked[c.source])]




@dataclass(frozen=True)
class Delivery:
    """One invocation's batch as Lambda handed it over: the event id of each record by sequence number,
    the first record's naming the delivery's marker."""

    first_event_id: str
    event_ids: Mapping[str, str]

    @classmethod
    def of(cls, changes: list[StreamChange]) -> Delivery:
        """A delivery of exactly these changes (tests, tools and benchmarks that call ``apply`` directly)."""
        return cls(changes[0].event_id if changes else "", {c.sequence: c.event_id for c in changes})


def delivery_of(event: Mapping[str, Any]) -> Delivery:
    """The ``Delivery`` of a Lambda stream event, read from the raw records so a record that cannot be
    parsed still has its event id (a failure reported at it names its marker)."""
    event_ids: dict[str, str] = {}
    first = ""
    for index, record in enumerate(event.get("Records") or []):
        data = record.get("dynamodb") if isinstance(record, Mapping) else None
        event_id = str(record.get("eventID") or "") if isinstance(record, Mapping) else ""
        sequence = str(data.get("SequenceNumber") or "") if isinstance(data, Mapping) else ""
        if index == 0:
            first = event_id or sequence
        if sequence:
            event_ids[sequence] = event_id or sequence
    return Delivery(first, event_ids)


def new_alerts(changes: Iterable[StreamChange]) -> list[StreamChange]:
    return [c for c in changes if c.event_name == "INSERT" and c.new and c.new.get("type") == "alert"]
