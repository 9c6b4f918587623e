"""Bot signals: a honeypot field and a signed render time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from touchpoint.surveys.bots import bot_reason, render_stamp
from touchpoint.surveys.tokens import KeyRing

RING = KeyRing({"old": "an-old-token-key-0123456789", "new": "a-new-token-key-9876543210"})
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_a_person_who_took_a_few_seconds_is_not_suspected():
    stamp = render_stamp(RING, "tok", NOW)
    assert bot_reason(RING, "tok", {"rendered": stamp}, True, NOW + timedelta(seconds=5)) is None


def test_a_form_posted_within_two_seconds_of_rendering_is_too_fast():
    stamp = render_stamp(RING, "tok", NOW)
    assert bot_reason(RING, "tok", {"rendered": stamp}, True, NOW + timedelta(seconds=1)) == "too_fast"


def test_a_filled_honeypot_is_suspected_for_forms_and_json():
    stamp = render_stamp(RING, "tok", NOW)
    later = NOW + timedelta(minutes=1)
    assert bot_reason(RING, "tok", {"rendered": stamp, "website": "http://spam"}, True, later) == "honeypot"
    assert bot_reason(RING, "tok", {"website": "x"}, False, later) == "honeypot"


def test_a_back_dated_or_foreign_stamp_does_not_pass():
    # Given a stamp for another link, and one whose time was edited to look older
    other = render_stamp(RING, "other-token", NOW)
    millis, mac = render_stamp(RING, "tok", NOW).split(".")
    backdated = f"{int(millis) - 60_000}.{mac}"
    later = NOW + timedelta(minutes=1)
    assert bot_reason(RING, "tok", {"rendered": other}, True, later) == "form_without_rendered_page"
    assert bot_reason(RING, "tok", {"rendered": backdated}, True, later) == "form_without_rendered_page"
    assert bot_reason(RING, "tok", {}, True, later) == "form_without_rendered_page"
    assert bot_reason(RING, "tok", {"rendered": "１２.x"}, True, later) == "form_without_rendered_page"


def test_a_stamp_from_before_a_key_rotation_still_verifies():
    stamp = render_stamp(KeyRing({"old": "an-old-token-key-0123456789"}), "tok", NOW)
    assert bot_reason(RING, "tok", {"rendered": stamp}, True, NOW + timedelta(seconds=30)) is None


def test_json_answers_without_a_page_are_not_suspected():
    assert bot_reason(RING, "tok", {}, False, NOW) is None
