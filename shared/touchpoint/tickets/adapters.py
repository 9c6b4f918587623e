"""Helpdesk webhook bodies -> canonical ticket events (docs/reference.md).

``parse_webhook(provider, headers, raw_body, catalog, *, received_at=None)`` returns the events a
delivery carries: usually one, none for topics that do not concern ticket metrics (the caller then
answers 2xx without writing), several only for a generic batch. It is pure: the signature is
checked beforehand by ``signatures.verify_signature``, and nothing here touches AWS.

Errors: a body that is not JSON raises ``ApiError(400, "invalid_json")``; JSON of the wrong shape
(no ticket id, no customer, unknown event kind, a bad timestamp) raises ``ApiError(422,
"invalid_ticket_event", field=<where in the body>)``; an unknown provider raises ``ApiError(422,
"unknown_provider")``; a generic event naming a touchpoint the catalog lacks raises ``ApiError(422,
"unknown_touchpoint")``. Nothing else escapes, whatever the body.

Shared mapping rules:

* customer_id: the requester's external id (the shop's own id) when the payload has one, else the
  requester's email lowercased, else — only when the helpdesk sends neither — a namespaced helpdesk
  user id such as ``zendesk:user:20978392``, so that tickets still group by customer.
* touchpoint: ``catalog.touchpoint_for_ticket(tags, category)`` whenever the payload carries tags or
  a category (even empty ones: then the catalog default); ``None`` when it carries neither, so the
  fold takes the touchpoint from an event that knows.
* event_id: the helpdesk's own id for the delivery or for the thing that happened — Zendesk and
  Intercom event ids, ``message:<id>`` for Chatwoot messages, ``thread:<id>`` for Help Scout
  replies, ``convo.created:<id>`` / ``conversation_created:<id>`` for creations (one per ticket) —
  else ``sha256:<hex>`` of the provider, the event kind and the canonical JSON of the body
  (sorted keys, no whitespace), which is identical on every retry of the same delivery.
* times: ISO 8601 (any fraction, ``Z`` or offset, a trailing `` UTC``) or unix seconds; a helpdesk
  time without a zone is read as UTC. Helpdesks differ on "closed": Intercom "closed", Help Scout
  "closed" and Chatwoot "resolved" can be reopened and therefore map to ``solved``; ``closed`` is
  kept for final, archived states (Zendesk and Freshdesk "Closed").

Provider notes
--------------

zendesk — two body formats on the same route:

1. Event subscriptions (``{"type": "zen:event-type:ticket.…", "id", "time", "detail", "event"}``):
   ``ticket.created`` -> created; ``ticket.comment_added`` -> agent_replied when
   ``event.comment.author.is_staff`` and the author is not the requester, else customer_replied
   (private comments and the description — a comment dated with the ticket's creation — are
   ignored);
   ``ticket.status_changed`` -> solved / closed on SOLVED / CLOSED, reopened when leaving SOLVED or
   CLOSED; everything else -> no event. These payloads carry only ``detail.requester_id``, so the
   customer is ``zendesk:user:<requester_id>``: use the trigger body below when tickets must join
   survey responses by the shop's customer id.

2. The Touchpoint trigger body: create one trigger per event kind ("Ticket is Created",
   "Comment is Public and current user is agent", "Status changed to Solved", …) with the action
   "Notify active webhook" and this JSON body, changing only the ``event`` literal::

       {
         "event": "agent_replied",
         "ticket_id": "{{ticket.id}}",
         "requester_external_id": "{{ticket.requester.external_id}}",
         "requester_email": "{{ticket.requester.email}}",
         "via": "{{ticket.via}}",
         "tags": "{{ticket.tags}}",
         "category": "{{ticket.ticket_type}}",
         "updated_at": "{{ticket.updated_at_with_timestamp}}"
       }

   ``event`` is one of created, agent_replied, customer_replied, solved, reopened, closed. Optional
   fields: ``event_id`` (else a content hash), ``handle_seconds`` (whole seconds, e.g. from a
   time-tracking field ``{{ticket.ticket_field_<id>}}``; empty means not reported) and
   ``occurred_at`` (used instead of ``updated_at``). ``tags`` may be Zendesk's space-separated
   string or a JSON list; ``category`` may be any placeholder the catalog maps (ticket type, a
   custom field).

intercom — webhook notifications ``{"type": "notification_event", "topic", "id", "created_at",
"data": {"item": <conversation>}}``: conversation.user.created and conversation.admin.single.created
-> created, conversation.user.replied -> customer_replied, conversation.admin.replied ->
agent_replied, conversation.admin.closed -> solved, conversation.admin.opened -> reopened; other
topics (notes, assignments, snoozes, contacts, ping) -> no event. A customer's reply into a closed
conversation reopens it and Intercom sends only conversation.user.replied: a reply newer than
``statistics.last_close_at`` also yields reopened. Each reopen is named after the close it undoes
(``reopen:<conversation>:<last_close_at>``), so the reply and a teammate's manual reopen of the same
close are one event. Channel from ``source.type``, tags from ``tags.tags[].name``, time from the new
conversation part.

helpscout — the event name comes in the ``X-HelpScout-Event`` header and the body is the v2
conversation. The signature covers the body only, so the header is cross-checked against it: a
reply event whose body's newest customer or teammate thread is of the other kind yields nothing
(one signed body replayed under other event names adds no reply); the ids below make a replay under
convo.created or convo.status a duplicate of what the body already said. convo.created -> created,
convo.agent.reply.created -> agent_replied,
convo.customer.reply.created -> customer_replied (and reopened when the conversation is active again
after its ``closedAt``: a customer's reply reopens it), convo.status -> solved when ``closed``,
reopened when ``active`` (whether or not ``closedAt`` is still there; the fold counts it only when the
conversation stood closed, so pending -> active is no reopen); other events -> no event. Reply times
and ids come from the newest matching thread; a reopen is dated by the latest activity.

chatwoot — account webhooks: conversation_created -> created; conversation_status_changed and
conversation_updated -> solved when the status becomes ``resolved``, reopened when it leaves
``resolved`` (conversation_status_changed really sends ``changed_attributes: null``, so ``open`` or
``pending`` there is a reopen the fold counts only after a solve; conversation_updated counts only
when it lists a status change; open -> snoozed yields nothing; both deliveries of one change share
an id); the older conversation_resolved -> solved; message_created ->
customer_replied for incoming and agent_replied for outgoing messages, skipping private notes,
activity/template messages and agent-bot messages (a bot answer is not an agent reply). Customer
from ``meta.sender``: ``identifier`` (the external id), then ``email``. Tags are the labels. The
conversation id is per account, so the ticket id is ``<account>:<conversation>`` wherever the payload
names the account (``account.id``; before Chatwoot 4.14.2 conversation payloads name it only in
``messages[].account_id``).

freshdesk — Freshdesk automations post either Freshdesk's own "Simple" content
(``{"freshdesk_webhook": {"ticket_id", "ticket_status", "ticket_source", "ticket_contact_email",
"ticket_contact_unique_external_id", "ticket_tags", "ticket_ticket_type", "triggered_event", ...}}``:
``{ticket_action:created}`` -> created, ``{reply_sent:sent}`` -> agent_replied,
``{status:{from:<id>,to:<id>}}`` -> solved (to 4, Resolved), closed (to 5), reopened (from 4 or 5 to
another); notes and other changes -> no event) or a JSON body built from placeholders. For the
latter, create one automation rule per event kind ("Ticket is created", "Reply is sent",
"Customer replies", "Status is changed to Resolved", …) with the action "Trigger webhook" (POST,
JSON content, custom header ``X-Touchpoint-Secret: <your secret>``) and this body, changing only the ``event`` literal::

    {
      "event": "solved",
      "ticket_id": "{{ticket.id}}",
      "requester_email": "{{ticket.requester.email}}",
      "source": "{{ticket.source}}",
      "tags": "{{ticket.tags}}",
      "category": "{{ticket.ticket_type}}"
    }

Optional fields: ``requester_external_id`` (your shop's customer id, when you keep it in a contact
field), ``occurred_at`` (ISO 8601 or unix seconds), ``handle_seconds`` and ``event_id``. Freshdesk
has no placeholder for the time of the change, so without ``occurred_at`` the event takes the time
the webhook was received (``received_at``). Freshdesk sends no delivery id either, so a body is
identified by its content and by what the ticket received before it (``tickets.intake``): the same
body again with nothing of the ticket in between is a retry; the same body after other events (a
second "Resolved" after a reopen) is a new event. Two same-kind events with identical bodies and
nothing between them (two agent replies in a row) still count once: add ``"comment":
"{{ticket.latest_public_comment}}"`` to the reply rules so each reply has its own body. ``tags`` is a
comma-separated string or a JSON list.

generic — the canonical event itself (see ``events.generic_event_from_json``), or a JSON list of
up to 100 of them. ``touchpoint`` must name a catalog touchpoint; without it, ``tags`` and
``category`` decide through the catalog when present.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from touchpoint.errors import ApiError
from touchpoint.tickets.channels import channel_for
from touchpoint.tickets.events import (
    EVENT_KINDS,
    INVALID_EVENT,
    MAX_ID_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    PROVIDERS,
    TicketEvent,
    build_event,
    generic_event_from_json,
)

MAX_GENERIC_BATCH = 100
CONTENT_ID_PREFIX = "sha256:"  # ids of bodies that carry none: see tickets.intake.identify_repeat
HELPSCOUT_EVENT_HEADER = "X-HelpScout-Event"


class TouchpointCatalog(Protocol):
    """What the adapters need from ``touchpoint.catalog.Catalog``."""

    def touchpoint_for_ticket(self, tags: Any = (), category: str | None = None) -> str: ...

    def get(self, touchpoint_id: str) -> Any: ...


@dataclass(frozen=True)
class _Delivery:
    provider: str
    headers: dict[str, str]
    payload: Any
    catalog: TouchpointCatalog
    received_at: datetime | None

    def header(self, name: str) -> str | None:
        return _text(self.headers.get(name.lower()))


def parse_webhook(provider: str, headers: Mapping[str, str], raw_body: bytes, catalog: TouchpointCatalog,
                  *, received_at: datetime | None = None) -> list[TicketEvent]:
    """The canonical events in one helpdesk delivery; ``[]`` when it concerns nothing we measure.

    ``received_at`` (timezone-aware) is the time the request arrived; it is only used for bodies
    that carry no time of their own (the Freshdesk automation body without ``occurred_at``).
    """
    adapter = _ADAPTERS.get(provider)
    if adapter is None:
        raise ApiError(422, "unknown_provider", f"Unknown helpdesk provider {provider!r}", "provider")
    if received_at is not None and received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    lowered = {str(name).lower(): value for name, value in headers.items()}
    return adapter(_Delivery(provider, lowered, _load_json(raw_body), catalog, received_at))


# Zendesk ---------------------------------------------------------------------------------------

def _zendesk(delivery: _Delivery) -> list[TicketEvent]:
    body = _require_object(delivery.payload, "A Zendesk webhook body is a JSON object")
    event_type = body.get("type")
    if isinstance(event_type, str) and event_type.startswith("zen:event-type:"):
        return _zendesk_event_subscription(delivery, body, event_type.removeprefix("zen:event-type:"))
    if "ticket_id" in body or "event" in body:
        return _zendesk_trigger(delivery, body)
    raise _unprocessable("Neither a Zendesk event subscription (type zen:event-type:...) nor the "
                         "Touchpoint trigger body (event, ticket_id, ...)", "type")


def _zendesk_event_subscription(delivery: _Delivery, body: dict[str, Any],
                                event_type: str) -> list[TicketEvent]:
    detail, change = _object(body.get("detail")), _object(body.get("event"))
    if event_type == "ticket.created":
        kind = "created"
    elif event_type == "ticket.comment_added":
        comment = _object(change.get("comment"))
        if comment.get("is_public") is False:
            return []  # an internal note is not a reply the customer saw
        if _is_zendesk_description(body, detail):
            return []  # the ticket's first comment is its description, part of the creation
        author = _object(comment.get("author"))
        by_requester = _text(author.get("id")) is not None and _text(author.get("id")) == _text(
            detail.get("requester_id"))
        # The requester is the customer even when they are staff (an agent's own ticket).
        kind = "agent_replied" if author.get("is_staff") is True and not by_requester else "customer_replied"
    elif event_type == "ticket.status_changed":
        found = _status_transition(_lower_text(change.get("previous")), _lower_text(change.get("current")),
                                   solved={"solved"}, closed={"closed"}, reopenable={"solved", "closed"})
        if found is None:
            return []
        kind = found
    else:
        return []
    ticket_id = _required_text(detail.get("id"), "detail.id")
    requester = _text(detail.get("requester_id"))
    if requester is None:
        raise _unprocessable("detail.requester_id is required to know the customer", "detail.requester_id")
    return [_event(
        delivery, kind=kind, ticket_id=ticket_id, customer_id=f"zendesk:user:{requester}",
        channel=channel_for(_object(detail.get("via")).get("channel")),
        occurred_at=_first_time(body, "time", "detail.updated_at"),
        event_id=_text(body.get("id")) or _content_id(delivery, kind),
        tags=_tag_list(detail["tags"]) if "tags" in detail else None,
        sources={"ticket_id": "detail.id", "occurred_at": "time", "event_id": "id"},
    )]


def _is_zendesk_description(body: dict[str, Any], detail: dict[str, Any]) -> bool:
    """Whether a comment_added is the ticket's description: dated with the ticket's creation (to the
    second; Zendesk sends ``time`` with nanoseconds and ``created_at`` in seconds). Whether Zendesk
    sends it at all is undocumented; when it does, an agent who opened the ticket for a customer
    must not count as having replied at the first second."""
    created, happened = _parse_time(detail.get("created_at")), _parse_time(body.get("time"))
    return created is not None and happened is not None and abs((happened - created).total_seconds()) < 1


def _zendesk_trigger(delivery: _Delivery, body: dict[str, Any]) -> list[TicketEvent]:
    kind = _required_kind(body.get("event"), "event")
    return [_event(
        delivery, kind=kind,
        ticket_id=_required_text(body.get("ticket_id"), "ticket_id"),
        customer_id=_customer(body, external="requester_external_id", email="requester_email"),
        channel=channel_for(body.get("via")),
        occurred_at=_body_time(delivery, body, "occurred_at", "updated_at"),
        event_id=_text(body.get("event_id")) or _content_id(delivery, kind),
        tags=_tag_list(body["tags"], separators=" ,") if "tags" in body else None,
        category=_category(body.get("category")) if "category" in body else None,
        handle_seconds=_handle_seconds(body.get("handle_seconds")),
    )]


# Intercom --------------------------------------------------------------------------------------

_INTERCOM_TOPICS = {
    "conversation.user.created": "created",
    "conversation.admin.single.created": "created",
    "conversation.user.replied": "customer_replied",
    "conversation.admin.replied": "agent_replied",
    "conversation.admin.closed": "solved",
    "conversation.admin.opened": "reopened",
}


def _intercom(delivery: _Delivery) -> list[TicketEvent]:
    body = _require_object(delivery.payload, "An Intercom notification is a JSON object")
    kind = _INTERCOM_TOPICS.get(_text(body.get("topic")) or "")
    if kind is None:
        return []
    item = _object(_object(body.get("data")).get("item"))
    parts = _list(_object(item.get("conversation_parts")).get("conversation_parts"))
    newest_part = _object(parts[-1]) if parts else {}
    # The new conversation part dates a reply or state change; the conversation dates its creation.
    envelope_time = (body.get("created_at"), "created_at")
    if kind == "created":
        candidates = [(item.get("created_at"), "data.item.created_at"), envelope_time]
    else:
        part_field = "data.item.conversation_parts.conversation_parts.created_at"
        candidates = [(newest_part.get("created_at"), part_field), envelope_time,
                      (item.get("updated_at"), "data.item.updated_at")]
    occurred_at = _first_parsed_time(candidates)
    ticket_id = _required_text(item.get("id"), "data.item.id")
    customer_id = _intercom_customer(item)
    channel = channel_for(_object(item.get("source")).get("type"))
    tags = _tag_list(_object(item.get("tags")).get("tags", [])) if "tags" in item else None

    def event(kind: str, event_id: str) -> TicketEvent:
        return _event(delivery, kind=kind, ticket_id=ticket_id, customer_id=customer_id, channel=channel,
                      occurred_at=occurred_at, event_id=event_id, tags=tags,
                      sources={"ticket_id": "data.item.id", "event_id": "id"})

    delivery_id = _text(body.get("id")) or _content_id(delivery, kind)
    reopen_id = _intercom_reopen_id(ticket_id, item)
    if kind == "reopened":
        return [event("reopened", reopen_id or delivery_id)]
    events = [event(kind, delivery_id)]
    closed_before = _parse_time(_object(item.get("statistics")).get("last_close_at"))
    if kind == "customer_replied" and reopen_id and closed_before and occurred_at > closed_before:
        # Intercom reopens a closed conversation when the customer writes and sends only this reply;
        # the reopen is named after the close it undoes, so a teammate's manual reopen of the same
        # close (conversation.admin.opened) is the same event, and the fold ignores it when the
        # conversation was open already.
        events.append(event("reopened", reopen_id))
    return events


def _intercom_reopen_id(ticket_id: str, item: dict[str, Any]) -> str | None:
    """One reopen per close: ``reopen:<conversation>:<last_close_at>`` from the conversation's
    statistics, when the payload carries them."""
    statistics = _object(item.get("statistics"))
    last_close = _text(statistics.get("last_close_at"))
    if last_close is not None:
        return f"reopen:{ticket_id}:{last_close}"
    count = _text(statistics.get("count_reopens"))
    return f"reopen:{ticket_id}:n{count}" if count not in (None, "0") else None


def _intercom_customer(item: dict[str, Any]) -> str:
    contact = _object(next(iter(_list(_object(item.get("contacts")).get("contacts"))), None))
    legacy_user = _object(item.get("user"))  # API 1.x conversations name the customer "user"
    author = _object(_object(item.get("source")).get("author"))
    author_email = author.get("email") if author.get("type") in ("user", "lead", "contact") else None
    return _pick_customer(
        external_ids=[contact.get("external_id"), legacy_user.get("user_id")],
        emails=[contact.get("email"), author_email, legacy_user.get("email")],
        fallback=("intercom:contact", contact.get("id") or legacy_user.get("id")),
        field="data.item.contacts",
    )


# Help Scout ------------------------------------------------------------------------------------

_HELPSCOUT_REPLIES = {"convo.agent.reply.created": ("agent_replied", {"reply", "message"}),
                      "convo.customer.reply.created": ("customer_replied", {"customer"})}
_HELPSCOUT_CONVERSATION_THREADS = {"reply", "message", "customer"}  # not notes, line items, forwards


def _helpscout(delivery: _Delivery) -> list[TicketEvent]:
    event_name = delivery.header(HELPSCOUT_EVENT_HEADER)
    if event_name is None:
        raise _unprocessable(f"Help Scout sends the event name in the {HELPSCOUT_EVENT_HEADER} header",
                             HELPSCOUT_EVENT_HEADER)
    body = _require_object(delivery.payload, "A Help Scout webhook body is a JSON object")
    status = _lower_text(body.get("status"))
    ticket_id = _required_text(body.get("id"), "id")
    closed_at = _parse_time(body.get("closedAt"))
    # One reopen per close, whichever delivery reports it (the customer's reply or the status change).
    reopen_id = f"reopen:{ticket_id}:{closed_at.isoformat()}" if closed_at else None
    event_id: str | None = None
    reopened_at: datetime | None = None
    if event_name == "convo.created":
        kind, occurred_at = "created", _first_time(body, "createdAt")
        event_id = f"convo.created:{ticket_id}"
    elif event_name in _HELPSCOUT_REPLIES:
        kind, thread_types = _HELPSCOUT_REPLIES[event_name]
        latest_type = _newest_thread_type(body)
        if latest_type is not None and latest_type not in thread_types:
            # The header is not covered by the signature: a genuine body replayed under another reply
            # event name must not invent a reply. The body's newest thread says whose reply it was.
            return []
        newest = _newest_thread(body, thread_types)
        if newest is None:  # no thread embedded: the conversation's last update dates the reply
            occurred_at = _first_time(body, "userUpdatedAt", "modifiedAt", "updatedAt")
        else:
            occurred_at, thread_id = newest
            event_id = f"thread:{thread_id}" if thread_id else None
        if kind == "customer_replied" and status == "active" and closed_at and occurred_at > closed_at:
            reopened_at = occurred_at  # a customer's reply reopens a closed conversation
    elif event_name == "convo.status" and status == "closed":
        kind, occurred_at = "solved", _first_time(body, "closedAt", "userUpdatedAt", "modifiedAt")
    elif event_name == "convo.status" and status == "active":
        # Closed -> active, whether or not the body still carries closedAt; the fold counts it only
        # when the conversation stood closed (pending -> active is no reopen). Dated by the latest
        # activity: a teammate's change moves userUpdatedAt, a customer's reply only adds a thread.
        kind = "reopened"
        newest = _newest_thread(body, {"customer", "reply", "message", "note", "lineitem"})
        moments = [moment for moment in (_parse_time(body.get("userUpdatedAt")), _parse_time(body.get("modifiedAt")),
                                         newest[0] if newest else None) if moment is not None]
        occurred_at = max(moments) if moments else _first_time(body, "userUpdatedAt", "modifiedAt", "updatedAt")
        event_id = reopen_id
    else:
        return []
    customer = _object(body.get("primaryCustomer") or body.get("customer"))
    conversation_type = body.get("type")
    channel = channel_for(conversation_type if conversation_type in ("email", "chat", "phone")
                          else _object(body.get("source")).get("type"))
    customer_id = _pick_customer(external_ids=[], emails=[customer.get("email")],
                                 fallback=("helpscout:customer", customer.get("id")), field="primaryCustomer")

    def event(kind: str, occurred_at: datetime, event_id: str) -> TicketEvent:
        return _event(delivery, kind=kind, ticket_id=ticket_id, customer_id=customer_id, channel=channel,
                      occurred_at=occurred_at, event_id=event_id,
                      tags=_tag_list(body["tags"]) if "tags" in body else None, sources={"ticket_id": "id"})

    events = [event(kind, occurred_at, event_id or _content_id(delivery, f"{event_name}:{kind}"))]
    if reopened_at is not None and reopen_id is not None:
        events.append(event("reopened", reopened_at, reopen_id))
    return events


def _dated_threads(body: dict[str, Any], thread_types: set[str]) -> list[tuple[datetime, str, str]]:
    """(time, id, type) of the conversation's dated threads of those types; Help Scout embeds the
    conversation's threads, the new reply among them."""
    threads = _list(_object(body.get("_embedded")).get("threads")) or _list(body.get("threads"))
    return [(moment, _text(thread.get("id")) or "", kind) for thread in map(_object, threads)
            if (kind := _text(thread.get("type")) or "") in thread_types
            and (moment := _parse_time(thread.get("createdAt")))]


