"""Helpdesk webhook signatures, as docs/reference.md#signatures lays them out.

=========  ==========================================  =====================================================
provider   headers                                     signature
=========  ==========================================  =====================================================
zendesk    X-Zendesk-Webhook-Signature,                base64(HMAC-SHA256(secret, timestamp + body)); the
           X-Zendesk-Webhook-Signature-Timestamp       timestamp is ISO 8601 (``2026-11-22T15:04:05Z``)
intercom   X-Hub-Signature                             ``sha1=`` + hex(HMAC-SHA1(secret, body))
helpscout  X-HelpScout-Signature                       base64(HMAC-SHA1(secret, body))
chatwoot   X-Chatwoot-Signature, X-Chatwoot-Timestamp  ``sha256=`` + hex(HMAC-SHA256(secret, ts + "." + body))
generic    X-Touchpoint-Signature,                     ``sha256=`` + hex(HMAC-SHA256(secret, ts + "." + body))
           X-Touchpoint-Timestamp
freshdesk  X-Touchpoint-Secret                         the configured shared secret itself (Freshdesk does
                                                       not sign)
=========  ==========================================  =====================================================

Rules shared by every provider:

* The MAC covers the raw body bytes and the timestamp header *as sent*; nothing is re-serialised.
* Header names are matched case-insensitively; every comparison uses ``hmac.compare_digest``.
* Where a timestamp is sent, it must lie within 5 minutes of ``now`` in either direction (a clock
  that runs ahead is refused as well as a replay from the past). Zendesk sends ISO 8601; chatwoot
  and generic send unix seconds, and ISO 8601 with a zone is accepted from them too, so a sender
  whose tooling prefers ISO timestamps can still sign. The timestamp is checked only once the MAC
  matched, so a forger learns nothing about the clock.
* Failures raise ``ApiError(401, "invalid_signature")`` (missing, garbled or wrong) or
  ``ApiError(401, "stale_signature")`` (authentic but outside the window). An empty configured
  secret never verifies anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from touchpoint.errors import ApiError

SIGNATURE_WINDOW = timedelta(minutes=5)

ZENDESK_SIGNATURE = "X-Zendesk-Webhook-Signature"
ZENDESK_TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
INTERCOM_SIGNATURE = "X-Hub-Signature"
HELPSCOUT_SIGNATURE = "X-HelpScout-Signature"
CHATWOOT_SIGNATURE = "X-Chatwoot-Signature"
CHATWOOT_TIMESTAMP = "X-Chatwoot-Timestamp"
GENERIC_SIGNATURE = "X-Touchpoint-Signature"
GENERIC_TIMESTAMP = "X-Touchpoint-Timestamp"
FRESHDESK_HEADER = "X-Touchpoint-Secret"  # carries the shared secret itself

MIN_URL_TOKEN_LENGTH = 24
_UNIX_SECONDS = re.compile(r"^[0-9]{1,12}$")


def verify_signature(provider: str, headers: Mapping[str, str], raw_body: bytes, secret: str,
                     now: datetime) -> None:
    """Return quietly when the request is authentic and fresh; raise ApiError otherwise."""
    verifier = _VERIFIERS.get(provider)
    if verifier is None:
        raise ApiError(422, "unknown_provider", f"Unknown helpdesk provider {provider!r}", "provider")
    if not secret:
        raise _invalid("No webhook secret is configured for this provider")
    verifier(_lowercase_keys(headers), bytes(raw_body), secret.encode("utf-8"), _aware(now))


def verify_url_token(presented: str | None, expected: str) -> None:
    """Chatwoot before 4.11.2 cannot sign its webhooks. Where the shop opts in (a
    ``chatwoot_url_token`` among the webhook secrets), such an install posts to
    ``/webhooks/chatwoot?token=<token>`` instead; the token is compared in constant time and never
    logged. Weaker than a signature (no timestamp, the URL is the secret): off by default."""
    if len(expected) < MIN_URL_TOKEN_LENGTH:
        raise _invalid("The configured chatwoot_url_token is too short to be a secret")
    if not presented or not hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8")):
        raise _invalid("Missing or wrong webhook URL token")


def sign(provider: str, raw_body: bytes, secret: str, now: datetime) -> dict[str, str]:
    """The headers a genuine sender adds to ``raw_body`` at ``now`` (for tests, the demo and load
    generators). ``verify_signature`` accepts exactly these."""
    key = secret.encode("utf-8")
    now = _aware(now)
    if provider == "zendesk":
        timestamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = hmac.new(key, timestamp.encode("utf-8") + raw_body, hashlib.sha256).digest()
        return {ZENDESK_SIGNATURE: base64.b64encode(digest).decode("ascii"), ZENDESK_TIMESTAMP: timestamp}
    if provider == "intercom":
        return {INTERCOM_SIGNATURE: "sha1=" + hmac.new(key, raw_body, hashlib.sha1).hexdigest()}
    if provider == "helpscout":
        digest = hmac.new(key, raw_body, hashlib.sha1).digest()
        return {HELPSCOUT_SIGNATURE: base64.b64encode(digest).decode("ascii")}
    if provider in ("chatwoot", "generic"):
        signature_header, timestamp_header = _DOTTED_HEADERS[provider]
        timestamp = str(int(now.timestamp()))
        return {signature_header: _dotted_signature(key, timestamp, raw_body), timestamp_header: timestamp}
    if provider == "freshdesk":
        return {FRESHDESK_HEADER: secret}
    raise ApiError(422, "unknown_provider", f"Unknown helpdesk provider {provider!r}", "provider")


# Per-provider checks ---------------------------------------------------------------------------

def _verify_zendesk(headers: dict[str, str], body: bytes, key: bytes, now: datetime) -> None:
    signature = _required(headers, ZENDESK_SIGNATURE)
    timestamp = _required(headers, ZENDESK_TIMESTAMP)
    sent_at = _parse_iso(timestamp)
    digest = hmac.new(key, timestamp.encode("utf-8") + body, hashlib.sha256).digest()
    _require_match(base64.b64encode(digest), signature)
    _require_fresh(sent_at, now)


def _verify_intercom(headers: dict[str, str], body: bytes, key: bytes, now: datetime) -> None:
    signature = _required(headers, INTERCOM_SIGNATURE)
    expected = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
    # Hex digits are case-blind; the "sha1=" prefix is part of what must match.
    _require_match(expected.encode("ascii"), signature.lower())


def _verify_helpscout(headers: dict[str, str], body: bytes, key: bytes, now: datetime) -> None:
    signature = _required(headers, HELPSCOUT_SIGNATURE)
    _require_match(base64.b64encode(hmac.new(key, body, hashlib.sha1).digest()), signature)


def _dotted_verifier(provider: str) -> Callable[[dict[str, str], bytes, bytes, datetime], None]:
    signature_header, timestamp_header = _DOTTED_HEADERS[provider]

    def verify(headers: dict[str, str], body: bytes, key: bytes, now: datetime) -> None:
        signature = _required(headers, signature_header)
        timestamp = _required(headers, timestamp_header)
        sent_at = _parse_unix_or_iso(timestamp)
        _require_match(_dotted_signature(key, timestamp, body).encode("ascii"), signature.lower())
        _require_fresh(sent_at, now)

    return verify


def _verify_freshdesk(headers: dict[str, str], body: bytes, key: bytes, now: datetime) -> None:
    _require_match(key, _required(headers, FRESHDESK_HEADER))


_DOTTED_HEADERS = {
    "chatwoot": (CHATWOOT_SIGNATURE, CHATWOOT_TIMESTAMP),
    "generic": (GENERIC_SIGNATURE, GENERIC_TIMESTAMP),
}
_VERIFIERS: dict[str, Callable[[dict[str, str], bytes, bytes, datetime], None]] = {
    "zendesk": _verify_zendesk,
    "intercom": _verify_intercom,
    "helpscout": _verify_helpscout,
    "chatwoot": _dotted_verifier("chatwoot"),
    "generic": _dotted_verifier("generic"),
    "freshdesk": _verify_freshdesk,
}


# Helpers ---------------------------------------------------------------------------------------

def _dotted_signature(key: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key, timestamp.encode("utf-8") + b"." + body, hashlib.sha256).hexdigest()


def _lowercase_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): value for name, value in headers.items()}


def _required(headers: dict[str, str], name: str) -> str:
    value = headers.get(name.lower())
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"Missing {name} header")
    return value.strip()


def _require_match(expected: bytes, provided: str) -> None:
    # Encode leniently: a header with odd characters is simply a mismatch, never a crash.
    if not hmac.compare_digest(expected, provided.encode("utf-8", "replace")):
        raise _invalid("Signature does not match the request body")


def _require_fresh(sent_at: datetime, now: datetime) -> None:
    if abs(now - sent_at) > SIGNATURE_WINDOW:
        raise ApiError(401, "stale_signature", "Signature timestamp is more than 5 minutes away from now",
                       None)


def _parse_iso(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid("Signature timestamp is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _invalid("Signature timestamp needs a time zone (for example 2026-11-22T15:04:05Z)")
    return moment.astimezone(UTC)


def _parse_unix_or_iso(value: str) -> datetime:
    if _UNIX_SECONDS.match(value):
        try:
            return datetime.fromtimestamp(int(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise _invalid("Signature timestamp is out of range") from None
    return _parse_iso(value)


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _invalid(message: str) -> ApiError:
    return ApiError(401, "invalid_signature", message, None)
