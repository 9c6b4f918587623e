"""Helpdesk signatures of SPEC §3: good, bad, stale, future and missing, for every provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from touchpoint.errors import ApiError
from touchpoint.tickets import PROVIDERS, sign, verify_signature
from touchpoint_local.testing import TIMESTAMPED

SECRET = "s3cr3t-for-tests"
BODY = b'{"ticket_id":"35501","event":"solved"}'
NOW = datetime(2026, 11, 22, 15, 4, 5, tzinfo=UTC)
SIGNING = tuple(provider for provider in PROVIDERS if provider != "freshdesk")
SIGNATURE_HEADER = {
    "zendesk": "X-Zendesk-Webhook-Signature",
    "intercom": "X-Hub-Signature",
    "helpscout": "X-HelpScout-Signature",
    "chatwoot": "X-Chatwoot-Signature",
    "generic": "X-Touchpoint-Signature",
    "freshdesk": "X-Touchpoint-Secret",
}
TIMESTAMP_HEADER = {
    "zendesk": "X-Zendesk-Webhook-Signature-Timestamp",
    "chatwoot": "X-Chatwoot-Timestamp",
    "generic": "X-Touchpoint-Timestamp",
}
# Computed independently with hmac/hashlib/base64 over BODY, SECRET and NOW (1795359845).
DOTTED_ANSWER = "sha256=4a0071008f0e8851d7400e0da0f5a8b2475c73f9d5628fd997e9ecfa0dc51779"
KNOWN_ANSWERS = {
    "zendesk": {"X-Zendesk-Webhook-Signature": "VYAhE6Z5Rzpre9EWFoivZjyrN84R5sBgh1qFEfF4X9M=",
                "X-Zendesk-Webhook-Signature-Timestamp": "2026-11-22T15:04:05Z"},
    "intercom": {"X-Hub-Signature": "sha1=8ef3eafcd80b3ba3e22050aeca691ab9f6d02e93"},
    "helpscout": {"X-HelpScout-Signature": "jvPq/NgLO6PiIFCuymkaufbQLpM="},
    "chatwoot": {"X-Chatwoot-Signature": DOTTED_ANSWER, "X-Chatwoot-Timestamp": "1795359845"},
    "generic": {"X-Touchpoint-Signature": DOTTED_ANSWER, "X-Touchpoint-Timestamp": "1795359845"},
    "freshdesk": {"X-Touchpoint-Secret": SECRET},
}


def refused(provider: str, headers: dict[str, str], body: bytes = BODY, secret: str = SECRET,
            now: datetime = NOW) -> ApiError:
    with pytest.raises(ApiError) as raised:
        verify_signature(provider, headers, body, secret, now)
    assert raised.value.status == 401
    return raised.value


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_documented_scheme_verifies(provider: str) -> None:
    # Given headers computed by hand from the SPEC §3 table
    headers = KNOWN_ANSWERS[provider]

    # When verified (no exception is the pass)
    verify_signature(provider, headers, BODY, SECRET, NOW)

    # Then sign() produces exactly those headers too
    assert sign(provider, BODY, SECRET, NOW) == headers


@pytest.mark.parametrize("provider", PROVIDERS)
def test_header_names_are_case_insensitive(provider: str) -> None:
    # Given genuine headers in lower and upper case, as API Gateway may deliver them
    for transform in (str.lower, str.upper):
        headers = {transform(name): value for name, value in sign(provider, BODY, SECRET, NOW).items()}

        # When verified / Then it passes
        verify_signature(provider, headers, BODY, SECRET, NOW)


@pytest.mark.parametrize("provider", SIGNING)
def test_a_tampered_body_is_refused(provider: str) -> None:
    # Given a genuine signature for another body
    headers = sign(provider, BODY, SECRET, NOW)

    # When the body changed in transit
    error = refused(provider, headers, body=BODY.replace(b"solved", b"closed"))

    # Then it is an invalid signature
    assert error.code == "invalid_signature"


def test_freshdesk_authenticates_the_sender_not_the_body() -> None:
    # Given Freshdesk, which does not sign (SPEC §3: the shared secret must match)
    headers = sign("freshdesk", BODY, SECRET, NOW)

    # When any body arrives with the right secret / Then it passes: only TLS protects the body
    verify_signature("freshdesk", headers, BODY.replace(b"solved", b"closed"), SECRET, NOW)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_signature_made_with_another_secret_is_refused(provider: str) -> None:
    # Given a sender who does not know our secret
    headers = sign(provider, BODY, "guessed-secret", NOW)

    # When verified / Then refused
    assert refused(provider, headers).code == "invalid_signature"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_missing_signature_header_is_refused(provider: str) -> None:
    # Given a genuine delivery stripped of its signature header
    headers = sign(provider, BODY, SECRET, NOW)
    del headers[SIGNATURE_HEADER[provider]]

    # When verified / Then refused, naming the header
    error = refused(provider, headers)
    assert error.code == "invalid_signature" and SIGNATURE_HEADER[provider] in error.message


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("garbage", ["", "   ", "sha256=", "not-base64!!", "sha1=zz", "é☃"])
def test_a_garbled_signature_is_refused(provider: str, garbage: str) -> None:
    # Given a signature header holding garbage
    headers = {**sign(provider, BODY, SECRET, NOW), SIGNATURE_HEADER[provider]: garbage}

    # When verified / Then refused, never crashing
    assert refused(provider, headers).code == "invalid_signature"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_empty_configured_secret_never_verifies(provider: str) -> None:
    # Given a deployment that forgot the secret, and a sender signing with the empty key
    headers = sign(provider, BODY, "", NOW)

    # When verified with the empty secret / Then refused
    assert refused(provider, headers, secret="").code == "invalid_signature"


@pytest.mark.parametrize("provider", TIMESTAMPED)
@pytest.mark.parametrize("skew", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1),
                                  timedelta(hours=-6), timedelta(days=3)])
def test_timestamps_outside_five_minutes_are_stale(provider: str, skew: timedelta) -> None:
    # Given a genuine signature made at NOW + skew (a replay from the past, or a clock far ahead)
    headers = sign(provider, BODY, SECRET, NOW + skew)

    # When verified at NOW / Then refused as stale, not as forged
    assert refused(provider, headers).code == "stale_signature"


@pytest.mark.parametrize("provider", TIMESTAMPED)
@pytest.mark.parametrize("skew", [timedelta(minutes=-5), timedelta(0), timedelta(minutes=5)])
def test_timestamps_within_five_minutes_are_fresh(provider: str, skew: timedelta) -> None:
    # Given a genuine signature made up to 5 minutes before or after NOW
    headers = sign(provider, BODY, SECRET, NOW + skew)

    # When verified at NOW / Then accepted
    verify_signature(provider, headers, BODY, SECRET, NOW)


@pytest.mark.parametrize("provider", TIMESTAMPED)
def test_a_missing_timestamp_is_refused(provider: str) -> None:
    # Given a genuine delivery without its timestamp header
    headers = sign(provider, BODY, SECRET, NOW)
    del headers[TIMESTAMP_HEADER[provider]]

    # When verified / Then refused
    assert refused(provider, headers).code == "invalid_signature"


@pytest.mark.parametrize("provider", TIMESTAMPED)
@pytest.mark.parametrize("timestamp", ["yesterday", "2026-11-22T15:04:05", "99999999999999999999", "-5",
                                       "1e9"])
def test_a_garbled_timestamp_is_refused(provider: str, timestamp: str) -> None:
    # Given a timestamp that is not a zoned time, even with a signature computed over it
    headers = sign(provider, BODY, SECRET, NOW)
    headers[TIMESTAMP_HEADER[provider]] = timestamp

    # When verified / Then refused as invalid
    assert refused(provider, headers).code == "invalid_signature"


@pytest.mark.parametrize("provider", TIMESTAMPED)
def test_a_shifted_timestamp_breaks_the_signature(provider: str) -> None:
    # Given a replay whose timestamp header was rewritten to look fresh
    headers = sign(provider, BODY, SECRET, NOW - timedelta(hours=1))
    headers[TIMESTAMP_HEADER[provider]] = sign(provider, BODY, SECRET, NOW)[TIMESTAMP_HEADER[provider]]

    # When verified / Then the MAC no longer matches
    assert refused(provider, headers).code == "invalid_signature"


@pytest.mark.parametrize("provider", ["chatwoot", "generic"])
def test_dotted_schemes_also_accept_an_iso_timestamp(provider: str) -> None:
    # Given a sender that signs with an ISO 8601 timestamp instead of unix seconds
    timestamp = "2026-11-22T15:06:00+00:00"
    headers = {SIGNATURE_HEADER[provider]: _dotted(timestamp), TIMESTAMP_HEADER[provider]: timestamp}

    # When verified / Then accepted
    verify_signature(provider, headers, BODY, SECRET, NOW)


def test_zendesk_signs_the_timestamp_as_sent() -> None:
    # Given a Zendesk timestamp written with an offset rather than Z
    import base64
    import hashlib
    import hmac

    timestamp = "2026-11-22T16:04:05+01:00"
    digest = hmac.new(SECRET.encode(), timestamp.encode() + BODY, hashlib.sha256).digest()
    headers = {"X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
               "X-Zendesk-Webhook-Signature-Timestamp": timestamp}

    # When verified / Then the MAC covers the exact header text and the window the instant
    verify_signature("zendesk", headers, BODY, SECRET, NOW)


def test_intercom_hex_is_case_blind() -> None:
    # Given Intercom's signature in upper-case hex
    headers = {"X-Hub-Signature": KNOWN_ANSWERS["intercom"]["X-Hub-Signature"].upper()}

    # When verified / Then accepted
    verify_signature("intercom", headers, BODY, SECRET, NOW)


def test_freshdesk_compares_the_shared_secret() -> None:
    # Given the Freshdesk header holding a near-miss of the secret
    # When verified / Then refused
    assert refused("freshdesk", {"X-Touchpoint-Secret": SECRET + "x"}).code == "invalid_signature"


def test_an_unknown_provider_is_unprocessable() -> None:
    # Given a provider outside SPEC §3
    # When verified or signed
    calls = (lambda: verify_signature("jira", {}, BODY, SECRET, NOW), lambda: sign("jira", BODY, SECRET, NOW))
    for call in calls:
        with pytest.raises(ApiError) as raised:
            call()

        # Then it is SPEC's 422 for an unknown provider
        assert (raised.value.status, raised.value.code) == (422, "unknown_provider")


def test_now_must_be_timezone_aware() -> None:
    # Given a caller passing a naive clock reading
    # When verifying / Then it is a programming error, not a client error
    with pytest.raises(ValueError, match="timezone-aware"):
        naive_now = NOW.replace(tzinfo=None)
        verify_signature("generic", sign("generic", BODY, SECRET, NOW), BODY, SECRET, naive_now)


def _dotted(timestamp: str) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + BODY, hashlib.sha256).hexdigest()
