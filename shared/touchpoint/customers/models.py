"""Pydantic models of the customer routes' answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErasureResult(BaseModel):
    """``DELETE /v1/customers/{customer_id}``: what was deleted. The rollups follow through the stream."""

    customer_id: str
    deleted_records: int = Field(description="Responses, ticket states and events, alerts (0 when none were left)")
