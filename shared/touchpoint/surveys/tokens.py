"""Signed survey tokens (docs/reference.md).

A token is ``base64url(payload) "." base64url(HMAC-SHA256(key, payload))``. The payload is compact
JSON carrying the key id, so keys rotate without breaking links already in inboxes: the newest key
signs, every listed key verifies. Nothing is stored when a token is minted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from touchpoint.errors import ApiError

TOKEN_VERSION = 1
# Links carry their properties inside the token; 1 KiB of properties makes a URL of about 1.6 KiB.
MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True)
class SurveyClaims:
    survey_id: str
    customer_id: str
    touchpoint: str
    metric: str
    order_id: str | None
    expires_at: datetime
    properties: dict[str, Any] | None = None
    key_id: str = ""


class KeyRing:
    """Token keys by id. The last key listed signs new tokens; all of them verify."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        if not keys:
            raise ValueError("token key ring is empty: add at least one key to the token secret")
        for key_id, key in keys.items():
            if not key_id or not isinstance(key, str) or len(key) < 16:
                raise ValueError(f"token key {key_id!r} must be a string of at least 16 characters")
        self._keys = {kid: key.encode("utf-8") for kid, key in keys.items()}
        self.active_key_id = list(keys)[-1]

    def key(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    def signing_key(self) -> bytes:
        return self._keys[self.active_key_id]

    def verification_keys(self) -> list[bytes]:
        return list(self._keys.values())


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload_b64: str) -> str:
    return _b64encode(hmac.new(key, payload_b64.encode("ascii"), hashlib.sha256).digest())


def survey_id_for(customer_id: str, touchpoint: str, metric: str, order_id: str | None) -> str:
    """One survey per customer, touchpoint, metric and order: a retried mint for the same order gives
    the same survey id, so the customer can never answer it twice. Without an order every link is new."""
    if order_id:
        digest = hashlib.sha256(json.dumps([customer_id, touchpoint, metric, order_id]).encode("utf-8"))
        return "o" + digest.hexdigest()[:31]
    return "r" + secrets.token_hex(15)


def mint_token(ring: KeyRing, claims: SurveyClaims) -> str:
    """Sign ``claims`` with the active key (``claims.key_id`` is ignored: the ring decides)."""
    payload = {
        "v": TOKEN_VERSION,
        "k": ring.active_key_id,
        "s": claims.survey_id,
        "c": claims.customer_id,
        "t": claims.touchpoint,
        "m": claims.metric,
        "o": claims.order_id,
        "e": int(claims.expires_at.timestamp()),
    }
    if claims.properties:
        payload["p"] = claims.properties
    payload_b64 = _b64encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    key = ring.key(ring.active_key_id)
    assert key is not None  # the active key id is taken from the ring itself
    return f"{payload_b64}.{_sign(key, payload_b64)}"


def _tampered(message: str = "This survey link is not valid.") -> ApiError:
    return ApiError(403, "invalid_token", message, "token")


def verify_token(ring: KeyRing, token: str, now: datetime | None = None) -> SurveyClaims:
    """The claims of a genuine token. 403 when anything is off, 410 when genuine but expired: expiry is
    checked only after the signature, so a forged token never learns whether it would have expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1 or not token.isascii():
        raise _tampered()
    payload_b64, signature = token.split(".")
    try:
        payload = json.loads(_b64decode(payload_b64))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _tampered() from None
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        raise _tampered()
    key = ring.key(str(payload.get("k")))
    if key is None:
        raise _tampered("This survey link was signed with a key that is no longer accepted.")
    if not hmac.compare_digest(_sign(key, payload_b64), signature):
        raise _tampered()
    try:
        claims = SurveyClaims(
            survey_id=_text(payload["s"]),
            customer_id=_text(payload["c"]),
            touchpoint=_text(payload["t"]),
            metric=_text(payload["m"]),
            order_id=None if payload.get("o") is None else _text(payload["o"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), tz=UTC),
            properties=_properties(payload.get("p")),
            key_id=str(payload["k"]),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        raise _tampered() from None
    if (now or datetime.now(UTC)) >= claims.expires_at:
        raise ApiError(410, "token_expired", "This survey link has expired.", "token")
    return claims


def _properties(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("properties claim must be an object")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("claim must be a non-empty string")
    return value


def expiry(now: datetime, ttl_days: int) -> datetime:
    return (now + timedelta(days=ttl_days)).replace(microsecond=0)
