"""Realistic helpdesk webhook deliveries for ``touchpoint demo`` and load tests.

A ``TicketAction`` says what happened to a ticket (created, a reply, solved, ...); ``delivery(action,
secret, now)`` returns the ``(headers, raw body)`` that helpdesk would POST to
``/webhooks/<provider>`` for it: the provider's own payload shape (as ``touchpoint.tickets`` parses
it and as tests/fixtures/webhooks records it), signed with ``touchpoint.tickets.sign`` at ``now``.
Driving the real route with these exercises the real adapters, signatures and dedupe.

Determinism: the body depends only on the action, never on ``now`` or on randomness, so delivering
the same action twice is a retry (byte-identical body, same event id) and the store dedupes it.
Every provider id in a body (event, notification, comment, thread, message ids) is derived from
``(provider, ticket_id, kind, sequence)`` by SHA-256, so two actions that differ in any of these get
different ids; bump ``sequence`` for a second reply of the same kind on the same ticket. Numeric ids
use 60 bits, string ids at least 80: collisions are astronomically unlikely, not impossible.
Customer-derived ids (the Zendesk requester id, contact ids) come from the lowercased email.

What each provider can send (``SUPPORTED``)
-------------------------------------------

=========  =====================================================  ==========================================
provider   shape                                                  kinds
=========  =====================================================  ==========================================
zendesk    the documented Touchpoint trigger body when the         all six
           customer has an external id, else a native event
           subscription (``zen:event-type:ticket.created`` /
           ``ticket.comment_added`` / ``ticket.status_changed``)
intercom   ``notification_event`` with topic                      all but ``closed``: Intercom's "closed" can
           conversation.user.created / .admin.replied /           be reopened, so the adapter maps it to
           .user.replied / .admin.closed / .admin.opened          ``solved``; nothing maps to ``closed``
helpscout  the v2 conversation, event in ``X-HelpScout-Event``:   all but ``closed`` (Help Scout's "closed"
           convo.created, convo.agent.reply.created,              is reopenable, hence ``solved``)
           convo.customer.reply.created, convo.status
chatwoot   conversation_created, message_created (incoming /     all but ``closed`` ("resolved" is
           outgoing), conversation_status_changed                 reopenable, hence ``solved``)
freshdesk  the documented automation body, plus ``occurred_at``   all six
           and ``event_id``
generic    the canonical event (docs/reference.md)                          all six
=========  =====================================================  ==========================================

``delivery`` raises ``ValueError`` for a pair outside ``SUPPORTED``.

Channels
--------

Each provider's own vocabulary is used, chosen so that ``touchpoint.tickets.channels.channel_for``
maps it back to ``action.channel``. Channels a provider cannot express arrive as another channel
(``CHANNEL_FALLBACKS``):

* zendesk: no in-person channel; ``in_person`` is sent as an API-created ticket (``via.channel``
  "api", trigger ``{{ticket.via}}`` "Web service") and arrives as ``other``.
* intercom: conversation sources are conversation (Messenger), email, phone_call, whatsapp, push, ...
  with no web form and no in-person source; ``web`` and ``in_person`` are sent as ``push`` and arrive
  as ``other`` (as does ``other`` itself).
* helpscout: every conversation is typed email, chat or phone and the adapter reads that type first;
  ``web``, ``social``, ``in_person`` and ``other`` are sent as email conversations (source "web" or
  "api") and arrive as ``email``.
* chatwoot: inboxes are WebWidget (chat), Email, Voice (phone), WhatsApp (social), Api, ...;
  ``web`` and ``in_person`` are sent from an API inbox (``Channel::Api``) and arrive as ``other``.
* freshdesk, generic: every channel (Freshdesk "Walk-in" is a custom ticket source for in_person,
  "Ecommerce" the built-in source used for other).

Customer ids (what the event's ``customer_id`` will be)
-------------------------------------------------------

* zendesk: the external id (trigger body); without one, the native payload names only the requester
  by Zendesk user id, so it is ``zendesk:user:<id>`` with a 13-digit id derived from the email
  (``zendesk_user_id``) — not the email.
* intercom, chatwoot, freshdesk, generic: the external id when given, else the email lowercased.
* helpscout: always the email lowercased (Help Scout customers carry no external id).

Other fields
------------

* ``handle_seconds`` is carried by the Zendesk trigger body, Freshdesk and generic only; the other
  shapes have no such field and the event has ``None``.
* Time precision is the provider's: seconds for the Zendesk trigger, Intercom, Help Scout and the
  Chatwoot conversation_created; milliseconds for Chatwoot messages; microseconds for Zendesk
  native events, Chatwoot status changes, Freshdesk and generic. Times the action does not give
  (when the conversation was created, when it was closed before a reopen) are placeholders before
  ``occurred_at``; the adapters do not read them.
* Tags go in the provider's tag field. Zendesk tags cannot contain whitespace and the Freshdesk
  ``{{ticket.tags}}`` string is comma-separated, so such tags raise ``ValueError`` there.
* ``expected_event(action)`` returns the canonical fields the adapter will produce (all but
  ``event_id`` and ``touchpoint``), for callers that check what was stored.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from touchpoint.tickets import CHANNELS, EVENT_KINDS, PROVIDERS, sign

ALL_KINDS = frozenset(EVENT_KINDS)
SUPPORTED: dict[str, set[str]] = {
    "zendesk": set(ALL_KINDS),
    "intercom": set(ALL_KINDS - {"closed"}),
    "helpscout": set(ALL_KINDS - {"closed"}),
    "chatwoot": set(ALL_KINDS - {"closed"}),
    "freshdesk": set(ALL_KINDS),
    "generic": set(ALL_KINDS),
}

# provider -> {canonical channel: the provider's name for it}; a canonical channel missing here is a fallback.
_ZENDESK_VIA = {"email": "email", "phone": "voice", "chat": "native_messaging", "social": "facebook",
                "web": "web", "other": "api"}
_ZENDESK_TRIGGER_VIA = {"email": "Mail", "phone": "Phone call (inbound)", "chat": "Chat",
                        "social": "Facebook Post", "web": "Web Form", "other": "Web service"}
_INTERCOM_SOURCE = {"email": "email", "phone": "phone_call", "chat": "conversation", "social": "whatsapp",
                    "other": "push"}
_HELPSCOUT_TYPE = {"email": "email", "chat": "chat", "phone": "phone"}
_CHATWOOT_INBOX = {"email": "Channel::Email", "phone": "Channel::Voice", "chat": "Channel::WebWidget",
                   "social": "Channel::Whatsapp", "other": "Channel::Api"}
_FRESHDESK_SOURCE = {"email": "Email", "phone": "Phone", "chat": "Chat", "social": "WhatsApp", "web": "Portal",
                     "in_person": "Walk-in", "other": "Ecommerce"}

CHANNEL_FALLBACKS: dict[str, dict[str, str]] = {
    "zendesk": {"in_person": "other"},
    "intercom": {"web": "other", "in_person": "other"},
    "helpscout": {"web": "email", "social": "email", "in_person": "email", "other": "email"},
    "chatwoot": {"web": "other", "in_person": "other"},
    "freshdesk": {},
    "generic": {},
}

_CARRIES_HANDLE_SECONDS = {"freshdesk", "generic"}  # and the Zendesk trigger body

_ACCOUNT_NAME = "Acme Shop"
_AGENT = {"id": 814860, "name": "Marco (Support)", "email": "marco@shop.example.com"}
_SUBJECT = "Question about my order"
_TEXT = {
    "created": "Hi, where is my order? It was due yesterday.",
    "agent_replied": "Thanks for reaching out! Your parcel ships today.",
    "customer_replied": "Great, thank you for the update.",
    "solved": "Marked as solved.",
    "reopened": "Reopened.",
    "closed": "Closed.",
}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class TicketAction:
    """One thing that happened to one ticket, to be delivered as ``provider`` would send it."""

    provider: str            # zendesk | intercom | helpscout | chatwoot | freshdesk | generic
    ticket_id: str
    kind: str                # created | agent_replied | customer_replied | solved | reopened | closed
    occurred_at: datetime    # aware UTC
    customer_email: str
    customer_external_id: str | None
    channel: str             # a canonical channel: phone, email, chat, social, in_person, web, other
    handle_seconds: int | None = None
    tags: tuple[str, ...] = ()
    sequence: int = 0        # per-ticket counter, to make provider ids unique

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}, not {self.provider!r}")
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(EVENT_KINDS)}, not {self.kind!r}")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {self.channel!r}")
        if not isinstance(self.occurred_at, datetime) or self.occurred_at.utcoffset() is None:
            raise ValueError("occurred_at must be a timezone-aware datetime")
        for name in ("ticket_id", "customer_email"):
            _require_identifier(name, getattr(self, name))
        if self.customer_external_id is not None:
            _require_identifier("customer_external_id", self.customer_external_id)
        if self.handle_seconds is not None and (type(self.handle_seconds) is not int or self.handle_seconds < 0):
            raise ValueError("handle_seconds must be a whole number of seconds >= 0, or None")
        if type(self.sequence) is not int or self.sequence < 0:
            raise ValueError("sequence must be an integer >= 0")
        object.__setattr__(self, "tags", tuple(self.tags))
        for tag in self.tags:
            _require_identifier("tags", tag)


def delivery(action: TicketAction, secret: str, now: datetime) -> tuple[dict[str, str], bytes]:
    """(headers incl. signature and content-type, raw body) of one webhook delivery for the action."""
    if action.kind not in SUPPORTED[action.provider]:
        raise ValueError(f"{action.provider} cannot send a {action.kind!r} event: its webhooks have no "
                         f"payload the adapter maps to {action.kind!r} (supported: "
                         f"{', '.join(sorted(SUPPORTED[action.provider]))})")
    extra_headers, body = _BUILDERS[action.provider](action)
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return {"Content-Type": "application/json", **extra_headers,
            **sign(action.provider, raw, secret, now)}, raw


def expected_event(action: TicketAction) -> dict[str, Any]:
    """The canonical fields ``parse_webhook`` yields for ``delivery(action, ...)`` (all but
    ``event_id`` and ``touchpoint``, which need the event id scheme and the catalog)."""
    native_zendesk = action.provider == "zendesk" and action.customer_external_id is None
    if native_zendesk:
        customer_id = f"zendesk:user:{zendesk_user_id(action.customer_email)}"
    elif action.customer_external_id is not None and action.provider != "helpscout":
        customer_id = action.customer_external_id
    else:
        customer_id = action.customer_email.strip().lower()
    carries_handle = action.provider in _CARRIES_HANDLE_SECONDS or (
        action.provider == "zendesk" and not native_zendesk)
    return {
        "provider": action.provider,
        "ticket_id": stored_ticket_id(action.provider, action.ticket_id),
        "event": action.kind,
        "customer_id": customer_id,
        "channel": CHANNEL_FALLBACKS[action.provider].get(action.channel, action.channel),
        "occurred_at": _carried_time(action),
        "handle_seconds": action.handle_seconds if carries_handle else None,
        "tags": tuple(dict.fromkeys(action.tags)),
    }


def zendesk_user_id(email: str) -> int:
    """The (made-up, stable) Zendesk user id of the requester with that email."""
    return 10**12 + _number("zendesk-user", email.strip().lower()) % (9 * 10**12)


# Zendesk ---------------------------------------------------------------------------------------

def _zendesk(action: TicketAction) -> tuple[dict[str, str], dict[str, Any]]:
    _forbid_in_tags(action, re.compile(r"\s"), "Zendesk tags cannot contain whitespace")
    headers = {"User-Agent": "Zendesk Webhook", "X-Zendesk-Webhook-Id": "01JCZ8Q4TQ7M2V6N9R3B5K1H0D"}
    if action.customer_external_id is not None:
        return headers, _zendesk_trigger(action)
    return headers, _zendesk_event(action)


def _zendesk_trigger(action: TicketAction) -> dict[str, Any]:
    """The trigger body documented in touchpoint.tickets.adapters; placeholders render as strings."""
    return {
        "event": action.kind,
        "ticket_id": action.ticket_id,
        "requester_external_id": action.customer_external_id,
        "requester_email": action.customer_email,
        "via": _ZENDESK_TRIGGER_VIA.get(action.channel, "Web service"),
        "tags": " ".join(action.tags),
        "category": "",
        "updated_at": _iso(action.occurred_at, "seconds"),
        "handle_seconds": "" if action.handle_seconds is None else str(action.handle_seconds),
        "event_id": f"zd-{_hex(action, 'event', 32)}",
    }


def _zendesk_event(action: TicketAction) -> dict[str, Any]:
    """A native event subscription payload (ticket.created / comment_added / status_changed)."""
    requester = str(zendesk_user_id(action.customer_email))
    kind = action.kind
    status = {"created": "NEW", "agent_replied": "PENDING", "customer_replied": "OPEN", "solved": "SOLVED",
              "reopened": "OPEN", "closed": "CLOSED"}[kind]
    event: dict[str, Any] = {"meta": {"sequence": {"id": _hex(action, "sequence", 32).upper(), "position": 1}}}
    if kind == "created":
        event_type = "ticket.created"
    elif kind in ("agent_replied", "customer_replied"):
        event_type = "ticket.comment_added"
        by_agent = kind == "agent_replied"
        author = ({"id": str(_AGENT["id"]), "is_staff": True, "name": _AGENT["name"]} if by_agent
                  else {"id": requester, "is_staff": False, "name": _display_name(action.customer_email)})
        event["comment"] = {"id": str(_number("comment", *_key(action))), "body": _TEXT[kind],
                            "is_public": True, "author": author}
    else:
        event_type = "ticket.status_changed"
        event["previous"], event["current"] = {"solved": ("OPEN", "SOLVED"), "reopened": ("SOLVED", "OPEN"),
                                               "closed": ("SOLVED", "CLOSED")}[kind]
    actor = str(_AGENT["id"]) if kind in ("agent_replied", "solved", "closed") else requester
    return {
        "type": f"zen:event-type:{event_type}",
        "account_id": 22129848,
        "id": _ulid(action),
        "time": _iso(action.occurred_at, "microseconds"),
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{action.ticket_id}",
        "detail": {
            "actor_id": actor,
            "assignee_id": None if kind == "created" else str(_AGENT["id"]),
            "brand_id": "360000123456",
            "created_at": _iso(_created_at(action), "seconds"),
            "custom_status": "8447388090111",
            "description": _TEXT["created"],
            "external_id": None,
            "form_id": "360000654321",
            "group_id": "360000111222",
            "id": action.ticket_id,
            "is_public": True,
            "organization_id": None,
            "priority": "NORMAL",
            "requester_id": requester,
            "status": status,
            "subject": _SUBJECT,
            "submitter_id": requester,
            "tags": list(action.tags),
            "type": None,
            "updated_at": _iso(action.occurred_at, "seconds"),
            "via": {"channel": _ZENDESK_VIA.get(action.channel, "api")},
        },
        "event": event,
    }


# Intercom --------------------------------------------------------------------------------------

_INTERCOM_TOPICS = {
    "created": "conversation.user.created",
    "agent_replied": "conversation.admin.replied",
    "customer_replied": "conversation.user.replied",
    "solved": "conversation.admin.closed",
    "reopened": "conversation.admin.opened",
}
_INTERCOM_PART_TYPES = {"agent_replied": "comment", "customer_replied": "comment", "solved": "close",
                        "reopened": "open"}


def _intercom(action: TicketAction) -> tuple[dict[str, str], dict[str, Any]]:
    moment = _unix(action.occurred_at)
    kind = action.kind
    contact_id = _hex_of("intercom-contact", action.customer_email.strip().lower(), 24)
    # Intercom calls a contact with your user id a "user", an anonymous one a "lead".
    role = "user" if action.customer_external_id is not None else "lead"
    customer = {"type": role, "id": contact_id, "name": _display_name(action.customer_email)}
    admin = {"type": "admin", "id": str(_AGENT["id"]), "name": _AGENT["name"]}
    source_type = _INTERCOM_SOURCE.get(action.channel, "push")
    parts: list[dict[str, Any]] = []
    if kind != "created":
        parts.append({
            "type": "conversation_part",
            "id": str(_number("part", *_key(action))),
            "part_type": _INTERCOM_PART_TYPES[kind],
            "body": f"<p>{_TEXT[kind]}</p>" if _INTERCOM_PART_TYPES[kind] == "comment" else None,
            "created_at": moment, "updated_at": moment, "notified_at": moment,
            "assigned_to": None,
            "author": customer if kind == "customer_replied" else admin,
            "attachments": [], "external_id": None, "redacted": False,
        })
    is_open = kind != "solved"
    created_at = _unix(_created_at(action))
    item = {
        "type": "conversation",
        "id": action.ticket_id,
        "created_at": created_at,
        "updated_at": moment,
        "waiting_since": created_at if kind in ("created", "customer_replied") else None,
        "snoozed_until": None,
        "open": is_open,
        "state": "open" if is_open else "closed",
        "read": kind != "created",
        "priority": "not_priority",
        "admin_assignee_id": None if kind == "created" else _AGENT["id"],
        "team_assignee_id": None,
        "source": {
            "type": source_type,
            "id": str(_number("source", action.provider, action.ticket_id)),
            "delivered_as": "customer_initiated",
            "subject": _SUBJECT if source_type == "email" else "",
            "body": f"<p>{_TEXT['created']}</p>",
            "author": {**customer, "email": action.customer_email},
            "attachments": [],
            "url": "https://shop.example.com/orders" if source_type == "conversation" else None,
            "redacted": False,
        },
        "contacts": {"type": "contact.list", "contacts": [
            {"type": "contact", "id": contact_id, "external_id": action.customer_external_id}]},
        "teammates": {"type": "admin.list", "admins": [] if kind == "created" else [
            {"type": "admin", "id": str(_AGENT["id"])}]},
        "tags": {"type": "tag.list", "tags": [
            {"type": "tag", "id": str(_number("tag", tag) % 10**7), "name": tag} for tag in action.tags]},
        "conversation_parts": {"type": "conversation_part.list", "conversation_parts": parts,
                               "total_count": len(parts)},
    }
    return {}, {
        "type": "notification_event",
        "app_id": "abc12def",
        "data": {"type": "notification_event_data", "item": item},
        "links": {},
        "id": f"notif_{uuid.UUID(bytes=_digest(action, 'notification')[:16], version=4)}",
        "topic": _INTERCOM_TOPICS[kind],
        "delivery_status": "pending",
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": moment,
        "created_at": moment,
        "self": None,
    }


# Help Scout ------------------------------------------------------------------------------------

_HELPSCOUT_EVENTS = {
    "created": "convo.created",
    "agent_replied": "convo.agent.reply.created",
    "customer_replied": "convo.customer.reply.created",
    "solved": "convo.status",
    "reopened": "convo.status",
}


def _helpscout(action: TicketAction) -> tuple[dict[str, str], dict[str, Any]]:
    kind = action.kind
    conversation_type = _HELPSCOUT_TYPE.get(action.channel, "email")
    source = ({"type": "web", "via": "customer"} if action.channel == "web"
              else {"type": "api", "via": "customer"} if action.channel not in _HELPSCOUT_TYPE
              else {"type": "web", "via": "user"} if conversation_type == "phone"
              else {"type": conversation_type, "via": "customer"})
    person_id = _number("helpscout-customer", action.customer_email.strip().lower()) % 10**9
    first, _, last = _display_name(action.customer_email).partition(" ")
    customer = {"id": person_id, "type": "customer", "first": first, "last": last,
                "email": action.customer_email}
    agent = {"id": _AGENT["id"], "type": "user", "first": "Marco", "last": "Support", "email": _AGENT["email"]}
    occurred = _iso(action.occurred_at, "seconds")

    def thread(thread_type: str, author: dict[str, Any], text: str, **extra: Any) -> dict[str, Any]:
        return {"id": _number("thread", *_key(action)) % 10**12, "type": thread_type, "status": "active",
                "state": "published", "action": {"type": "default", "text": ""}, "body": text,
                "source": {"type": source["type"], "via": "user" if author is agent else "customer"},
                "customer": customer, "createdBy": author, "assignedTo": None, "createdAt": occurred, **extra}

    closed_at: str | None = None
    status = "active"
    if kind == "created":
        threads = [thread("customer", customer, _TEXT["created"])]
    elif kind == "agent_replied":
        threads, status = [thread("reply", agent, _TEXT[kind])], "pending"
    elif kind == "customer_replied":
        threads = [thread("customer", customer, _TEXT[kind])]
    elif kind == "solved":
        status, closed_at = "closed", occurred
        threads = [thread("lineitem", agent, "", action={"type": "changed-ticket-status",
                                                          "text": "Marked as Closed"})]
    else:  # reopened: active again, still carrying the earlier close
        closed_at = _iso(action.occurred_at - timedelta(minutes=30), "seconds")
        threads = [thread("lineitem", agent, "", action={"type": "changed-ticket-status",
                                                          "text": "Marked as Active"})]
    body = {
        "id": _maybe_int(action.ticket_id),
        "number": _number("helpscout-number", action.ticket_id) % 100000,
        "threads": len(threads),
        "type": conversation_type,
        "folderId": 1234567,
        "status": status,
        "state": "published",
        "subject": _SUBJECT,
        "preview": _TEXT["created"],
        "mailboxId": 85,
        "assignee": None if kind == "created" else agent,
        "createdBy": customer,
        "createdAt": _iso(_created_at(action), "seconds"),
        "closedBy": _AGENT["id"] if closed_at else 0,
        "closedAt": closed_at,
        "userUpdatedAt": occurred,
        "customerWaitingSince": {"time": occurred, "friendly": "just now"},
        "source": source,
        "tags": [{"id": _number("tag", tag) % 10**5, "color": "#929499", "tag": tag} for tag in action.tags],
        "cc": [],
        "bcc": [],
        "primaryCustomer": customer,
        "customFields": [],
        "_embedded": {"threads": threads},
    }
    return {"X-HelpScout-Event": _HELPSCOUT_EVENTS[kind]}, body


# Chatwoot --------------------------------------------------------------------------------------

CHATWOOT_ACCOUNT_ID = 1


def stored_ticket_id(provider: str, ticket_id: str) -> str:
    """The id Touchpoint keeps a ticket under: Chatwoot conversation ids are per account, so its
    tickets are ``<account>:<conversation>``; every other helpdesk's id is kept as it is."""
    return f"{CHATWOOT_ACCOUNT_ID}:{ticket_id}" if provider == "chatwoot" else ticket_id


