"""The scorecard email (SPEC §6 and §8): a multipart message (plain text + HTML + CSV attachment) that
renders in mail clients, escapes user text, neutralizes spreadsheet formulas and refuses header
injection."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from touchpoint.catalog import parse_catalog
from touchpoint.scorecards.compute import build_scorecard
from touchpoint.scorecards.csv import FORMULA_TRIGGERS, neutralize_cell, render_csv
from touchpoint.scorecards.email import render_email, render_html, render_text

CATALOG = parse_catalog("""
name: tiny
brand: Tiny Shop
touchpoints:
  - {id: website, label: Website, family: cx, stage: consideration, metric: ces}
  - {id: shipping, label: Shipping & delivery, family: cx, stage: delivery, metric: csat}
  - {id: relationship, label: Overall relationship, family: cx, stage: loyalty, metric: nps}
  - {id: support, label: Support, family: cs, stage: support, metric: csat}
ticket_mapping:
  default: support
""")
SCRIPT = "<script>alert('x')</script>"
IMG = '<img src=x onerror="alert(1)">'
FORMULA = '=HYPERLINK("http://x")'
COMMENTS = [
    {"touchpoint": "relationship", "metric": "nps", "score": 0, "comment": SCRIPT,
     "submitted_at": "2026-11-17T08:00:00Z"},
    {"touchpoint": "support", "score": 1, "comment": IMG, "submitted_at": "2026-11-18T09:30:00Z"},
    {"touchpoint": "shipping", "score": 2, "comment": FORMULA, "submitted_at": "2026-11-19T10:00:00Z"},
]


def day(date: str, sk: str) -> tuple[str, str]:
    return f"ROLLUP#D#{date}", sk


@pytest.fixture(scope="module")
def scorecard() -> dict:
    last_week = build_scorecard("2026-W46", {
        day("2026-11-10", "TP#relationship"): {"nps_10": 20, "nps_8": 10, "nps_3": 10},
        day("2026-11-10", "CH#email"): {"solved": 40, "fcr": 26, "reopened": 6},
    }, {}, CATALOG)
    return build_scorecard("2026-W47", {
        day("2026-11-16", "TP#relationship"): {"nps_10": 25, "nps_7": 10, "nps_2": 5,
                                               "s2e_fcr_10": 6, "s2e_nonfcr_2": 3},
        day("2026-11-17", "TP#shipping"): {"csat_5": 30, "csat_2": 4},
        day("2026-11-17", "TP#support"): {"csat_5": 6, "csat_1": 2},
        day("2026-11-18", "CH#email"): {"solved": 50, "fcr": 37, "reopened": 4, "aht_n": 50, "aht_sum": 25000,
                                        "frt_n": 50, "frt_sum": 90000, "frt_b700": 50, "res_n": 50, "res_b900": 50},
        day("2026-11-18", "CH#chat"): {"solved": 3, "fcr": 3},
    }, {"2026-W47": {"active": 60, "retained": 20, "returning": 30}, "2026-W46": {"active": 70}},
        CATALOG, previous=last_week, top_comments=COMMENTS)


@pytest.fixture(scope="module")
def empty_scorecard() -> dict:
    return build_scorecard("2026-W47", {}, {}, CATALOG)


def send(scorecard: dict, **overrides) -> EmailMessage:
    options = {"brand": "Tiny Shop", "sender": "Scorecards <scorecards@tiny.example>",
               "recipients": ["ops@tiny.example", "cx-lead@tiny.example"],
               "sent_at": datetime(2026, 11, 23, 7, 0, tzinfo=UTC)}
    return render_email(scorecard, **{**options, **overrides})


def parsed(message: EmailMessage) -> EmailMessage:
    # What a mail client sees: the serialized bytes, parsed again.
    return message_from_bytes(message.as_bytes(), policy=default)


def parts(message: EmailMessage) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}


# Structure --------------------------------------------------------------------------------------------
def test_message_is_mixed_with_alternative_text_and_html_and_a_csv_attachment(scorecard: dict) -> None:
    # Given a scorecard, When the email is rendered and parsed back
    message = parsed(send(scorecard))
    # Then it is multipart/mixed [multipart/alternative [text/plain, text/html], text/csv]
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "scorecard-2026-W47.csv"
    assert attachment.get_content_charset() == "utf-8"
    # And the headers are what was asked for
    assert message["Subject"] == "Touchpoint scorecard · Tiny Shop · 2026-W47"
    assert message["From"].addresses[0].addr_spec == "scorecards@tiny.example"
    assert [a.addr_spec for a in message["To"].addresses] == ["ops@tiny.example", "cx-lead@tiny.example"]
    assert message["Date"].datetime == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def test_wire_format_is_seven_bit_with_short_crlf_lines(scorecard: dict) -> None:
    # Given the serialized message (SES takes it raw)
    raw = send(scorecard).as_bytes()
    # Then it is ASCII with CRLF line ends and no line over the RFC 5322 limit
    raw.decode("ascii")
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_message_id_is_stable_for_a_period_and_recipient_list(scorecard: dict) -> None:
    # Given the same period sent twice to the same list (in another order, with a duplicate)
    first = send(scorecard)
    again = send(scorecard, recipients=["CX-lead@tiny.example", "ops@tiny.example", "ops@tiny.example"])
    other = send(scorecard, recipients=["ops@tiny.example"])
    # Then the Message-ID is the same, the duplicate recipient is dropped, and another list differs
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert len(again["To"].addresses) == 2


# Escaping and neutralizing ---------------------------------------------------------------------------
def test_hostile_comments_are_escaped_in_html_and_literal_in_text(scorecard: dict) -> None:
    # Given comments carrying a script and an image with an onerror handler
    content = parts(parsed(send(scorecard)))
    html, text = content["text/html"], content["text/plain"]
    # Then the HTML shows them as text, never as markup
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    # And the plain text shows them exactly as written
    assert SCRIPT in text and IMG in text and FORMULA in text
    # And the touchpoint labels are escaped too
    assert "Shipping &amp; delivery" in html


def test_brand_is_escaped_in_html(scorecard: dict) -> None:
    html = render_html(scorecard, "Evil <b onmouseover=alert(1)>Shop</b>")
    assert "<b onmouseover" not in html and "Evil &lt;b onmouseover=alert(1)&gt;Shop&lt;/b&gt;" in html


def test_formula_comment_is_neutralized_in_the_csv_attachment(scorecard: dict) -> None:
    # Given the CSV attachment of the parsed message
    attachment = parts(parsed(send(scorecard)))["text/csv"]
    rows = list(csv.reader(io.StringIO(attachment)))
    cells = [cell for row in rows for cell in row]
    # Then the formula comment starts with a quote, and no cell starts with a formula character
    assert "'" + FORMULA in cells
    assert not [cell for cell in cells if cell.startswith(FORMULA_TRIGGERS)]
    # And negative numbers (NPS deltas) are neutralized like everything else
    assert any(cell.startswith("'-") for cell in cells)
    # And the file is the same as render_csv gives, with CRLF rows
    assert attachment.splitlines() == render_csv(scorecard).splitlines()


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\nx"])
def test_each_formula_trigger_is_neutralized(cell: str) -> None:
    assert neutralize_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["", "42", "Shipping", "a=b", "'quoted"])
def test_ordinary_cells_are_untouched(cell: str) -> None:
    assert neutralize_cell(cell) == cell


# Header injection ---------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides", [
    {"subject_prefix": "Scorecard\r\nBcc: victim@example.com"},
    {"subject_prefix": "Scorecard\nX-Evil: 1"},
    {"brand": "Tiny\r\nBcc: victim@example.com"},
    {"brand": "Tiny\rShop"},
    {"brand": ""},
    {"sender": "scorecards@tiny.example\r\nBcc: victim@example.com"},
    {"recipients": ["ops@tiny.example\r\nBcc: victim@example.com"]},
    {"recipients": ["ops@tiny.example, victim@example.com"]},
    {"recipients": ["not an address"]},
    {"recipients": ["<@x>"]},
    {"recipients": []},
])
def test_header_injection_and_bad_addresses_are_refused(scorecard: dict, overrides: dict) -> None:
    with pytest.raises(ValueError):
        send(scorecard, **overrides)


# Content ------------------------------------------------------------------------------------------
def test_null_metrics_render_as_a_dash_never_none(empty_scorecard: dict) -> None:
    # Given a period without any data
    content = parts(parsed(send(empty_scorecard)))
    html, text = content["text/html"], content["text/plain"]
    # Then no value prints as "None" or "nan", and missing values show as an em dash
    for body in (html, text):
        assert "None" not in body and not re.search(r"\bnan\b", body, re.IGNORECASE)
        assert "—" in body
        assert "No data" in body
    assert "No survey responses this period." in html and "No tickets solved this period." in text
    assert "no previous period to compare with" in text


def test_html_shows_both_scorecards_with_previous_delta_moe_flags_and_status(scorecard: dict) -> None:
    html = render_html(scorecard, "Tiny Shop")
    cx, cs = html.index("Customer experience (CX)"), html.index("Customer service (CS)")
    s2e = html.index("Service &rarr; experience")
    # The CX section comes first, the service → experience comparison between the two sections
    assert cx < s2e < cs
    # NPS 50.0 with last week's 25.0, the delta, n and the margin of error
    assert ">50.0<" in html and "Previous: 25.0" in html and "▲ +25.0 pts" in html
    assert "n = 40" in html and f"±{scorecard['cx']['nps']['moe95']:.1f}" in html
    # A low sample is flagged (support CSAT n = 8 < 30), statuses are chips with words
    assert "low sample" in html and "On target" in html and "Off target" in html
    # Per-touchpoint and per-channel tables, and the comments section
    assert "By touchpoint" in html and "Overall relationship" in html
    assert "By channel" in html and re.search(r">Email(<| <span)", html) and re.search(r">Chat(<| <span)", html)
    assert "Top detractor comments" in html and "Overall relationship &middot; NPS &middot; 2026-11-17" in html
    # Service → experience: 100 after FCR vs −100 after non-FCR
    assert "+200.0 NPS points" in html


def test_html_is_mail_client_safe(scorecard: dict) -> None:
    html = render_html(scorecard, "Tiny Shop").lower()
    # Inline styles and table layout only: no style blocks, scripts, images, SVG, flexbox or grid
    for forbidden in ("<style", "<script", "<img", "<svg", "<link", "display:flex", "display:grid",
                      "display: flex", "display: grid", "position:absolute"):
        assert forbidden not in html, forbidden
    # Bars are table cells with percentage widths
    widths = re.findall(r'<td width="(\d+)%" height="8"', html)
    assert widths and all(0 <= int(w) <= 100 for w in widths)
    # FCR 74 % → a 74 % bar
    assert '<td width="74%" height="8"' in html


def test_text_part_mirrors_the_html(scorecard: dict) -> None:
    text = render_text(scorecard, "Tiny Shop")
    assert text.index("CUSTOMER EXPERIENCE (CX)") < text.index("SERVICE -> EXPERIENCE") \
        < text.index("CUSTOMER SERVICE (CS)")
    assert "previous 25.0 (▲ +25.0 pts)" in text
    assert "low sample" in text and "[On target]" in text
    assert "Email" in text and "74.0 %" in text
    assert not re.search(r"</?(table|tr|td|span|div|p|br)\b", text)  # no markup besides the quoted comments


def test_the_email_shows_the_response_rate_in_both_parts(scorecard: dict) -> None:
    # Given links minted at shipping, one of four answered
    card = {**scorecard, "cx": {**scorecard["cx"], "response_rate": {"value": 25.0, "answered": 1, "minted": 4,
                                                                      "held_back": 2}}}
    # When the email is rendered, Then both parts say 25.0 % with 1 of 4 and the held-back count
    html, text = render_html(card, "Shop"), render_text(card, "Shop")
    assert "Response rate" in html and "25.0 %" in html and "1 / 4" in html
    assert "25.0 %" in text and "1 of 4 answered, 2 held back" in text
