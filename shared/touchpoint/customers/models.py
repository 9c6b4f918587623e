"""Pydantic models of the customer routes' answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ErasureResult(BaseModel):
    """``DELETE /v1/customers/{customer_id}``: what was deleted. The rollups follow through the stream."""

    customer_id: str = Field(description="The id as decoded from the path")
    status: Literal["erased", "nothing_found"] = Field(
        description="nothing_found: no record carries this id (check its spelling and encoding)")
    deleted_records: int = Field(description="Responses, ticket states and events, alerts (0 when none were left)")
    suppressed: bool = Field(default=True, description=(
        "The id is on the suppression list: later answers, imports and helpdesk events of this customer are "
        "dropped, and no survey link is minted for them, until DELETE /v1/customers/{customer_id}/suppression"))
    erased_at: str | None = Field(default=None, description="When the erasure ran (UTC)")
    archived_scorecards_rewritten: list[str] = Field(default_factory=list, description=(
        "Periods whose archived scorecard showed a comment of the customer: rewritten without it, older "
        "versions deleted"))
    link_retries_forgotten: int = Field(default=0, description=(
        "Idempotency records of POST /v1/links that held a link of the customer (a retried mint would have "
        "returned it), deleted"))


class SuppressionReleased(BaseModel):
    """``DELETE /v1/customers/{customer_id}/suppression``: the customer may be surveyed again."""

    customer_id: str
    status: Literal["released", "not_suppressed"]