def _chatwoot(action: TicketAction) -> tuple[dict[str, str], dict[str, Any]]:
    kind = action.kind
    contact = {"id": _number("chatwoot-contact", action.customer_email.strip().lower()) % 10**7,
               "name": _display_name(action.customer_email), "email": action.customer_email,
               "identifier": action.customer_external_id}
    agent = {"id": 1, "name": "Marco", "available_name": "Marco", "avatar_url": "", "type": "user",
             "availability_status": "online"}
    status = {"solved": "resolved"}.get(kind, "open")
    conversation = _chatwoot_conversation(action, contact, None if kind == "created" else agent, status)
    # Chatwoot 4.14.2+ names the account in conversation payloads too (chatwoot/chatwoot#12445).
    account = {"account": {"id": CHATWOOT_ACCOUNT_ID, "name": _ACCOUNT_NAME}}
    if kind == "created":
        return {}, {**account, **conversation, "event": "conversation_created"}
    if kind in ("solved", "reopened"):
        previous, current = ("open", "resolved") if kind == "solved" else ("resolved", "open")
        # The activity message Chatwoot posts for the change (its id sets this delivery apart).
        activity = {"id": _number("message", *_key(action)) % 10**12,
                    "content": f"Conversation was marked {current} by Marco",
                    "account_id": 1, "inbox_id": 1, "conversation_id": conversation["id"], "message_type": 2,
                    "created_at": _unix(action.occurred_at), "private": False, "status": "sent",
                    "content_type": "text", "sender_type": None, "sender_id": None}
        return {}, {**account, **conversation, "messages": [activity], "event": "conversation_status_changed",
                    "changed_attributes": [{"status": {"previous_value": previous, "current_value": current}}]}
    incoming = kind == "customer_replied"
    sender = ({"id": contact["id"], "name": contact["name"], "avatar": "", "type": "contact",
               "email": action.customer_email, "identifier": action.customer_external_id} if incoming
              else {"id": 1, "name": "Marco", "email": _AGENT["email"], "type": "user"})
    return {}, {
        "account": {"id": CHATWOOT_ACCOUNT_ID, "name": _ACCOUNT_NAME},
        "additional_attributes": {},
        "content_attributes": {},
        "content_type": "text",
        "content": _TEXT[kind],
        "conversation": conversation,
        "created_at": _iso(action.occurred_at, "milliseconds"),
        "id": _number("message", *_key(action)) % 10**12,
        "inbox": {"id": 1, "name": "Acme Support"},
        "message_type": "incoming" if incoming else "outgoing",
        "private": False,
        "sender": sender,
        "source_id": None,
        "event": "message_created",
    }