def _newest_thread_type(body: dict[str, Any]) -> str | None:
    """The type of the conversation's newest customer or teammate thread (None when none is embedded)."""
    dated = _dated_threads(body, _HELPSCOUT_CONVERSATION_THREADS)
    return max((moment, kind) for moment, _id, kind in dated)[1] if dated else None


def _newest_thread(body: dict[str, Any], thread_types: set[str]) -> tuple[datetime, str] | None:
    """(time, id) of the newest dated thread of those types."""
    dated = _dated_threads(body, thread_types)
    return max((moment, thread_id) for moment, thread_id, _kind in dated) if dated else None


# Chatwoot --------------------------------------------------------------------------------------

def _chatwoot(delivery: _Delivery) -> list[TicketEvent]:
    body = _require_object(delivery.payload, "A Chatwoot webhook body is a JSON object")
    name = _text(body.get("event"))
    event_id: str | None = None
    if name == "conversation_created":
        conversation, where = body, ""
        kind, occurred_at = "created", _first_time(body, "created_at", "timestamp")
    elif name in ("conversation_status_changed", "conversation_updated", "conversation_resolved"):
        conversation, where = body, ""
        previous, current = _chatwoot_status_change(body, listed_only=name == "conversation_updated")
        if name == "conversation_resolved":
            current = "resolved"
        found = _status_transition(previous, current, solved={"resolved"}, closed=set(),
                                   reopenable={"resolved"})
        if found is None and previous is None and current in ("open", "pending"):
            # conversation_status_changed really sends changed_attributes: null, so the status it left
            # is unknown: open again is a reopen candidate, which the fold counts only after a solve.
            found = "reopened"
        if found is None:
            return []
        kind, occurred_at = found, _first_time(body, "updated_at", "timestamp", "last_activity_at")
    elif name == "message_created":
        conversation, where = _object(body.get("conversation")), "conversation."
        found_kind = _chatwoot_message_kind(body)
        if found_kind is None:
            return []
        kind, occurred_at = found_kind, _first_time(body, "created_at")
        message_id = _text(body.get("id"))
        event_id = f"message:{message_id}" if message_id else None
    else:
        return []
    conversation_id = _required_text(conversation.get("id"), f"{where}id")
    # The conversation id is a per-account display id: with the account named, ids stay unique.
    account = _chatwoot_account(body, conversation)
    ticket_id = f"{account}:{conversation_id}" if account else conversation_id
    if kind == "created":
        event_id = f"conversation_created:{ticket_id}"
    elif kind != "agent_replied" and kind != "customer_replied":
        # conversation_status_changed and conversation_updated report one change twice: one id.
        event_id = f"status:{ticket_id}:{kind}:{occurred_at.isoformat()}"
    meta = _object(conversation.get("meta"))
    sender = _object(meta.get("sender"))
    message_sender = _object(body.get("sender")) if name == "message_created" else {}
    if message_sender.get("type") != "contact":
        message_sender = {}
    return [_event(
        delivery, kind=kind, ticket_id=ticket_id,
        customer_id=_pick_customer(
            external_ids=[sender.get("identifier"), message_sender.get("identifier")],
            emails=[sender.get("email"), message_sender.get("email")],
            fallback=("chatwoot:contact", sender.get("id") or message_sender.get("id")),
            field=f"{where}meta.sender"),
        channel=channel_for(conversation.get("channel")),
        occurred_at=occurred_at,
        event_id=event_id or _content_id(delivery, kind),
        tags=_tag_list(conversation["labels"]) if "labels" in conversation else None,
        sources={"ticket_id": f"{where}id"},
    )]


