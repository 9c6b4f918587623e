"""Opaque survey tokens (docs/reference.md, "Survey tokens"): a link reveals nothing about the
customer, the order or the properties to whoever sees the URL (proxies, analytics, browser history);
its layout is the documented one; no byte of it can be changed; and no string makes verification
raise anything but a 403."""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
import json
import string
import urllib.parse
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from touchpoint.errors import ApiError
from touchpoint.surveys.tokens import MAX_TOKEN_LENGTH, KeyRing, SurveyClaims, mint_token, survey_id_for, verify_token
from touchpoint_local.testing import b64url, unb64url

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
KEYS = {"k2025": "old-key-0123456789abcdef", "k2026": "new-key-fedcba9876543210"}
RING = KeyRing(KEYS)
ROBUST: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}

EMAIL = "jane.doe+vip@example.com"
ORDER = "ORDER-2026-889911"
PROPERTIES = {"plan": "platinum-annual", "store": "Springfield Mall", "basket": 1234.56}
SECRETS_IN_A_LINK = [EMAIL, "jane.doe", "example.com", ORDER, "889911", "platinum-annual", "Springfield", "1234.56"]


def claims(**changes: Any) -> SurveyClaims:
    base: dict[str, Any] = {
        "survey_id": survey_id_for(EMAIL, "shipping", "csat", ORDER),
        "customer_id": EMAIL,
        "touchpoint": "shipping",
        "metric": "csat",
        "order_id": ORDER,
        "expires_at": NOW + timedelta(days=30),
        "properties": PROPERTIES,
    }
    base.update(changes)
    return SurveyClaims(**base)


def assert_invalid(ring: KeyRing, token: str, now: datetime = NOW) -> None:
    with pytest.raises(ApiError) as caught:
        verify_token(ring, token, now)
    assert (caught.value.status, caught.value.code, caught.value.field) == (403, "invalid_token", "token")


def observer_views(token: str) -> list[bytes]:
    """Everything someone holding the URL can get out of the token without a key: the text itself,
    URL-decoded, and base64 (URL-safe and standard alphabets) decoded at every alignment, as bytes and
    as text in the usual encodings, and inflated when it happens to inflate."""
    texts = {token, urllib.parse.unquote(token), urllib.parse.unquote_plus(token)}
    views: list[bytes] = [text.encode() for text in texts]
    for text in texts:
        for skip, trim in itertools.product(range(4), range(4)):
            chunk = text[skip:len(text) - trim]
            for decode in (base64.urlsafe_b64decode, base64.b64decode):
                try:
                    raw = decode(chunk + "=" * (-len(chunk) % 4))
                except (binascii.Error, ValueError):
                    continue
                views.append(raw)
                views.extend(raw.decode(encoding, errors="ignore").encode("utf-8")
                             for encoding in ("utf-8", "latin-1", "utf-16-le", "utf-16-be"))
                for wbits in (15, -15, 31):
                    with contextlib.suppress(zlib.error):
                        views.append(zlib.decompress(raw, wbits))
    return views


