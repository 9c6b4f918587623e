"""Pydantic models of the ticket routes' answers (the canonical event a helpdesk sends is
``tickets.events.TicketEvent``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from touchpoint.tickets.events import Channel


class TicketTouched(BaseModel):
    provider: str
    ticket_id: str
    status: Literal["open", "solved", "closed"]


class WebhookReceipt(BaseModel):
    """``POST /webhooks/{provider}``: 202 when the delivery changed something, 200 when every event
    in it was seen before (a helpdesk's retry) or it carried nothing to record."""

    applied: int = Field(description="Events stored for the first time")
    duplicates: int = Field(description="Events already stored (redeliveries)")
    suppressed: int = Field(default=0, description="Events of erased customers, dropped (nothing written or sent)")
    stale: int = Field(default=0, description=(
        "Events older than WebhookMaxEventAgeDays from a helpdesk that signs no timestamp, dropped"))
    tickets: list[TicketTouched]

    @property
    def status_code(self) -> int:
        return 202 if self.applied else 200


class TicketView(BaseModel):
    """``GET /v1/tickets/{provider}/{ticket_id}``: the ticket folded from every distinct event."""

    provider: str
    ticket_id: str
    customer_id: str
    channel: Channel
    touchpoint: str | None
    status: Literal["open", "solved", "closed"]
    created_at: str = Field(description="ISO 8601 UTC")
    first_agent_reply_at: str | None
    solved_at: str | None = Field(description="Latest solve (a close without a solve counts as one)")
    agent_replies: int
    reopens: int
    handle_seconds: int | None = Field(description="Sum over the events that report it")
    fcr: bool | None = Field(description="Solved with at most one agent reply and no reopen; null while open")
