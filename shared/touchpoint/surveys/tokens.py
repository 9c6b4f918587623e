"""Opaque survey tokens (docs/reference.md, "Survey tokens").

A token is ``base64url(version || len(key id) || key id || nonce || AES-256-GCM(payload))`` without
padding: the claims are compact JSON, encrypted and authenticated, so nothing in a link (customer id,
order id, properties) can be read by whoever sees the URL. The version byte and key id travel in clear
as associated data. Each configured key string gives its AES key through HKDF-SHA256 with a fixed
``info``, so the secret keeps its format and keys rotate without breaking links already in inboxes:
the newest key encrypts, every listed key decrypts. Nothing is stored when a token is minted.

Links minted before tokens were encrypted use the legacy format (version 1,
``base64url(payload) "." base64url(HMAC-SHA256(key, base64url(payload)))``, the payload readable).
They keep verifying until they expire; nothing mints them any more.

``cryptography`` is imported inside the functions that use it: handler modules import this one, and a
cold start should not pay for it before the first link is opened.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from touchpoint.errors import ApiError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TOKEN_VERSION = 2
LEGACY_TOKEN_VERSION = 1
# HKDF-SHA256 of a key string (UTF-8), no salt, this info, 32 bytes: the AES-256-GCM key of that key id.
TOKEN_KEY_INFO = b"touchpoint survey token v2 aes-256-gcm"
NONCE_BYTES = 12  # 96 bits, random per token
TAG_BYTES = 16
MAX_KEY_ID_BYTES = 255  # the key id travels in every token behind a one-byte length
# Links carry their properties inside the token; 1 KiB of properties makes a URL of about 1.5 KiB.
MAX_TOKEN_LENGTH = 4096

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


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
    # When the link was minted: an answer counts for the response rate of the period of minting.
    # Links minted before response rates were counted do not carry it.
    minted_at: datetime | None = None
    # The language the link was minted for (None: the browser's Accept-Language decides).
    locale: str | None = None
    # Listed among the customer's open links on their contact item when minted, so an erasure leaves
    # a tombstone on its survey id and the answer's own write refuses it. An untracked link (minted
    # offline, or before links were tracked) has its customer looked up on the suppression list.
    tracked: bool = False


class KeyRing:
    """Token keys by id. The last key listed mints new tokens; all of them verify."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        if not keys:
            raise ValueError("token key ring is empty: add at least one key to the token secret")
        for key_id, key in keys.items():
            if not key_id or not isinstance(key, str) or len(key) < 16:
                raise ValueError(f"token key {key_id!r} must be a string of at least 16 characters")
            if len(key_id.encode("utf-8")) > MAX_KEY_ID_BYTES:
                raise ValueError(f"token key id {key_id[:20]!r}... is over {MAX_KEY_ID_BYTES} bytes: use a short id")
        self._keys = {kid: key.encode("utf-8") for kid, key in keys.items()}
        self.active_key_id = list(keys)[-1]
        self._ciphers: dict[str, AESGCM] = {}

    def key(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    def signing_key(self) -> bytes:
        return self._keys[self.active_key_id]

    def verification_keys(self) -> list[bytes]:
        return list(self._keys.values())

    def _cipher(self, key_id: str) -> AESGCM | None:
        """The AES-256-GCM cipher of a listed key id (derived once per ring), or None."""
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            key = self._keys.get(key_id)
            if key is None:
                return None
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            cipher = self._ciphers[key_id] = AESGCM(derive_token_key(key))
        return cipher


def derive_token_key(key: bytes) -> bytes:
    """The 256-bit AES key of one configured key string: HKDF-SHA256, no salt, info ``TOKEN_KEY_INFO``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=TOKEN_KEY_INFO).derive(key)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def survey_id_for(customer_id: str, touchpoint: str, metric: str, order_id: str | None) -> str:
    """One survey per customer, touchpoint, metric and order: a retried mint for the same order gives
    the same survey id, so the customer can never answer it twice. Without an order every link is new."""
    if order_id:
        digest = hashlib.sha256(json.dumps([customer_id, touchpoint, metric, order_id]).encode("utf-8"))
        return "o" + digest.hexdigest()[:31]
    return "r" + secrets.token_hex(15)


def mint_token(ring: KeyRing, claims: SurveyClaims) -> str:
    """Encrypt ``claims`` with the active key (``claims.key_id`` is ignored: the ring decides)."""
    payload: dict[str, Any] = {
        "s": claims.survey_id,
        "c": claims.customer_id,
        "t": claims.touchpoint,
        "m": claims.metric,
        "e": int(claims.expires_at.timestamp()),
    }
    if claims.order_id is not None:
        payload["o"] = claims.order_id
    if claims.properties:
        payload["p"] = claims.properties
    if claims.minted_at is not None:
        payload["n"] = int(claims.minted_at.timestamp())
    if claims.locale is not None:
        payload["l"] = claims.locale
    if claims.tracked:
        payload["r"] = 1
    key_id = ring.active_key_id.encode("utf-8")
    header = bytes([TOKEN_VERSION, len(key_id)]) + key_id
    nonce = secrets.token_bytes(NONCE_BYTES)
    cipher = ring._cipher(ring.active_key_id)
    assert cipher is not None  # the active key id is taken from the ring itself
    return _b64encode(header + nonce + cipher.encrypt(nonce, _compact_json(payload), header))


def _tampered(message: str = "This survey link is not valid.") -> ApiError:
    return ApiError(403, "invalid_token", message, "token")


def _removed_key() -> ApiError:
    return _tampered("This survey link was signed with a key that is no longer accepted.")


def customer_of(ring: KeyRing, token: str) -> str | None:
    """Whose link a token is, expired or not; None for a token these keys did not make."""
    try:
        return verify_token(ring, token).customer_id
    except ApiError:
        return None


def verify_token(ring: KeyRing, token: str, now: datetime | None = None) -> SurveyClaims:
    """The claims of a genuine token. 403 when anything is off, 410 when genuine but expired: expiry is
    checked only after authentication, so a forged token never learns whether it would have expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise _tampered()
    # A current token is pure base64url; only a legacy one has a dot.
    payload, key_id = _open_legacy_v1(ring, token) if "." in token else _open(ring, token)
    try:
        claims = SurveyClaims(
            survey_id=_text(payload["s"]),
            customer_id=_text(payload["c"]),
            touchpoint=_text(payload["t"]),
            metric=_text(payload["m"]),
            order_id=None if payload.get("o") is None else _text(payload["o"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), tz=UTC),
            properties=_properties(payload.get("p")),
            key_id=key_id,
            minted_at=None if payload.get("n") is None else datetime.fromtimestamp(int(payload["n"]), tz=UTC),
            locale=None if payload.get("l") is None else _text(payload["l"]),
            tracked=payload.get("r") == 1,
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        raise _tampered() from None
    if (now or datetime.now(UTC)) >= claims.expires_at:
        raise ApiError(410, "token_expired", "This survey link has expired.", "token")
    return claims


def _open(ring: KeyRing, token: str) -> tuple[dict[str, Any], str]:
    """Decrypt a current (version 2) token: its payload and key id, or 403."""
    if not _BASE64URL.fullmatch(token):
        raise _tampered()
    try:
        raw = _b64decode(token)
    except (binascii.Error, ValueError):
        raise _tampered() from None
    if _b64encode(raw) != token:  # one spelling per token: no stray bits in the last character
        raise _tampered()
    if len(raw) < 2 or raw[0] != TOKEN_VERSION:
        raise _tampered()
    header_end = 2 + raw[1]
    if len(raw) < header_end + NONCE_BYTES + TAG_BYTES:
        raise _tampered()
    header = raw[:header_end]
    try:
        key_id = header[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise _tampered() from None
    cipher = ring._cipher(key_id)
    if cipher is None:
        raise _removed_key()
    from cryptography.exceptions import InvalidTag

    nonce = raw[header_end:header_end + NONCE_BYTES]
    try:
        plaintext = cipher.decrypt(nonce, raw[header_end + NONCE_BYTES:], header)
        payload = json.loads(plaintext)
    except (InvalidTag, ValueError, UnicodeDecodeError):
        raise _tampered() from None
    if not isinstance(payload, dict):
        raise _tampered()
    return payload, key_id


def _legacy_v1_signature(key: bytes, payload_b64: str) -> str:
    return _b64encode(hmac.new(key, payload_b64.encode("ascii"), hashlib.sha256).digest())


def _open_legacy_v1(ring: KeyRing, token: str) -> tuple[dict[str, Any], str]:
    """Verify a legacy (version 1) token, ``base64url(JSON) "." base64url(HMAC-SHA256)``, as minted
    before tokens were encrypted. The JSON also carries ``"v": 1`` and the key id as ``"k"``."""
    if token.count(".") != 1:
        raise _tampered()
    payload_b64, signature = token.split(".")
    try:
        payload = json.loads(_b64decode(payload_b64))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise _tampered() from None
    if not isinstance(payload, dict) or payload.get("v") != LEGACY_TOKEN_VERSION:
        raise _tampered()
    key_id = str(payload.get("k"))
    key = ring.key(key_id)
    if key is None:
        raise _removed_key()
    if not hmac.compare_digest(_legacy_v1_signature(key, payload_b64), signature):
        raise _tampered()
    return payload, key_id


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
