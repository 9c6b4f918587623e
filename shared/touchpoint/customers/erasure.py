"""Erasure (``DELETE /v1/customers/{customer_id}``): delete every record of a customer. The rollups
follow through the stream: each deleted record's REMOVE subtracts exactly what it had added."""

from __future__ import annotations

from touchpoint.customers.models import ErasureResult
from touchpoint.customers.store import CustomerStore


def erase_customer(store: CustomerStore, customer_id: str) -> ErasureResult:
    """Delete every record of the customer; says how many were deleted."""
    keys = store.keys_of(customer_id)
    store.delete(keys)
    return ErasureResult(customer_id=customer_id, status="erased" if keys else "nothing_found",
                         deleted_records=len(keys))