def _chatwoot_conversation(action: TicketAction, contact: dict[str, Any], assignee: dict[str, Any] | None,
                           status: str) -> dict[str, Any]:
    created = _unix(_created_at(action))
    moment = _unix(action.occurred_at)
    return {
        "additional_attributes": {},
        "can_reply": True,
        "channel": _CHATWOOT_INBOX.get(action.channel, "Channel::Api"),
        "id": _maybe_int(action.ticket_id),
        "inbox_id": 1,
        "contact_inbox": {"id": contact["id"], "contact_id": contact["id"], "inbox_id": 1,
                          "source_id": str(uuid.UUID(bytes=_digest_of("source", action.customer_email)[:16],
                                                     version=4)),
                          "hmac_verified": False},
        "messages": [],
        "labels": list(action.tags),
        "meta": {
            "sender": {"additional_attributes": {}, "custom_attributes": {}, "email": contact["email"],
                       "id": contact["id"], "identifier": contact["identifier"], "name": contact["name"],
                       "phone_number": None, "thumbnail": "", "type": "contact"},
            "assignee": assignee,
            "assignee_type": None if assignee is None else "User",
            "team": None,
            "hmac_verified": False,
        },
        "status": status,
        "custom_attributes": {},
        "snoozed_until": None,
        "unread_count": 1 if action.kind in ("created", "customer_replied") else 0,
        "first_reply_created_at": None if action.kind == "created" else created,
        "priority": None,
        "waiting_since": created if action.kind in ("created", "customer_replied") else 0,
        "agent_last_seen_at": 0,
        "contact_last_seen_at": 0,
        "last_activity_at": moment,
        "timestamp": moment,
        "created_at": created,
        "updated_at": _unix_float(action.occurred_at),
    }