def assert_nothing_readable(token: str, needles: list[str]) -> None:
    views = [view.lower() for view in observer_views(token)]
    for needle in needles:
        for form in {needle, needle.lower(), json.dumps(needle)}:
            assert not any(form.lower().encode() in view for view in views), f"{needle!r} readable in {token}"
        # Nor the base64 of the value at any alignment, which a grep of the URL would find
        for pad in range(3):
            encoded = b64url(b"\0" * pad + needle.encode())[(4 * pad + 2) // 3 + 1:-2]
            assert len(encoded) < 4 or encoded not in token, f"base64 of {needle!r} in {token}"


# ------------------------------------------------------------------ what an observer sees


def test_nothing_personal_can_be_read_from_a_new_token() -> None:
    # Given a link for a customer whose id is an email address, with an order and properties
    original = claims()
    # When it is minted
    token = mint_token(RING, original)
    # Then neither the customer id, the order id nor any property value can be read from it,
    # however an observer decodes it; nor the survey id, nor the metric or touchpoint
    assert_nothing_readable(token, [*SECRETS_IN_A_LINK, original.survey_id, "shipping", "csat", '"c"'])
    # While the link still carries them all for us
    verified = verify_token(RING, token, NOW)
    assert (verified.customer_id, verified.order_id, verified.properties) == (EMAIL, ORDER, PROPERTIES)


def test_a_legacy_token_was_readable_which_is_what_the_new_format_fixes() -> None:
    # Given the same claims in the legacy signed format (the observer check is a real check)
    import hashlib
    import hmac

    payload = {"v": 1, "k": "k2026", "s": "s", "c": EMAIL, "t": "shipping", "m": "csat", "o": ORDER, "e": 1,
               "p": PROPERTIES}
    payload_b64 = b64url(json.dumps(payload, separators=(",", ":")).encode())
    key = KEYS["k2026"].encode()
    legacy = f"{payload_b64}.{b64url(hmac.new(key, payload_b64.encode(), hashlib.sha256).digest())}"
    # Then the observer reads the email address from it
    with pytest.raises(AssertionError):
        assert_nothing_readable(legacy, [EMAIL])


def test_the_same_claims_give_a_different_token_each_time() -> None:
    # Given one set of claims minted twice
    first, second = mint_token(RING, claims()), mint_token(RING, claims())
    # Then the tokens share only the clear header (version and key id): links of one customer cannot be
    # matched to each other by their text
    header = len(b64url(bytes([2, 5]) + b"k2026")) - 1
    assert first[:header] == second[:header]
    assert first[header + 2:] != second[header + 2:]
    assert sum(a == b for a, b in zip(first[header + 2:], second[header + 2:], strict=False)) < len(first) // 4
    # And both verify to the same claims
    assert verify_token(RING, first, NOW) == verify_token(RING, second, NOW)


def test_a_typical_link_is_shorter_than_a_legacy_one() -> None:
    # Given a typical link (an order id, no properties) as the README's example mints it
    survey_id = survey_id_for("cust-42", "shipping", "csat", "A-1001")
    typical = claims(survey_id=survey_id, customer_id="cust-42", order_id="A-1001", properties=None)
    # Then its token is under 200 characters (the legacy token of the same claims is 212)
    assert len(mint_token(RING, typical)) <= 200


# ------------------------------------------------------------------ the documented layout


def test_token_layout_is_the_documented_one() -> None:
    # Given a token and only what docs/reference.md says about the format
    token = mint_token(RING, claims())
    raw = unb64url(token)
    assert b64url(raw) == token  # base64url, no padding
    # Then: version byte 2, key id length, key id, a 96-bit nonce, then AES-256-GCM ciphertext and tag
    version, key_id_length = raw[0], raw[1]
    header = raw[: 2 + key_id_length]
    nonce, sealed = raw[len(header): len(header) + 12], raw[len(header) + 12:]
    assert (version, header[2:]) == (2, b"k2026")
    # And the AES key is HKDF-SHA256 of the key string with the documented info and no salt
    info = b"touchpoint survey token v2 aes-256-gcm"
    aes_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(KEYS["k2026"].encode())
    payload = json.loads(AESGCM(aes_key).decrypt(nonce, sealed, header))
    # And the plaintext is the compact JSON of the claims
    assert payload == {"s": claims().survey_id, "c": EMAIL, "t": "shipping", "m": "csat", "o": ORDER,
                       "e": int((NOW + timedelta(days=30)).timestamp()), "p": PROPERTIES}
    assert len(sealed) == len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()) + 16


def seal(payload: Any, key_id: str = "k2026", key: str | None = None, version: int = 2,
         header_key_id: bytes | None = None) -> str:
    """A token built from the documented layout, not by tokens.py."""
    header_id = key_id.encode() if header_key_id is None else header_key_id
    header = bytes([version, len(header_id)]) + header_id
    info = b"touchpoint survey token v2 aes-256-gcm"
    aes_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive((key or KEYS[key_id]).encode())
    nonce = bytes(range(12))
    plaintext = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return b64url(header + nonce + AESGCM(aes_key).encrypt(nonce, plaintext, header))


GOOD = {"s": "s1", "c": "c1", "t": "support", "m": "csat", "e": int((NOW + timedelta(days=1)).timestamp())}


def test_a_token_built_from_the_documentation_verifies() -> None:
    verified = verify_token(RING, seal(GOOD), NOW)
    assert (verified.survey_id, verified.order_id, verified.properties, verified.key_id) == ("s1", None, None, "k2026")
    assert verify_token(RING, seal({**GOOD, "o": "o1"}, key_id="k2025"), NOW).key_id == "k2025"


@pytest.mark.parametrize("payload", [
    {k: v for k, v in GOOD.items() if k != "c"}, {**GOOD, "s": ""}, {**GOOD, "t": 7}, {**GOOD, "e": "soon"},
    {**GOOD, "e": 10**20}, {**GOOD, "o": ""}, {**GOOD, "p": ["not", "an", "object"]}, [GOOD], "text", None,
    b"not json", b"\xff\xfe\x00", b"",
])
def test_encrypted_payload_of_the_wrong_shape_is_403(payload: Any) -> None:
    # Given a genuine encryption, with our key, of something that is not a claims object
    # Then it is refused as tampered
    assert_invalid(RING, seal(payload))