def _chatwoot_account(body: dict[str, Any], conversation: dict[str, Any]) -> str | None:
    """The account id where the payload names it: ``account`` (messages always, conversations since
    4.14.2), else the conversation's or its first message's ``account_id``."""
    messages = _list(conversation.get("messages"))
    for candidate in (_object(body.get("account")).get("id"), _object(conversation.get("account")).get("id"),
                      conversation.get("account_id"), _object(messages[0]).get("account_id") if messages else None):
        if (account := _text(candidate)) is not None:
            return account
    return None


def _chatwoot_status_change(body: dict[str, Any], *, listed_only: bool = False) -> tuple[str | None, str | None]:
    """(previous, current) status; Chatwoot lists changes as ``[{"status": {previous_value,
    current_value}}]`` (some versions send a single object). ``listed_only``: a change not listed is
    no status change (conversation_updated reports every attribute change)."""
    changes = body.get("changed_attributes")
    for change in changes if isinstance(changes, list) else [changes]:
        status = _object(_object(change).get("status"))
        if status:
            return _lower_text(status.get("previous_value")), _lower_text(status.get("current_value"))
    return None, None if listed_only else _lower_text(body.get("status"))


def _chatwoot_message_kind(message: dict[str, Any]) -> str | None:
    if message.get("private") is True:
        return None
    # Chatwoot names the type ("incoming") at the top level and numbers it (0) inside conversations.
    message_type = _text(message.get("message_type"))
    if message_type in ("incoming", "0"):
        return "customer_replied"
    if message_type in ("outgoing", "1") and _object(message.get("sender")).get("type") != "agent_bot":
        return "agent_replied"
    return None


