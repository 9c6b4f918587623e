"""Suspected-bot signals on survey answers (link scanners and form spammers).

GET never records, so a scanner that only follows links does no harm. Anything that *posts* is
checked for two signals: a honeypot field hidden from people (a bot fills every input), and a form
posted implausibly soon after the page was rendered (the page carries a render time signed with the
token keys, so it cannot be back-dated). A suspected answer is kept, with its reason, shown in the
data, and left out of every metric; the scorecard counts them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from touchpoint.surveys.tokens import KeyRing

HONEYPOT_FIELD = "website"
RENDERED_FIELD = "rendered"
MIN_HUMAN_SECONDS = 2.0


def _mac(key: bytes, token: str, millis: str) -> str:
    return hmac.new(key, f"rendered|{token}|{millis}".encode(), hashlib.sha256).hexdigest()[:32]


def render_stamp(ring: KeyRing, token: str, now: datetime) -> str:
    """``<epoch ms>.<mac>``: when the page was rendered, bound to this survey link."""
    millis = str(int(now.timestamp() * 1000))
    return f"{millis}.{_mac(ring.signing_key(), token, millis)}"


def _genuine(ring: KeyRing, token: str, stamp: str) -> int | None:
    """The render time in ms of a stamp we issued (any listed key, for rotation), else None."""
    millis, _, mac = stamp.partition(".")
    if not (millis.isascii() and millis.isdecimal() and mac.isascii()):
        return None
    if any(hmac.compare_digest(mac, _mac(key, token, millis)) for key in ring.verification_keys()):
        return int(millis)
    return None


def bot_reason(ring: KeyRing, token: str, fields: Mapping[str, object], is_form: bool, now: datetime) -> str | None:
    """Why this answer looks automated, or None."""
    if str(fields.get(HONEYPOT_FIELD) or "").strip():
        return "honeypot"
    if not is_form:
        return None  # API clients post JSON, not our rendered page
    rendered = _genuine(ring, token, str(fields.get(RENDERED_FIELD) or ""))
    if rendered is None:
        return "form_without_rendered_page"
    if now.timestamp() * 1000 - rendered < MIN_HUMAN_SECONDS * 1000:
        return "too_fast"
    return None