def test_the_header_is_bound_to_the_ciphertext() -> None:
    # Given a genuine token whose clear header is rewritten to name the ring's other key
    token = seal(GOOD)
    raw = unb64url(token)
    other = bytes([2, 5]) + b"k2025" + raw[7:]
    # Then it is refused (the header is associated data), as is another version byte
    assert_invalid(RING, b64url(other))
    assert_invalid(RING, b64url(bytes([3]) + raw[1:]))
    assert_invalid(RING, b64url(bytes([1]) + raw[1:]))
    # And a sealed token whose header claims version 3, or whose key id is not UTF-8, is refused too
    assert_invalid(RING, seal(GOOD, version=3))
    assert_invalid(RING, seal(GOOD, header_key_id=b"\xff\xfe"))
    assert_invalid(RING, seal(GOOD, header_key_id=b""))


# ------------------------------------------------------------------ tampering


def test_changing_any_byte_of_a_token_is_403() -> None:
    # Given a genuine token
    token = mint_token(RING, claims(order_id="A-1001", properties=None))
    raw = unb64url(token)
    # When any single bit of any byte is flipped (version, key id, nonce, ciphertext, tag)
    for index in range(len(raw)):
        for bit in (0x01, 0x80):
            changed = bytearray(raw)
            changed[index] ^= bit
            # Then the token is refused
            assert_invalid(RING, b64url(bytes(changed)))


def test_changing_any_character_of_a_token_is_403() -> None:
    # Given a genuine token
    token = mint_token(RING, claims(order_id="A-1001", properties=None))
    alphabet = string.ascii_letters + string.digits + "-_"
    # When any character is replaced by another base64url character (the last one included, whose low
    # bits are not part of any byte)
    for index, char in enumerate(token):
        for other in {alphabet[(alphabet.index(char) + 1) % 64], alphabet[(alphabet.index(char) + 33) % 64]}:
            # Then the token is refused
            assert_invalid(RING, token[:index] + other + token[index + 1:])


def test_truncated_or_extended_tokens_are_403() -> None:
    token = mint_token(RING, claims(order_id="A-1001", properties=None))
    for end in range(len(token)):
        assert_invalid(RING, token[:end])
    for extra in ("A", "AA", "AAAA", "=", "==", ".", ".sig", "%3D"):
        assert_invalid(RING, token + extra)
    raw = unb64url(token)
    assert_invalid(RING, b64url(raw + b"\0"))
    assert_invalid(RING, b64url(raw[:-1]))


def test_a_removed_key_is_403_and_rotation_keeps_old_links() -> None:
    # Given a link minted with the old key alone
    old_ring = KeyRing({"k2025": KEYS["k2025"]})
    token = mint_token(old_ring, claims())
    # When the new key is appended, the old link still decrypts and new links use the new key
    assert verify_token(RING, token, NOW).key_id == "k2025"
    assert verify_token(RING, mint_token(RING, claims()), NOW).key_id == "k2026"
    # When the old key is removed, its link is refused
    assert_invalid(KeyRing({"k2026": KEYS["k2026"]}), token)


# ------------------------------------------------------------------ fuzzing

BASE64URL = st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=400)


def assert_only_403(token: str) -> None:
    try:
        verify_token(RING, token, NOW)
    except ApiError as error:
        assert (error.status, error.code) == (403, "invalid_token"), token
    else:
        raise AssertionError(f"a made-up token verified: {token!r}")


@settings(max_examples=400, **ROBUST)
@given(token=st.text(max_size=MAX_TOKEN_LENGTH + 10))
def test_random_strings_are_only_ever_403(token: str) -> None:
    assert_only_403(token)


@settings(max_examples=400, **ROBUST)
@given(token=BASE64URL | st.builds(lambda a, b: f"{a}.{b}", BASE64URL, BASE64URL))
def test_random_base64url_in_either_format_is_only_ever_403(token: str) -> None:
    assert_only_403(token)


@settings(max_examples=300, **ROBUST)
@given(key_id=st.sampled_from([b"k2025", b"k2026", b"", b"k"]), body=st.binary(max_size=300),
       version=st.sampled_from([0, 1, 2, 3, 255]))
def test_random_bodies_behind_a_plausible_header_are_only_ever_403(key_id: bytes, body: bytes, version: int) -> None:
    assert_only_403(b64url(bytes([version, len(key_id)]) + key_id + body))


@settings(max_examples=200, **ROBUST)
@given(data=st.data())
def test_random_edits_of_a_genuine_token_are_only_ever_403(data: st.DataObject) -> None:
    token = mint_token(RING, claims())
    raw = bytearray(unb64url(token))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(raw)))
    edited = b64url(bytes(raw[:cut] if data.draw(st.booleans()) else raw))
    assert_only_403(edited)