# Freshdesk -------------------------------------------------------------------------------------

_FRESHDESK_SOURCE_CODES = {1: "email", 2: "web", 3: "phone", 7: "chat", 9: "web", 10: "email"}


def _freshdesk(delivery: _Delivery) -> list[TicketEvent]:
    body = _require_object(delivery.payload, "The Freshdesk automation body is a JSON object")
    if "freshdesk_webhook" in body:
        return _freshdesk_simple(delivery, _object(body["freshdesk_webhook"]))
    kind = _required_kind(body.get("event"), "event")
    source = body.get("source")
    channel = (_FRESHDESK_SOURCE_CODES.get(source, "other") if type(source) is int  # not a bool
               else channel_for(source))
    return [_event(
        delivery, kind=kind,
        ticket_id=_required_text(body.get("ticket_id"), "ticket_id"),
        customer_id=_customer(body, external="requester_external_id", email="requester_email"),
        channel=channel,
        occurred_at=_body_time(delivery, body, "occurred_at"),
        event_id=_text(body.get("event_id")) or _content_id(delivery, kind),
        tags=_tag_list(body["tags"], separators=",") if "tags" in body else None,
        category=_category(body.get("category")) if "category" in body else None,
        handle_seconds=_handle_seconds(body.get("handle_seconds")),
    )]


