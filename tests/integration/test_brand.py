"""The shop's name in questions and emails is settable without editing a catalog: the template's
BrandName reaches every function as TOUCHPOINT_BRAND, and `touchpoint local --param BrandName=...`,
`touchpoint demo --brand` and `touchpoint link --brand` set it locally."""

from __future__ import annotations

from touchpoint import runtime
from touchpoint_local.template import load_template
from touchpoint_local.testing import ROOT


def test_the_template_hands_brand_name_to_every_function() -> None:
    template = load_template(ROOT / "template.yaml")
    assert template["Parameters"]["BrandName"]["Default"] == ""
    assert template["Globals"]["Function"]["Environment"]["Variables"]["TOUCHPOINT_BRAND"] == {"Ref": "BrandName"}


def test_a_brand_name_replaces_the_catalogs_in_the_page_and_the_email_block(client, monkeypatch) -> None:
    # Given the function configured with a brand name
    monkeypatch.setenv("TOUCHPOINT_BRAND", "Kestrel Outdoor")
    runtime.reset()
    # When a link is minted and opened
    link = client.mint(touchpoint="relationship")
    page = client.survey("GET", link["token"])
    # Then the question names the shop, in the page and in the email block
    assert "recommend Kestrel Outdoor to a friend" in page.body
    assert "recommend Kestrel Outdoor to a friend" in link["email_html"]


def test_without_a_brand_name_the_catalogs_brand_is_used(client, monkeypatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_BRAND", "")
    runtime.reset()
    link = client.mint(touchpoint="relationship")
    assert "recommend our shop to a friend" in client.survey("GET", link["token"]).body
