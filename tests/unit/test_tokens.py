"""Signed survey tokens (SPEC §3, "Survey tokens"): genuine links verify, anything altered is 403,
a genuine but expired link is 410, and keys rotate without breaking links already sent."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from touchpoint.errors import ApiError
from touchpoint.surveys.tokens import MAX_TOKEN_LENGTH, KeyRing, SurveyClaims, mint_token, survey_id_for, verify_token

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


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def assert_invalid(ring: KeyRing, token: str, now: datetime = NOW) -> None:
    with pytest.raises(ApiError) as caught:
        verify_token(ring, token, now)
    assert (caught.value.status, caught.value.code, caught.value.field) == (403, "invalid_token", "token")


def test_round_trip_returns_every_claim() -> None:
    # Given a ring and a set of claims
    ring = KeyRing(NEW_KEY)
    original = claims()
    # When a token is minted and verified
    token = mint_token(ring, original)
    verified = verify_token(ring, token, NOW)
    # Then every claim comes back, with the signing key's id
    assert verified.survey_id == original.survey_id
    assert verified.customer_id == "cust-42"
    assert verified.touchpoint == "support"
    assert verified.metric == "csat"
    assert verified.order_id == "order-7"
    assert verified.expires_at == original.expires_at
    assert verified.properties == {"channel": "email", "value": 12.5}
    assert verified.key_id == "k2026"


def test_round_trip_without_order_or_properties() -> None:
    ring = KeyRing(NEW_KEY)
    verified = verify_token(ring, mint_token(ring, claims(order_id=None, properties=None)), NOW)
    assert verified.order_id is None
    assert verified.properties is None


def test_token_is_url_safe() -> None:
    ring = KeyRing(NEW_KEY)
    token = mint_token(ring, claims(customer_id="ünïcode/+?&= customer", properties={"q": "a+b/c?d=e&f"}))
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert set(token) <= allowed
    assert verify_token(ring, token, NOW).customer_id == "ünïcode/+?&= customer"


def test_tampered_payload_is_403() -> None:
    # Given a genuine token
    ring = KeyRing(NEW_KEY)
    payload_b64, signature = mint_token(ring, claims()).split(".")
    # When its payload is re-encoded with another customer (signature kept)
    payload = json.loads(unb64(payload_b64))
    payload["c"] = "someone-else"
    forged = f"{b64(json.dumps(payload, separators=(',', ':')).encode())}.{signature}"
    # Then it is refused as tampered
    assert_invalid(ring, forged)


def test_tampered_signature_is_403() -> None:
    ring = KeyRing(NEW_KEY)
    payload_b64, signature = mint_token(ring, claims()).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert_invalid(ring, f"{payload_b64}.{flipped}")
    assert_invalid(ring, f"{payload_b64}.")
    assert_invalid(ring, f"{payload_b64}.{signature}x")


def test_token_signed_with_a_key_outside_the_ring_is_403() -> None:
    # Given a token signed by a key we never had, using a key id we do have
    ours = KeyRing(NEW_KEY)
    attacker = KeyRing({"k2026": "attacker-key-0123456789"})
    assert_invalid(ours, mint_token(attacker, claims()))


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "..", "abc", "a.b.c", "not-base64!.sig", "e30.sig", "bnVsbA.sig", "%%%.%%%", "a" * 40 + "." + "b" * 43],
)
def test_garbage_is_403(garbage: str) -> None:
    assert_invalid(KeyRing(NEW_KEY), garbage)


def test_token_over_the_length_limit_is_403_even_if_genuine() -> None:
    ring = KeyRing(NEW_KEY)
    token = mint_token(ring, claims(properties={f"p{i}": "x" * 250 for i in range(20)}))
    assert len(token) > MAX_TOKEN_LENGTH
    assert_invalid(ring, token)


def test_signed_payload_with_wrong_version_or_missing_claims_is_403() -> None:
    # Tokens signed with our key but not of our shape (as a future or older minting code might make).
    import hashlib
    import hmac

    key = NEW_KEY["k2026"].encode()

    def signed(payload: object) -> str:
        p = b64(json.dumps(payload).encode())
        return f"{p}.{b64(hmac.new(key, p.encode(), hashlib.sha256).digest())}"

    ring = KeyRing(NEW_KEY)
    good = {"v": 1, "k": "k2026", "s": "s1", "c": "c1", "t": "support", "m": "csat", "o": None,
            "e": int((NOW + timedelta(days=1)).timestamp())}
    assert verify_token(ring, signed(good), NOW).survey_id == "s1"
    assert_invalid(ring, signed({**good, "v": 2}))
    assert_invalid(ring, signed({k: v for k, v in good.items() if k != "c"}))
    assert_invalid(ring, signed({**good, "s": ""}))
    assert_invalid(ring, signed({**good, "e": "soon"}))
    assert_invalid(ring, signed({**good, "p": ["not", "an", "object"]}))
    assert_invalid(ring, signed([good]))


def test_non_ascii_signature_is_403_not_a_crash() -> None:
    # Given a genuine payload with a signature made of non-ASCII characters (a raw UTF-8 path)
    ring = KeyRing(NEW_KEY)
    payload_b64, _ = mint_token(ring, claims()).split(".")
    # Then it is refused as tampered, not a crash
    assert_invalid(ring, f"{payload_b64}.é")


def test_expired_genuine_token_is_410() -> None:
    ring = KeyRing(NEW_KEY)
    token = mint_token(ring, claims(expires_at=NOW - timedelta(seconds=1)))
    with pytest.raises(ApiError) as caught:
        verify_token(ring, token, NOW)
    assert (caught.value.status, caught.value.code, caught.value.field) == (410, "token_expired", "token")


def test_expiry_is_exclusive_at_the_instant() -> None:
    ring = KeyRing(NEW_KEY)
    token = mint_token(ring, claims(expires_at=NOW))
    assert verify_token(ring, token, NOW - timedelta(seconds=1)).survey_id
    with pytest.raises(ApiError) as caught:
        verify_token(ring, token, NOW)
    assert caught.value.status == 410


def test_verify_defaults_to_the_current_clock() -> None:
    ring = KeyRing(NEW_KEY)
    now = datetime.now(UTC)
    assert verify_token(ring, mint_token(ring, claims(expires_at=now + timedelta(hours=1)))).customer_id
    with pytest.raises(ApiError) as caught:
        verify_token(ring, mint_token(ring, claims(expires_at=now - timedelta(hours=1))))
    assert caught.value.status == 410


def test_tampered_expired_token_is_403_not_410() -> None:
    # Given an expired token whose signature is altered
    ring = KeyRing(NEW_KEY)
    payload_b64, signature = mint_token(ring, claims(expires_at=NOW - timedelta(days=1))).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    # Then the forger does not learn that it expired: 403
    assert_invalid(ring, f"{payload_b64}.{flipped}")
    # And an expired payload whose expiry is pushed forward without re-signing is also 403
    payload = json.loads(unb64(payload_b64))
    payload["e"] = int((NOW + timedelta(days=30)).timestamp())
    assert_invalid(ring, f"{b64(json.dumps(payload, separators=(',', ':')).encode())}.{signature}")


def test_rotation_old_key_still_verifies_while_listed() -> None:
    # Given a link minted before rotation
    token = mint_token(KeyRing(OLD_KEY), claims())
    # When a new key is appended (it now signs)
    rotated = KeyRing({**OLD_KEY, **NEW_KEY})
    # Then the old link still verifies, reporting the old key id
    assert verify_token(rotated, token, NOW).key_id == "k2025"


def test_rotation_old_key_removed_rejects_its_tokens() -> None:
    token = mint_token(KeyRing(OLD_KEY), claims())
    with pytest.raises(ApiError) as caught:
        verify_token(KeyRing(NEW_KEY), token, NOW)
    assert (caught.value.status, caught.value.code) == (403, "invalid_token")


def test_rotation_new_tokens_use_the_last_key() -> None:
    rotated = KeyRing({**OLD_KEY, **NEW_KEY})
    assert rotated.active_key_id == "k2026"
    token = mint_token(rotated, claims(key_id="k2025"))  # the claims cannot pick the key
    payload = json.loads(unb64(token.split(".")[0]))
    assert payload["k"] == "k2026"
    # Verifiable with the new key alone, not with the old key alone
    assert verify_token(KeyRing(NEW_KEY), token, NOW).key_id == "k2026"
    assert_invalid(KeyRing(OLD_KEY), token)


@pytest.mark.parametrize("keys", [{}, {"k1": "short"}, {"": "a-long-enough-key-123"}, {"k1": 12345678901234567}])
def test_key_ring_refuses_unusable_keys(keys: dict) -> None:
    with pytest.raises(ValueError):
        KeyRing(keys)


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
