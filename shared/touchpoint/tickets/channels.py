"""Helpdesk channel names -> the canonical channels (phone, email, chat, social, in_person, web, other).

Every helpdesk names its channels differently (Zendesk ``via.channel`` and ``{{ticket.via}}``,
Intercom ``source.type``, Help Scout conversation types, Chatwoot inbox classes such as
``Channel::WebWidget``, Freshdesk sources). Names are normalised (case, punctuation and the
``Channel::`` prefix dropped) and looked up exactly first, then by keyword, so an unseen variant
such as "Facebook Messenger DM" still lands in the right bucket. Decisions worth knowing:

* social: Twitter/X, Facebook (posts and Messenger), Instagram, WhatsApp, Telegram, LINE, WeChat,
  Viber — conversations held on a third-party consumer platform.
* chat: live chat and in-app messaging (web widgets, mobile SDKs, Zendesk native messaging,
  Intercom Messenger, Help Scout Beacon), and SMS: a texted conversation behaves like a chat
  (short asynchronous turns), not like a call.
* phone: voice, calls and voicemail.
* web: web forms, customer portals, help-centre and feedback widgets (Zendesk ``web``,
  Freshdesk "Portal").
* other: APIs, automations, internal channels (Zendesk ``api``/``rule``, Chatwoot
  ``Channel::Api``, Intercom ``push``) and anything unrecognised.
"""

from __future__ import annotations

import re

_EXACT: dict[str, str] = {
    # email
    "email": "email", "mail": "email", "e_mail": "email", "outbound_email": "email",
    # phone
    "voice": "phone", "phone": "phone", "phone_call": "phone", "phone_switch": "phone", "call": "phone",
    "voicemail": "phone", "talk": "phone",
    # chat and messaging
    "chat": "chat", "chat_transcript": "chat", "web_widget": "chat", "webwidget": "chat",
    "native_messaging": "chat", "messaging": "chat", "mobile_sdk": "chat", "mobihelp": "chat",
    "conversation": "chat", "sms": "chat", "text": "chat", "text_message": "chat", "twiliosms": "chat",
    "twilio_sms": "chat", "bot": "chat", "beacon": "chat",
    # social platforms
    "twitter": "social", "twitter_dm": "social", "twitterprofile": "social", "facebook": "social",
    "facebook_post": "social", "facebook_message": "social", "facebookpage": "social",
    "instagram": "social", "whatsapp": "social", "telegram": "social", "line": "social",
    "wechat": "social", "viber": "social", "social": "social",
    # web forms and portals
    "web": "web", "web_form": "web", "portal": "web", "feedback_widget": "web", "help_center": "web",
    "forum": "web",
    # in person
    "in_person": "in_person", "walk_in": "in_person", "store": "in_person", "counter": "in_person",
    # machines and internals
    "api": "other", "web_service": "other", "web_service_api": "other", "rule": "other",
    "push": "other", "other": "other",
}

# Checked in this order, so "facebook_messenger" is social before "messenger" could read as chat.
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("social", ("whatsapp", "facebook", "twitter", "instagram", "telegram", "wechat", "viber", "social")),
    ("phone", ("voice", "phone", "call", "talk")),
    ("email", ("mail",)),
    ("chat", ("chat", "messag", "widget", "sms", "text", "beacon", "sdk")),
    ("web", ("web", "portal", "form")),
    ("in_person", ("in_person", "walk_in", "store")),
)


def normalise_channel_name(raw: str) -> str:
    name = raw.strip().lower().removeprefix("channel::")
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def channel_for(raw: object) -> str:
    """The canonical channel for a provider's channel name; ``other`` when unknown or absent."""
    if not isinstance(raw, str):
        return "other"
    name = normalise_channel_name(raw)
    if name in _EXACT:
        return _EXACT[name]
    if "api" in name.split("_"):
        return "other"
    for channel, keywords in _KEYWORDS:
        if any(keyword in name for keyword in keywords):
            return channel
    return "other"
