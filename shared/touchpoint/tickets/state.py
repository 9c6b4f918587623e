"""A ticket's normalised state: a fold over its distinct events (docs/reference.md#the-normalized-ticket).

Helpdesks retry deliveries and deliver out of order, so the fold is built to give the same state for
any order and any duplication of the same events:

* Events are deduplicated by ``event_id``. When two events share an id but differ (a sender bug),
  the one that sorts first by (time, kind, JSON) is kept, which does not depend on arrival order.
* Events are then ordered by ``occurred_at``; ties on the same instant are broken by kind, in the
  order a ticket naturally moves within one update — created, customer_replied, agent_replied,
  reopened, solved, closed ("reply and solve" in one click is a reply followed by a solve) — and
  then by ``event_id``.

Field rules:

* ``created_at``: the earliest ``created`` event; a ticket whose created event has not arrived (or
  never will, e.g. it predates the webhook) uses its earliest event of any kind.
* ``first_agent_reply_at``: the earliest ``agent_replied``; ``agent_replies`` counts distinct events.
* ``reopens``: the reopens of a solved or closed ticket. A ``reopened`` event counts when the ticket
  stood solved or closed at that moment, so one reopen reported twice (Help Scout's customer reply
  and its status change, Chatwoot's two status deliveries, Intercom's reply into a closed
  conversation and a teammate's manual reopen) counts once, and a "reopen" of a ticket that was
  never solved (Help Scout pending -> active) counts not at all.
* ``solved_at``: the latest ``solved`` event; with no solved event at all, the latest ``closed``.
* ``handle_seconds``: the sum over events that carry it; ``None`` when none does, so AHT (docs/reference.md#metrics:
  "over solved tickets that report it") can leave the ticket out instead of counting a zero.
* ``status``: ``open`` until a status-changing event (reopened -> open, solved -> solved,
  closed -> closed); the latest such event decides. Replies never change the status, and a
  ``created`` event only confirms the initial ``open`` (a late-stamped created event must not
  reopen a solved ticket).
* ``fcr``: ``None`` while the ticket is not solved or closed; otherwise True when it took at most
  one agent reply and no reopen.
* ``customer_id`` and ``channel`` describe how the ticket came in: the earliest event's customer,
  and the earliest event whose channel is known (not ``other``). ``touchpoint`` follows triage:
  the latest event that names one (agents retag tickets), else ``default_touchpoint``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from touchpoint.metrics import SOLVED_STATUSES, is_first_contact_resolution
from touchpoint.tickets.events import TicketEvent, iso_utc

TicketStatus = Literal["open", "solved", "closed"]

_KIND_ORDER = {"created": 0, "customer_replied": 1, "agent_replied": 2, "reopened": 3, "solved": 4,
               "closed": 5}
_STATUS_AFTER: dict[str, TicketStatus] = {"reopened": "open", "solved": "solved", "closed": "closed"}


@dataclass(frozen=True)
class TicketState:
    """The normalised ticket of ``GET /v1/tickets/{provider}/{ticket_id}``."""

    provider: str
    ticket_id: str
    customer_id: str
    channel: str
    touchpoint: str | None
    status: TicketStatus
    created_at: datetime
    first_agent_reply_at: datetime | None
    solved_at: datetime | None
    agent_replies: int
    reopens: int
    handle_seconds: int | None
    fcr: bool | None

    @property
    def is_solved(self) -> bool:
        """In the solved cohort (docs/reference.md#metrics) (solved or closed)."""
        return self.status in SOLVED_STATUSES

    def to_public(self) -> dict[str, Any]:
        """The ticket view's JSON (docs/reference.md#the-normalized-ticket), timestamps as ISO 8601 UTC with a ``Z``."""
        return {
            "provider": self.provider,
            "ticket_id": self.ticket_id,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "touchpoint": self.touchpoint,
            "status": self.status,
            "created_at": iso_utc(self.created_at),
            "first_agent_reply_at": _iso_or_none(self.first_agent_reply_at),
            "solved_at": _iso_or_none(self.solved_at),
            "agent_replies": self.agent_replies,
            "reopens": self.reopens,
            "handle_seconds": self.handle_seconds,
            "fcr": self.fcr,
        }


def chronological_key(event: TicketEvent) -> tuple[datetime, int, str]:
    """The total order the fold applies events in (see the module docstring)."""
    return event.occurred_at, _KIND_ORDER[event.event], event.event_id


def distinct_events(events: Iterable[TicketEvent]) -> list[TicketEvent]:
    """One event per ``event_id``, chosen independently of arrival order, in chronological order."""
    chosen: dict[str, tuple[tuple[datetime, int, str], str, TicketEvent]] = {}
    for event in events:
        candidate = (chronological_key(event), event.model_dump_json(), event)
        current = chosen.get(event.event_id)
        if current is None or candidate[:2] < current[:2]:
            chosen[event.event_id] = candidate
    return [event for _key, _json, event in sorted(chosen.values(), key=lambda item: item[:2])]


def fold(events: Iterable[TicketEvent], *, default_touchpoint: str | None = None) -> TicketState:
    """The state of one ticket from its events, in any order and with any duplicates.

    Raises ValueError when there are no events or they belong to more than one ticket: both are
    caller bugs, not client input.
    """
    ordered = distinct_events(events)
    if not ordered:
        raise ValueError("a ticket state needs at least one event")
    tickets = {(event.provider, event.ticket_id) for event in ordered}
    if len(tickets) != 1:
        raise ValueError(f"events of several tickets folded together: {sorted(tickets)}")
    first = ordered[0]

    def times_of(kind: str) -> list[datetime]:
        return [event.occurred_at for event in ordered if event.event == kind]

    created, agent_replies = times_of("created"), times_of("agent_replied")
    solves, closes = times_of("solved"), times_of("closed")
    status_changes = [event for event in ordered if event.event in _STATUS_AFTER]
    status: TicketStatus = _STATUS_AFTER[status_changes[-1].event] if status_changes else "open"
    solved_at = max(solves) if solves else (max(closes) if closes else None)
    reopens = _reopens_of_solved(status_changes)
    reported = [event.handle_seconds for event in ordered if event.handle_seconds is not None]
    known_channels = [event.channel for event in ordered if event.channel != "other"]
    touchpoints = [event.touchpoint for event in ordered if event.touchpoint is not None]
    solved = status in SOLVED_STATUSES

    return TicketState(
        provider=first.provider,
        ticket_id=first.ticket_id,
        customer_id=first.customer_id,
        channel=known_channels[0] if known_channels else "other",
        touchpoint=touchpoints[-1] if touchpoints else default_touchpoint,
        status=status,
        created_at=min(created) if created else first.occurred_at,
        first_agent_reply_at=min(agent_replies) if agent_replies else None,
        solved_at=solved_at,
        agent_replies=len(agent_replies),
        reopens=reopens,
        handle_seconds=sum(reported) if reported else None,
        fcr=is_first_contact_resolution(len(agent_replies), reopens) if solved else None,
    )


def _reopens_of_solved(status_changes: list[TicketEvent]) -> int:
    """Reopened events that found the ticket solved or closed, in chronological order."""
    count, standing = 0, "open"
    for event in status_changes:
        if event.event == "reopened" and standing in SOLVED_STATUSES:
            count += 1
        standing = _STATUS_AFTER[event.event]
    return count


def _iso_or_none(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment is not None else None