# Freshdesk's "Simple" content: {"freshdesk_webhook": {"ticket_<field>": ..., "triggered_event": ...}}.
# triggered_event is Freshdesk's own notation, not JSON: {ticket_action:created}, {reply_sent:sent},
# {note_type:public}, {status:{from:2,to:4}}; statuses are ids (2 Open, 3 Pending, 4 Resolved, 5 Closed,
# 6 and up custom), ticket_status is the name.
_FRESHDESK_TRANSITION = re.compile(r"status\s*:\s*\{\s*from\s*:\s*(\w+)\s*,\s*to\s*:\s*(\w+)\s*\}")
_FRESHDESK_STATUS_IDS = {"2": "open", "3": "pending", "4": "resolved", "5": "closed"}


def _freshdesk_simple(delivery: _Delivery, fields: dict[str, Any]) -> list[TicketEvent]:
    triggered = _text(fields.get("triggered_event"))
    if triggered is None:
        raise _unprocessable("Tick 'Triggered event' in the rule's Simple content, so the event is known",
                             "freshdesk_webhook.triggered_event")
    compact = triggered.replace(" ", "").lower()
    kind: str | None = None
    if "ticket_action:created" in compact:
        kind = "created"
    elif "reply_sent:" in compact:
        kind = "agent_replied"  # "Reply is sent": an agent's public reply
    elif transition := _FRESHDESK_TRANSITION.search(compact):
        previous, current = (_FRESHDESK_STATUS_IDS.get(code, f"custom:{code}") for code in transition.groups())
        named = _lower_text(fields.get("ticket_status"))
        if named in ("resolved", "closed") and current.startswith("custom:"):
            current = named  # a renamed built-in status: trust the name
        kind = _status_transition(previous, current, solved={"resolved"}, closed={"closed"},
                                  reopenable={"resolved", "closed"})
    if kind is None:
        return []  # notes, priority changes and the like carry no ticket metric
    return [_event(
        delivery, kind=kind,
        ticket_id=_required_text(fields.get("ticket_id"), "freshdesk_webhook.ticket_id"),
        customer_id=_pick_customer(external_ids=[fields.get("ticket_contact_unique_external_id")],
                                   emails=[fields.get("ticket_contact_email")], fallback=None,
                                   field="freshdesk_webhook.ticket_contact_email"),
        channel=channel_for(fields.get("ticket_source")),
        occurred_at=_body_time(delivery, {}, "occurred_at"),  # no time field: the time it arrived
        event_id=_content_id(delivery, kind),
        tags=_tag_list(fields["ticket_tags"], separators=",") if "ticket_tags" in fields else None,
        category=_category(fields.get("ticket_ticket_type")) if "ticket_ticket_type" in fields else None,
        sources={"ticket_id": "freshdesk_webhook.ticket_id"},
    )]


