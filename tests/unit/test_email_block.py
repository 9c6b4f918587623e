"""The one-click rating block that POST /v1/links returns for shops to paste into their emails: one
link per score, mail-client HTML (table layout, inline styles, no images or scripts), escaped text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from touchpoint.catalog import load_catalog, parse_catalog
from touchpoint.surveys.intake import mint_link
from touchpoint.surveys.models import LinkRequest
from touchpoint.surveys.tokens import KeyRing

NOW = datetime(2026, 11, 22, 12, 30, 15, tzinfo=UTC)
RING = KeyRing({"k1": "email-block-test-key-0123456789"})
CATALOG = load_catalog("ecommerce")


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"] or "")


def parsed(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


@pytest.mark.parametrize(("touchpoint", "metric", "scores"), [
    ("relationship", "nps", range(0, 11)), ("shipping", "csat", range(1, 6)), ("support", "ces", range(1, 8)),
])
def test_the_block_has_one_link_per_score_in_order(touchpoint: str, metric: str, scores: range) -> None:
    # Given a link minted for a touchpoint
    link = mint_link(LinkRequest(customer_id="c-1", touchpoint=touchpoint, metric=metric), CATALOG, RING,
                     "https://feedback.example.com", NOW)
    # When its email block is read, Then it has one link per score of the scale, each preselecting it
    assert parsed(link.email_html).hrefs == [f"{link.url}?score={score}" for score in scores]
    # And the plain-text part carries the link and the scale
    assert link.url in link.email_text and f"{scores[0]} (" in link.email_text


def test_the_block_is_mail_client_html() -> None:
    link = mint_link(LinkRequest(customer_id="c-1", touchpoint="relationship"), CATALOG, RING,
                     "https://feedback.example.com", NOW)
    tags = parsed(link.email_html).tags
    # Table layout and inline styles only: nothing Gmail strips or Outlook ignores
    assert {"table", "tr", "td", "a"} <= tags
    assert not tags & {"style", "script", "img", "svg", "div", "link"}
    assert "display:flex" not in link.email_html and "grid" not in link.email_html
    # The buttons' colour is also a bgcolor attribute, which Outlook honours
    assert link.email_html.count('bgcolor="') == 11
    # 11 cells share the row, so the scale stays on one row of a 320 px phone
    widths = {float(w) for w in re.findall(r'width="([\d.]+)%"', link.email_html)} - {100.0}
    assert widths == {round(100 / 11, 2)}


def test_the_brand_is_escaped_in_the_block() -> None:
    # Given a catalog whose brand holds markup
    catalog = parse_catalog("""
name: hostile
brand: 'Shop <script>alert(1)</script> & "Co"'
touchpoints:
  - {id: relationship, label: Relationship, family: cx, stage: loyalty, metric: nps}
  - {id: support, label: Support, family: cs, stage: support, metric: csat}
ticket_mapping: {default: support}
""")
    link = mint_link(LinkRequest(customer_id="c-1", touchpoint="relationship"), catalog, RING, "https://x.example", NOW)
    # Then it is text in the email, not markup
    assert "<script>" not in link.email_html
    assert "Shop &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;" in link.email_html
