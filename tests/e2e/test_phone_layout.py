"""Phone first, measured in real Chromium: the survey's scales on one row from 320 px, borders and the
focus ring at 3:1 or more, and the scorecard email readable at 390 px without sideways scrolling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from touchpoint.catalog import load_catalog
from touchpoint.scorecards.email import render_html
from touchpoint.surveys import pages
from touchpoint_local.browser import ChromiumUnavailable, chromium

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CATALOG = load_catalog("ecommerce")

# WCAG 2.x relative luminance and contrast ratio, for colours as Chromium computes them: "rgb(r, g, b)".
CONTRAST_JS = """
(pair) => {
  const channel = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const luminance = text => { const [r, g, b] = text.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
                               return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b); };
  const [a, b] = pair.map(luminance);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        with chromium() as launched:
            yield launched
    except ChromiumUnavailable as exc:
        pytest.fail(str(exc))


def _open(browser: Any, html: str, width: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 800}, device_scale_factor=1)
    page.set_content(html)
    return page


def _survey(metric: str, touchpoint: str, locale: str = "en") -> str:
    return pages.render_survey("our shop", CATALOG.get(touchpoint), metric, "token", None, locale=locale)


@pytest.mark.parametrize("width", [320, 360, 390])
@pytest.mark.parametrize(("metric", "touchpoint", "locale", "buttons"), [
    ("nps", "relationship", "en", 11), ("ces", "checkout", "en", 7), ("nps", "relationship", "de", 11),
    ("csat", "shipping", "ja", 5),
])
def test_the_whole_scale_is_one_row_on_a_phone(browser, width, metric, touchpoint, locale, buttons) -> None:
    # Given the survey page on a phone of this width
    page = _open(browser, _survey(metric, touchpoint, locale), width)
    boxes = page.eval_on_selector_all(".scale label > span", "els => els.map(e => e.getBoundingClientRect().toJSON())")
    # Then every score is on one row, each at least 24 px wide and 44 px tall (a thumb's target)
    assert len(boxes) == buttons
    assert len({round(box["top"]) for box in boxes}) == 1, boxes
    assert min(box["width"] for box in boxes) >= 24 and min(box["height"] for box in boxes) >= 44
    # And nothing scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # And the end labels sit under the first and the last button
    ends = page.eval_on_selector_all(".ends span", "els => els.map(e => e.getBoundingClientRect().toJSON())")
    assert abs(ends[0]["left"] - boxes[0]["left"]) <= 2 and abs(ends[-1]["right"] - boxes[-1]["right"]) <= 2
    assert ends[0]["top"] >= boxes[0]["bottom"]
    page.close()


def test_box_borders_and_the_focus_ring_contrast_3_to_1(browser) -> None:
    page = _open(browser, _survey("nps", "relationship"), 390)
    background = page.eval_on_selector(".card", "e => getComputedStyle(e).backgroundColor")
    border = page.eval_on_selector(".scale label > span", "e => getComputedStyle(e).borderTopColor")
    assert page.evaluate(CONTRAST_JS, [border, background]) >= 3.0
    # When a keyboard user tabs onto the scale
    page.keyboard.press("Tab")
    outline = page.eval_on_selector(".scale input:focus-visible + span",
                                    "e => [getComputedStyle(e).outlineColor, getComputedStyle(e).outlineStyle]")
    # Then the focus ring shows, at 3:1 or more against the page
    assert outline[1] != "none"
    assert page.evaluate(CONTRAST_JS, [outline[0], background]) >= 3.0
    textarea = page.eval_on_selector("textarea", "e => getComputedStyle(e).borderTopColor")
    assert page.evaluate(CONTRAST_JS, [textarea, background]) >= 3.0
    page.close()


def _demo_scorecard() -> dict[str, Any]:
    return json.loads((FIXTURES / "scorecards" / "demo-2026-W48.json").read_text("utf-8"))


@pytest.mark.parametrize("width", [320, 390])
def test_the_scorecard_email_reads_on_a_phone_without_scrolling_sideways(browser, width) -> None:
    # Given the scorecard email of a demo run, opened on a phone
    page = _open(browser, render_html(_demo_scorecard(), "our shop"), width)
    # Then nothing is wider than the screen, so no mail app shrinks it
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    wider = page.evaluate("[...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().right"
                          " > innerWidth + 0.5).length")
    assert wider == 0
    # And no visible text is smaller than 12 px
    smallest = page.evaluate("""Math.min(...[...document.querySelectorAll('body *')]
        .filter(e => e.offsetParent !== null && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
        .map(e => parseFloat(getComputedStyle(e).fontSize)))""")
    assert smallest >= 12
    page.close()