# Generic ---------------------------------------------------------------------------------------

def _generic(delivery: _Delivery) -> list[TicketEvent]:
    payload = delivery.payload
    if isinstance(payload, list):
        if not 1 <= len(payload) <= MAX_GENERIC_BATCH:
            raise _unprocessable(f"A batch holds 1 to {MAX_GENERIC_BATCH} events", None)
        items = [(item, f"[{index}].") for index, item in enumerate(payload)]
    else:
        items = [(payload, "")]
    return [_with_catalog_touchpoint(delivery, generic_event_from_json(item, delivery.provider, prefix),
                                     prefix)
            for item, prefix in items]


def _with_catalog_touchpoint(delivery: _Delivery, event: TicketEvent, prefix: str) -> TicketEvent:
    if event.touchpoint is not None:
        if delivery.catalog.get(event.touchpoint) is None:
            raise ApiError(422, "unknown_touchpoint", f"Unknown touchpoint {event.touchpoint!r}",
                           f"{prefix}touchpoint")
        return event
    if event.tags or event.category is not None:
        touchpoint = delivery.catalog.touchpoint_for_ticket(event.tags, event.category)
        return event.model_copy(update={"touchpoint": touchpoint})
    return event


# In the order of PROVIDERS.
_ADAPTERS: dict[str, Callable[[_Delivery], list[TicketEvent]]] = dict(zip(
    PROVIDERS, (_zendesk, _intercom, _helpscout, _chatwoot, _freshdesk, _generic), strict=True))


