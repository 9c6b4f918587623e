"""Survey tokens (docs/reference.md, "Survey tokens"): genuine links verify, anything altered is 403,
a genuine but expired link is 410, keys rotate without breaking links already sent, and links minted
in the legacy signed format (version 1) keep working until they expire.

What an observer can read from a current token, its byte layout and fuzzing: test_opaque_tokens.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from touchpoint.errors import ApiError
from touchpoint.surveys.tokens import MAX_TOKEN_LENGTH, KeyRing, SurveyClaims, mint_token, survey_id_for, verify_token
from touchpoint_local.testing import b64url, legacy_v1_token, unb64url

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
OLD_KEY = {"k2025": "old-key-0123456789abcdef"}
NEW_KEY = {"k2026": "new-key-fedcba9876543210"}


def claims(**changes) -> SurveyClaims:
    base = {
        "survey_id": "o" + "a" * 31,
        "customer_id": "cust-42",
        "touchpoint": "support",
        "metric": "csat",
        "order_id": "order-7",
        "expires_at": NOW + timedelta(days=30),
        "properties": {"channel": "email", "value": 12.5},
    }
    base.update(changes)
    return SurveyClaims(**base)


def legacy_v1(keys: dict[str, str], original: SurveyClaims | None = None, *, payload: Any = None,
              sign_with: str | None = None) -> str:
    """A legacy v1 link for ``original`` (or exactly ``payload``), signed with the ring's last key
    (or ``sign_with``)."""
    key_id = list(keys)[-1]
    if payload is None:
        original = original or claims()
        payload = {"v": 1, "k": key_id, "s": original.survey_id, "c": original.customer_id,
                   "t": original.touchpoint, "m": original.metric, "o": original.order_id,
                   "e": int(original.expires_at.timestamp())}
        if original.properties:
            payload["p"] = original.properties
    return legacy_v1_token(payload, sign_with or keys[key_id])


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1:]


def assert_invalid(ring: KeyRing, token: str, now: datetime = NOW) -> None:
    with pytest.raises(ApiError) as caught:
        verify_token(ring, token, now)
    assert (caught.value.status, caught.value.code, caught.value.field) == (403, "invalid_token", "token")


def assert_expired(ring: KeyRing, token: str, now: datetime = NOW) -> None:
    with pytest.raises(ApiError) as caught:
        verify_token(ring, token, now)
    assert (caught.value.status, caught.value.code, caught.value.field) == (410, "token_expired", "token")


# ------------------------------------------------------------------ current tokens


def test_round_trip_returns_every_claim() -> None:
    # Given a ring and a set of claims
    ring = KeyRing(NEW_KEY)
    original = claims()
    # When a token is minted and verified
    token = mint_token(ring, original)
    verified = verify_token(ring, token, NOW)
    # Then every claim comes back, with the id of the key that minted it
    assert verified.survey_id == original.survey_id
    assert verified.customer_id == "cust-42"
    assert verified.touchpoint == "support"
    assert verified.metric == "csat"
    assert verified.order_id == "order-7"
    assert verified.expires_at == original.expires_at
    assert verified.properties == {"channel": "email", "value": 12.5}
    assert verified.key_id == "k2026"


def test_round_trip_without_order_or_properties() -> None:
    # Given claims with neither an order nor properties
    ring = KeyRing(NEW_KEY)
    # When minted and verified
    verified = verify_token(ring, mint_token(ring, claims(order_id=None, properties=None)), NOW)
    # Then both come back as None
    assert verified.order_id is None
    assert verified.properties is None


def test_token_is_url_safe_and_carries_no_dot_or_padding() -> None:
    # Given claims full of characters a URL would have to escape
    ring = KeyRing(NEW_KEY)
    # When minted
    token = mint_token(ring, claims(customer_id="ünïcode/+?&= customer", properties={"q": "a+b/c?d=e&f"}))
    # Then the token is base64url without padding (no dot: that is the legacy format's separator)
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert set(token) <= allowed
    # And the claims survive the trip
    assert verify_token(ring, token, NOW).customer_id == "ünïcode/+?&= customer"


def test_token_of_another_key_ring_is_403() -> None:
    # Given a token minted by a ring we never had, under a key id we do have
    ours = KeyRing(NEW_KEY)
    theirs = KeyRing({"k2026": "attacker-key-0123456789"})
    token = mint_token(theirs, claims())
    # Then our ring refuses it
    assert_invalid(ours, token)
    # And a ring whose key ids differ from ours entirely is refused too
    assert_invalid(ours, mint_token(KeyRing({"k-other": "another-key-0123456789"}), claims()))


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "..", "abc", "a.b.c", "not-base64!.sig", "e30.sig", "bnVsbA.sig", "%%%.%%%", "a" * 40 + "." + "b" * 43,
     "A", "Ag", "AgVrMjAyNg", "AgVrMjAyNg" + "A" * 38, "AQ" + "A" * 60, "Aw" + "A" * 60, "A" * 61, "====",
     "AgVrMjAyNg==", "Ag Vr", "Ag\nVr", "Ag+Vr/"],
)
def test_garbage_is_403(garbage: str) -> None:
    # Given anything that is not a genuine token, in either format
    # Then it is refused as tampered
    assert_invalid(KeyRing(NEW_KEY), garbage)


def test_token_over_the_length_limit_is_403_even_if_genuine() -> None:
    # Given a genuine token longer than the limit
    ring = KeyRing(NEW_KEY)
    token = mint_token(ring, claims(properties={f"p{i}": "x" * 250 for i in range(20)}))
    assert len(token) > MAX_TOKEN_LENGTH
    # Then it is refused before anything else is looked at
    assert_invalid(ring, token)


def test_non_ascii_is_403_not_a_crash() -> None:
    # Given a genuine token with a non-ASCII character added (a raw UTF-8 path)
    ring = KeyRing(NEW_KEY)
    token = mint_token(ring, claims())
    # Then it is refused as tampered, not a crash
    assert_invalid(ring, token + "é")
    assert_invalid(ring, "é" + token)


def test_expired_genuine_token_is_410() -> None:
    ring = KeyRing(NEW_KEY)
    assert_expired(ring, mint_token(ring, claims(expires_at=NOW - timedelta(seconds=1))))


def test_expiry_is_exclusive_at_the_instant() -> None:
    ring = KeyRing(NEW_KEY)
    token = mint_token(ring, claims(expires_at=NOW))
    assert verify_token(ring, token, NOW - timedelta(seconds=1)).survey_id
    assert_expired(ring, token, NOW)


def test_verify_defaults_to_the_current_clock() -> None:
    ring = KeyRing(NEW_KEY)
    now = datetime.now(UTC)
    assert verify_token(ring, mint_token(ring, claims(expires_at=now + timedelta(hours=1)))).customer_id
    with pytest.raises(ApiError) as caught:
        verify_token(ring, mint_token(ring, claims(expires_at=now - timedelta(hours=1))))
    assert caught.value.status == 410


def test_tampered_expired_token_is_403_not_410() -> None:
    # Given an expired token with one character altered
    ring = KeyRing(NEW_KEY)
    token = mint_token(ring, claims(expires_at=NOW - timedelta(days=1)))
    # Then the forger does not learn that it expired: 403 wherever the change is
    for index in (0, 2, len(token) // 2, len(token) - 1):
        assert_invalid(ring, flip(token, index))


def test_rotation_old_key_still_verifies_while_listed() -> None:
    # Given a link minted before rotation
    token = mint_token(KeyRing(OLD_KEY), claims())
    # When a new key is appended (it now mints)
    rotated = KeyRing({**OLD_KEY, **NEW_KEY})
    # Then the old link still decrypts, reporting the old key id
    assert verify_token(rotated, token, NOW).key_id == "k2025"


def test_rotation_old_key_removed_rejects_its_tokens() -> None:
    # Given a link minted with a key that was then removed from the secret
    token = mint_token(KeyRing(OLD_KEY), claims())
    # Then it is refused, saying the key is no longer accepted
    with pytest.raises(ApiError) as caught:
        verify_token(KeyRing(NEW_KEY), token, NOW)
    assert (caught.value.status, caught.value.code) == (403, "invalid_token")
    assert "no longer accepted" in caught.value.message


def test_rotation_new_tokens_use_the_last_key() -> None:
    # Given a ring with an old and a new key
    rotated = KeyRing({**OLD_KEY, **NEW_KEY})
    assert rotated.active_key_id == "k2026"
    # When a token is minted (the claims cannot pick the key)
    token = mint_token(rotated, claims(key_id="k2025"))
    # Then its clear header names the new key
    raw = unb64url(token)
    assert raw[2:2 + raw[1]] == b"k2026"
    # And it decrypts with the new key alone, not with the old key alone
    assert verify_token(KeyRing(NEW_KEY), token, NOW).key_id == "k2026"
    assert_invalid(KeyRing(OLD_KEY), token)


@pytest.mark.parametrize("keys", [{}, {"k1": "short"}, {"": "a-long-enough-key-123"}, {"k1": 12345678901234567},
                                  {"k" * 256: "a-long-enough-key-123"}])
def test_key_ring_refuses_unusable_keys(keys: dict) -> None:
    with pytest.raises(ValueError):
        KeyRing(keys)


def test_key_ring_accepts_unicode_key_ids_up_to_255_bytes() -> None:
    # Given the longest key id the format carries (255 UTF-8 bytes), and a non-ASCII one
    for key_id in ("k" * 255, "clé-2026"):
        ring = KeyRing({key_id: "a-long-enough-key-123"})
        # Then its tokens round-trip and report it
        assert verify_token(ring, mint_token(ring, claims()), NOW).key_id == key_id


# ------------------------------------------------------------------ legacy tokens (version 1)


def test_legacy_v1_token_still_verifies_with_every_claim() -> None:
    # Given a link minted in the legacy signed format before tokens were encrypted
    original = claims()
    token = legacy_v1(NEW_KEY, original)
    assert token.count(".") == 1 and token.startswith("eyJ")
    # When it is verified by today's code
    verified = verify_token(KeyRing(NEW_KEY), token, NOW)
    # Then every claim comes back as it did before
    assert verified == SurveyClaims(survey_id=original.survey_id, customer_id="cust-42", touchpoint="support",
                                    metric="csat", order_id="order-7", expires_at=original.expires_at,
                                    properties={"channel": "email", "value": 12.5}, key_id="k2026")


def test_legacy_v1_token_without_order_or_properties() -> None:
    verified = verify_token(KeyRing(NEW_KEY), legacy_v1(NEW_KEY, claims(order_id=None, properties=None)), NOW)
    assert (verified.order_id, verified.properties) == (None, None)


def test_legacy_v1_token_verifies_after_rotation_and_not_after_removal() -> None:
    # Given a legacy link signed with the old key
    token = legacy_v1(OLD_KEY)
    # When a new key is appended, it still verifies under the old key id
    assert verify_token(KeyRing({**OLD_KEY, **NEW_KEY}), token, NOW).key_id == "k2025"
    # When the old key is removed, it is refused
    assert_invalid(KeyRing(NEW_KEY), token)


def test_legacy_v1_token_expired_is_410_and_tampered_expired_is_403() -> None:
    # Given an expired legacy link
    ring = KeyRing(NEW_KEY)
    token = legacy_v1(NEW_KEY, claims(expires_at=NOW - timedelta(days=1)))
    # Then it is 410 while genuine
    assert_expired(ring, token)
    # And 403 with its signature altered, or with its expiry pushed forward without re-signing
    payload_b64, signature = token.split(".")
    assert_invalid(ring, f"{payload_b64}.{flip(signature, 0)}")
    payload = json.loads(unb64url(payload_b64))
    payload["e"] = int((NOW + timedelta(days=30)).timestamp())
    assert_invalid(ring, f"{b64url(json.dumps(payload, separators=(',', ':')).encode())}.{signature}")


def test_legacy_v1_token_tampered_is_403() -> None:
    # Given a genuine legacy link
    ring = KeyRing(NEW_KEY)
    token = legacy_v1(NEW_KEY)
    payload_b64, signature = token.split(".")
    # When its payload is re-encoded with another customer (signature kept)
    payload = json.loads(unb64url(payload_b64))
    forged = f"{b64url(json.dumps({**payload, 'c': 'someone-else'}, separators=(',', ':')).encode())}.{signature}"
    # Then it is refused, as is any damage to the signature
    assert_invalid(ring, forged)
    assert_invalid(ring, f"{payload_b64}.{flip(signature, 0)}")
    assert_invalid(ring, f"{payload_b64}.")
    assert_invalid(ring, f"{payload_b64}.{signature}x")
    assert_invalid(ring, f"{payload_b64}.{signature}.{signature}")
    assert_invalid(ring, f"{payload_b64}.é")
    # And so is a legacy link signed by a key outside the ring under one of our key ids
    assert_invalid(ring, legacy_v1(NEW_KEY, sign_with="attacker-key-0123456789"))


def test_legacy_v1_signed_payload_with_wrong_version_or_missing_claims_is_403() -> None:
    # Given legacy links signed with our key but not of the legacy shape
    ring = KeyRing(NEW_KEY)
    good = {"v": 1, "k": "k2026", "s": "s1", "c": "c1", "t": "support", "m": "csat", "o": None,
            "e": int((NOW + timedelta(days=1)).timestamp())}
    assert verify_token(ring, legacy_v1(NEW_KEY, payload=good), NOW).survey_id == "s1"
    # Then each is refused
    for payload in ({**good, "v": 2}, {k: v for k, v in good.items() if k != "v"},
                    {k: v for k, v in good.items() if k != "c"}, {**good, "s": ""}, {**good, "e": "soon"},
                    {**good, "e": 10**20}, {**good, "p": ["not", "an", "object"]}, [good]):
        assert_invalid(ring, legacy_v1(NEW_KEY, payload=payload))


def test_legacy_v1_deeply_nested_payload_is_403_not_a_crash() -> None:
    # Given an unsigned "payload" of nested arrays, deep enough to exhaust the JSON decoder's recursion
    token = b64url(b"[" * 2000) + ".c2ln"
    assert len(token) <= MAX_TOKEN_LENGTH
    # Then it is refused as tampered (it used to escape as RecursionError, a 500)
    assert_invalid(KeyRing(NEW_KEY), token)


# ------------------------------------------------------------------ survey ids


def test_survey_id_is_deterministic_with_an_order() -> None:
    first = survey_id_for("cust-1", "shipping", "csat", "order-9")
    assert first == survey_id_for("cust-1", "shipping", "csat", "order-9")
    # Any part that differs gives another survey
    assert first != survey_id_for("cust-2", "shipping", "csat", "order-9")
    assert first != survey_id_for("cust-1", "packaging", "csat", "order-9")
    assert first != survey_id_for("cust-1", "shipping", "nps", "order-9")
    assert first != survey_id_for("cust-1", "shipping", "csat", "order-10")
    # No ambiguity from naive concatenation
    assert survey_id_for("a|b", "c", "csat", "o") != survey_id_for("a", "b|c", "csat", "o")


def test_survey_id_is_random_without_an_order() -> None:
    ids = {survey_id_for("cust-1", "shipping", "csat", None) for _ in range(50)}
    assert len(ids) == 50
    assert not ids & {survey_id_for("cust-1", "shipping", "csat", "order-9")}


def test_survey_ids_are_safe_key_material() -> None:
    for survey_id in (survey_id_for("c", "t", "nps", "o"), survey_id_for("c", "t", "nps", None)):
        assert 16 <= len(survey_id) <= 32
        assert survey_id.isalnum() and survey_id.isascii()
