"""EventBridge adapter: publishes Touchpoint's domain events (``TicketSolved``, ``DetractorReceived``)."""

from __future__ import annotations

import json
from typing import Any

EVENT_SOURCE = "touchpoint"


class PublishError(RuntimeError):
    pass


class EventBridgePublisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        result = self._client.put_events(Entries=[{
            "Source": EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":")),
            "EventBusName": self._bus,
        }])
        if result.get("FailedEntryCount"):
            raise PublishError(f"EventBridge refused {detail_type}: {result['Entries']}")