# Building events -------------------------------------------------------------------------------

def _event(delivery: _Delivery, *, kind: str, ticket_id: str, customer_id: str, channel: str,
           occurred_at: datetime, event_id: str, tags: tuple[str, ...] | None = None,
           category: str | None = None, handle_seconds: int | None = None,
           sources: dict[str, str] | None = None) -> TicketEvent:
    """Validate one canonical event; ``tags``/``category`` of ``None`` mean "the payload has none"."""
    touchpoint = None
    if tags is not None or category is not None:
        touchpoint = delivery.catalog.touchpoint_for_ticket(tags or (), category)
    return build_event(
        {"event_id": event_id, "provider": delivery.provider, "ticket_id": ticket_id,
         "customer_id": customer_id, "channel": channel, "touchpoint": touchpoint, "event": kind,
         "occurred_at": occurred_at, "handle_seconds": handle_seconds, "tags": tags or (),
         "category": category},
        field_names=sources,
    )


def _content_id(delivery: _Delivery, discriminator: str) -> str:
    """A retry-stable id for bodies without one: the same delivery always hashes the same."""
    canonical = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(f"{delivery.provider}\n{discriminator}\n{canonical}".encode()).hexdigest()
    return f"{CONTENT_ID_PREFIX}{digest}"


def _status_transition(previous: str | None, current: str | None, *, solved: set[str], closed: set[str],
                       reopenable: set[str]) -> str | None:
    if current in solved:
        return "solved"
    if current in closed:
        return "closed"
    if previous in reopenable and current is not None and current not in reopenable:
        return "reopened"
    return None