# Freshdesk and generic -------------------------------------------------------------------------

def _freshdesk(action: TicketAction) -> tuple[dict[str, str], dict[str, Any]]:
    _forbid_in_tags(action, re.compile(","), "the Freshdesk {{ticket.tags}} string is comma-separated")
    body: dict[str, Any] = {
        "event": action.kind,
        "ticket_id": action.ticket_id,
        "requester_email": action.customer_email,
        "source": _FRESHDESK_SOURCE[action.channel],
        "tags": ", ".join(action.tags),
        "category": "",
    }
    if action.customer_external_id is not None:
        body["requester_external_id"] = action.customer_external_id
    body["occurred_at"] = _iso(action.occurred_at, "microseconds")
    if action.handle_seconds is not None:
        body["handle_seconds"] = action.handle_seconds
    body["event_id"] = f"fd-{_hex(action, 'event', 32)}"
    return {}, body


def _generic(action: TicketAction) -> tuple[dict[str, str], dict[str, Any]]:
    body: dict[str, Any] = {
        "event_id": f"evt_{_hex(action, 'event', 32)}",
        "ticket_id": action.ticket_id,
        "customer_id": action.customer_external_id or action.customer_email.strip().lower(),
        "channel": action.channel,
        "event": action.kind,
        "occurred_at": _iso(action.occurred_at, "microseconds"),
    }
    if action.handle_seconds is not None:
        body["handle_seconds"] = action.handle_seconds
    if action.tags:
        body["tags"] = list(dict.fromkeys(action.tags))  # a set of labels, as every helpdesk sends them
    return {}, body


