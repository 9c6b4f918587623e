"""Erasure (``DELETE /v1/customers/{customer_id}``): delete every record of a customer, put them on
the suppression list so that nothing of theirs comes back (a helpdesk's late retry, a re-import, an
answer through an old link), and tell the shop's other systems (``CustomerErased``). The rollups
follow through the stream: each deleted record's REMOVE subtracts exactly what it had added."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from touchpoint.customers.models import ErasureResult, SuppressionReleased
from touchpoint.customers.store import CustomerStore, SuppressionStore

CUSTOMER_ERASED = "CustomerErased"


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


def erase_customer(store: CustomerStore, suppressions: SuppressionStore, publisher: EventPublisher,
                   customer_id: str, now: datetime) -> ErasureResult:
    """Delete every record of the customer, suppress the id, publish ``CustomerErased``. Safe to retry:
    each step is idempotent, and the suppression is written before the deletes so that nothing
    arriving meanwhile slips in behind them."""
    erased_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    keys = store.keys_of(customer_id)
    suppressions.suppress(customer_id, erased_at, len(keys))
    store.delete(keys)
    publisher.publish(CUSTOMER_ERASED, {"customer_id": customer_id, "erased_at": erased_at, "records": len(keys)})
    return ErasureResult(customer_id=customer_id, status="erased" if keys else "nothing_found",
                         deleted_records=len(keys), suppressed=True, erased_at=erased_at)


def release_customer(suppressions: SuppressionStore, customer_id: str) -> SuppressionReleased:
    """``DELETE /v1/customers/{customer_id}/suppression``: a customer who came back of their own will
    (signed up again, asked to hear from you) may be surveyed and counted again from now on."""
    released = suppressions.release(customer_id)
    return SuppressionReleased(customer_id=customer_id, status="released" if released else "not_suppressed")