def _required_kind(value: Any, field: str) -> str:
    kind = _text(value)
    if kind not in EVENT_KINDS:
        raise _unprocessable(f"{field} must be one of {', '.join(EVENT_KINDS)}", field)
    return kind


def _customer(body: dict[str, Any], *, external: str, email: str) -> str:
    return _pick_customer(external_ids=[body.get(external)], emails=[body.get(email)], fallback=None,
                          field=email)


def _pick_customer(*, external_ids: list[Any], emails: list[Any], fallback: tuple[str, Any] | None,
                   field: str) -> str:
    for candidate in external_ids:
        if (external_id := _text(candidate)) is not None:
            return external_id
    for candidate in emails:
        if (email := _text(candidate)) is not None:
            return email.lower()
    if fallback is not None and (user_id := _text(fallback[1])) is not None:
        return f"{fallback[0]}:{user_id}"
    raise _unprocessable("The payload names no customer (external id or email)", field)


def _handle_seconds(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    raise _unprocessable("handle_seconds must be a whole number of seconds", "handle_seconds")


def _tag_list(value: Any, separators: str = "") -> tuple[str, ...]:
    """Tags as the catalog reads them. Helpdesk tags outside our bounds (over-long, control
    characters) are dropped rather than failing the whole delivery: they can only miss a mapping."""
    if isinstance(value, str):
        for separator in separators:
            value = value.replace(separator, "\n")
        raw: list[Any] = value.split("\n") if separators else [value]
    else:
        raw = [item.get("name", item.get("tag")) if isinstance(item, dict) else item for item in _list(value)]
    tags: list[str] = []
    for item in raw:
        tag = _text(item)
        if tag is not None and len(tag) <= MAX_TAG_LENGTH and _printable(tag) and tag not in tags:
            tags.append(tag)
    return tuple(tags[:MAX_TAGS])


def _category(value: Any) -> str | None:
    category = _text(value)
    if category is None or len(category) > MAX_ID_LENGTH or not _printable(category):
        return None
    return category


def _printable(text: str) -> bool:
    return not any(unicodedata.category(char) in ("Cc", "Cf", "Cs") for char in text)


# Times -----------------------------------------------------------------------------------------

def _parse_time(value: Any) -> datetime | None:
    """A helpdesk timestamp, or None when absent or unreadable."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC) if math.isfinite(value) else None
        if not isinstance(value, str) or not value.strip():
            return None
        text = value.strip()
        if text.isascii() and text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), UTC)
        if text.endswith(" UTC"):
            text = text.removesuffix(" UTC") + "+00:00"
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _first_parsed_time(candidates: list[tuple[Any, str]]) -> datetime:
    """The first candidate that is present must parse; all absent is an error on the first field."""
    for value, field in candidates:
        if value is None or value == "":
            continue
        moment = _parse_time(value)
        if moment is None:
            raise _unprocessable(f"{field} is not a readable time", field)
        return moment
    raise _unprocessable(f"{candidates[0][1]} is required", candidates[0][1])


def _first_time(body: dict[str, Any], *paths: str) -> datetime:
    return _first_parsed_time([(_at_path(body, path), path) for path in paths])


def _body_time(delivery: _Delivery, body: dict[str, Any], *fields: str) -> datetime:
    if any(body.get(field) not in (None, "") for field in fields) or delivery.received_at is None:
        return _first_time(body, *fields)
    return delivery.received_at


# JSON access -----------------------------------------------------------------------------------

def _load_json(raw_body: bytes) -> Any:
    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(bytes(raw_body), parse_constant=reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "The body is not valid JSON", None) from None


def _at_path(body: dict[str, Any], path: str) -> Any:
    value: Any = body
    for key in path.split("."):
        value = _object(value).get(key)
    return value


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    """A non-empty string, or an integer as text (ids); anything else is absent."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _lower_text(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text is not None else None


def _required_text(value: Any, field: str) -> str:
    text = _text(value)
    if text is None:
        raise _unprocessable(f"{field} is required", field)
    return text


def _require_object(payload: Any, message: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise _unprocessable(message, None)
    return payload


def _unprocessable(message: str, field: str | None) -> ApiError:
    return ApiError(422, INVALID_EVENT, message, field)