_BUILDERS = dict(zip(PROVIDERS, (_zendesk, _intercom, _helpscout, _chatwoot, _freshdesk, _generic), strict=True))


# Helpers ---------------------------------------------------------------------------------------

def _key(action: TicketAction) -> tuple[str, str, str, str]:
    """What makes an action's provider ids unique."""
    return action.provider, action.ticket_id, action.kind, str(action.sequence)


def _digest_of(label: str, *parts: str) -> bytes:
    return hashlib.sha256(json.dumps([label, *parts], ensure_ascii=False).encode("utf-8")).digest()


def _digest(action: TicketAction, label: str) -> bytes:
    return _digest_of(label, *_key(action))


def _hex(action: TicketAction, label: str, length: int) -> str:
    return _digest(action, label).hex()[:length]


def _hex_of(label: str, value: str, length: int) -> str:
    return _digest_of(label, value).hex()[:length]


def _number(label: str, *parts: str) -> int:
    """A positive 60-bit id."""
    return (int.from_bytes(_digest_of(label, *parts)[:8], "big") >> 4) or 1


def _ulid(action: TicketAction) -> str:
    """A ULID (as Zendesk event ids are): the event's milliseconds, then 80 bits of the action's hash."""
    millis = min(max(int(action.occurred_at.timestamp() * 1000), 0), 2**48 - 1)
    value = (millis << 80) | int.from_bytes(_digest(action, "ulid")[:10], "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _maybe_int(ticket_id: str) -> int | str:
    """Help Scout and Chatwoot number their conversations; other ids are kept as text."""
    return int(ticket_id) if ticket_id.isascii() and ticket_id.isdigit() and str(int(ticket_id)) == ticket_id \
        else ticket_id


def _created_at(action: TicketAction) -> datetime:
    """When the conversation began: the action itself for a creation, else a placeholder before it."""
    return action.occurred_at if action.kind == "created" else action.occurred_at - timedelta(hours=1)


def _iso(moment: datetime, precision: str) -> str:
    moment = moment.astimezone(UTC)
    if precision == "microseconds" and not moment.microsecond:
        precision = "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=precision) + "Z"


def _unix(moment: datetime) -> int:
    return int(moment.astimezone(UTC).replace(microsecond=0).timestamp())


def _unix_float(moment: datetime) -> float:
    return float(f"{_unix(moment)}.{moment.microsecond:06d}")


def _carried_time(action: TicketAction) -> datetime:
    """``occurred_at`` at the precision the provider's payload carries it."""
    moment = action.occurred_at.astimezone(UTC)
    provider, kind = action.provider, action.kind
    if (provider in ("intercom", "helpscout") or (provider == "zendesk" and action.customer_external_id)
            or (provider == "chatwoot" and kind == "created")):
        return moment.replace(microsecond=0)
    if provider == "chatwoot" and kind in ("agent_replied", "customer_replied"):
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return moment


def _display_name(email: str) -> str:
    local = email.strip().split("@", 1)[0]
    words = [word.capitalize() for word in re.split(r"[._+\-]+", local) if word]
    return " ".join(words) or local


def _require_identifier(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValueError(f"{name} must be non-empty text without surrounding whitespace, not {value!r}")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs") for char in value):
        raise ValueError(f"{name} must not contain control or invisible formatting characters")


def _forbid_in_tags(action: TicketAction, pattern: re.Pattern[str], why: str) -> None:
    for tag in action.tags:
        if pattern.search(tag):
            raise ValueError(f"{action.provider} cannot send the tag {tag!r}: {why}")
