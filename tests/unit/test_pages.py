"""Survey and thank-you pages: every user-supplied string is escaped, the scale matches the metric,
and a one-click score from an email button is preselected only when it is on the scale."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from touchpoint.catalog import load_catalog, parse_catalog
from touchpoint.errors import ApiError
from touchpoint.surveys import pages
from touchpoint.surveys.intake import survey_page
from touchpoint.surveys.tokens import KeyRing, SurveyClaims, mint_token

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RING = KeyRing({"k1": "page-test-key-0123456789"})
HOSTILE = "<script>alert(1)</script>"

HOSTILE_CATALOG = f"""
name: hostile
brand: '{HOSTILE} & "Co"'
touchpoints:
  - {{id: evil, label: '<img src=x onerror=alert(2)> "Delivery"', family: cx, stage: delivery, metric: csat}}
  - {{id: evil_nps, label: '<b>Brand</b>', family: cx, stage: loyalty, metric: nps}}
  - {{id: support, label: '<iframe src=//evil>', family: cs, stage: support, metric: ces}}
ticket_mapping: {{default: support}}
"""


def token_for(touchpoint: str, metric: str) -> str:
    return mint_token(RING, SurveyClaims("s1", "c1", touchpoint, metric, None, NOW + timedelta(days=1)))


def radio_values(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'<input type="radio" name="score" value="(-?\d+)"', html)]


def checked_values(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'<input type="radio" name="score" value="(-?\d+)"[^>]*\bchecked\b', html)]


def page(touchpoint: str, metric: str, preselect: str | None = None, catalog=None) -> str:
    return survey_page(token_for(touchpoint, metric), preselect, catalog or load_catalog("ecommerce"), RING, NOW)


def test_survey_page_escapes_hostile_brand_and_labels_from_a_custom_catalog() -> None:
    catalog = parse_catalog(HOSTILE_CATALOG)
    for touchpoint, metric in (("evil", "csat"), ("evil_nps", "nps"), ("support", "ces")):
        html = page(touchpoint, metric, catalog=catalog)
        assert "<script>" not in html
        assert "<img" not in html and "<iframe" not in html and "<b>Brand" not in html
    csat = page("evil", "csat", catalog=catalog)
    assert "&lt;img src=x onerror=alert(2)&gt;" in csat  # the label is shown, escaped
    nps = page("evil_nps", "nps", catalog=catalog)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in nps  # the brand is shown, escaped
    assert "&amp;" in nps and ("&#34;Co&#34;" in nps or "&quot;Co&quot;" in nps)


@pytest.mark.parametrize(("touchpoint", "metric", "scale"), [
    ("relationship", "nps", list(range(0, 11))),
    ("shipping", "csat", list(range(1, 6))),
    ("checkout", "ces", list(range(1, 8))),
])
def test_scale_matches_the_metric(touchpoint: str, metric: str, scale: list[int]) -> None:
    html = page(touchpoint, metric)
    assert radio_values(html) == scale
    assert checked_values(html) == []
    assert 'method="post"' in html


def test_scale_follows_the_token_metric_not_the_touchpoint_default() -> None:
    # A link minted with metric=nps for a CSAT touchpoint shows the NPS scale
    assert radio_values(page("shipping", "nps")) == list(range(0, 11))


def test_questions_name_the_touchpoint_and_brand() -> None:
    assert "How likely are you to recommend our shop" in page("relationship", "nps")
    assert "How satisfied were you with shipping and delivery?" in page("shipping", "csat")
    assert "our shop made it easy to handle my issue." in page("checkout", "ces")


@pytest.mark.parametrize(("metric", "touchpoint", "preselect", "expected"), [
    ("nps", "relationship", "0", [0]),
    ("nps", "relationship", "10", [10]),
    ("nps", "relationship", "11", []),
    ("nps", "relationship", "-1", []),
    ("csat", "shipping", "5", [5]),
    ("csat", "shipping", "0", []),
    ("csat", "shipping", "6", []),
    ("ces", "checkout", "7", [7]),
    ("ces", "checkout", "8", []),
    ("ces", "checkout", "abc", []),
    ("ces", "checkout", "3.5", []),
    ("ces", "checkout", "", []),
    ("ces", "checkout", " 4 ", [4]),
])
def test_score_query_preselects_only_values_on_the_scale(metric: str, touchpoint: str, preselect: str,
                                                         expected: list[int]) -> None:
    assert checked_values(page(touchpoint, metric, preselect)) == expected


def test_score_query_with_unicode_digits_is_ignored_not_a_crash() -> None:
    assert checked_values(page("relationship", "nps", "²")) == []


def test_survey_page_refuses_a_bad_token() -> None:
    with pytest.raises(ApiError) as caught:
        survey_page("forged.token", None, load_catalog("ecommerce"), RING, NOW)
    assert caught.value.status == 403


def test_survey_page_for_a_touchpoint_that_left_the_catalog_is_closed() -> None:
    with pytest.raises(ApiError) as caught:
        page("removed_touchpoint", "csat")
    assert (caught.value.status, caught.value.code) == (410, "survey_closed")


def test_thank_you_page_escapes_a_script_comment() -> None:
    html = pages.render_thanks("our shop", 2, f"{HOSTILE}\nline two & more", updated=False)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "line two &amp; more" in html
    assert "<strong>2</strong>" in html
    assert "updated" not in html.split("<h1", 1)[1].split("</h1>", 1)[0]


def test_thank_you_page_escapes_a_hostile_brand_and_says_updated_on_resubmission() -> None:
    html = pages.render_thanks(HOSTILE, 9, None, updated=True)
    assert "<script>" not in html
    assert "your answer is updated" in html
    assert "<blockquote>" not in html  # no empty comment box
