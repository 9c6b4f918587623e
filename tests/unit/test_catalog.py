"""The touchpoint catalog (SPEC §4): presets, validation with messages naming the problem, and the
mapping of a ticket's tags or category to a touchpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from touchpoint.catalog import PRESETS, CatalogError, load_catalog, parse_catalog

VALID = """
name: tiny
brand: Tiny Shop
touchpoints:
  - {id: website, label: Website, family: cx, stage: consideration, metric: ces}
  - {id: shipping, label: Shipping, family: cx, stage: delivery, metric: csat}
  - {id: support, label: Support, family: cs, stage: support, metric: csat}
  - {id: billing_support, label: Billing support, family: cs, stage: support, metric: csat}
ticket_mapping:
  default: support
  tags:
    Billing: billing_support
    invoice: billing_support
"""


def rejected(text: str) -> str:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, "custom.yaml")
    message = str(caught.value)
    assert message.startswith("custom.yaml"), message  # the message names the file
    return message


def test_presets_are_the_four_of_the_spec() -> None:
    assert set(PRESETS) == {"ecommerce", "restaurant", "retail", "saas"}
    assert load_catalog().name == "ecommerce"  # ecommerce is the default


@pytest.mark.parametrize("preset", ["ecommerce", "restaurant", "retail", "saas"])
def test_each_preset_loads_with_a_cs_touchpoint_and_unique_ids(preset: str) -> None:
    catalog = load_catalog(preset)
    ids = [t.id for t in catalog.touchpoints]
    assert len(ids) == len(set(ids))
    assert any(t.family == "cs" for t in catalog.touchpoints)
    assert any(t.family == "cx" for t in catalog.touchpoints)
    assert {t.metric for t in catalog.touchpoints} <= {"nps", "csat", "ces"}
    # Every ticket maps to a cs touchpoint of the catalog
    assert catalog.get(catalog.ticket_mapping.default).family == "cs"
    for target in catalog.ticket_mapping.tags.values():
        assert catalog.get(target).family == "cs"
    # The public list has exactly the SPEC shape
    for entry in catalog.public():
        assert set(entry) == {"id", "label", "family", "stage", "metric"}


def test_catalog_loads_from_a_yaml_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(VALID, "utf-8")
    catalog = load_catalog(str(path))
    assert catalog.name == "tiny"
    assert catalog.brand == "Tiny Shop"
    assert catalog.get("shipping").metric == "csat"
    assert catalog.get("nope") is None


def test_unknown_catalog_name_is_refused_with_the_presets_listed(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(str(tmp_path / "missing.yaml"))
    assert "ecommerce" in str(caught.value)
    with pytest.raises(CatalogError):
        load_catalog("grocery")


def test_duplicate_id_is_refused_naming_the_id() -> None:
    message = rejected(VALID.replace("id: shipping", "id: website"))
    assert "duplicate" in message and "website" in message


def test_catalog_without_cs_touchpoint_is_refused() -> None:
    text = VALID.replace("family: cs", "family: cx")
    message = rejected(text)
    assert "at least one touchpoint of family 'cs'" in message


def test_mapping_to_unknown_touchpoint_is_refused_naming_it() -> None:
    message = rejected(VALID.replace("invoice: billing_support", "invoice: accounts"))
    assert "unknown touchpoint" in message and "accounts" in message and "invoice" in message


def test_default_mapping_to_unknown_touchpoint_is_refused() -> None:
    message = rejected(VALID.replace("default: support", "default: helpdesk"))
    assert "ticket_mapping.default" in message and "helpdesk" in message


def test_mapping_to_cx_touchpoint_is_refused() -> None:
    message = rejected(VALID.replace("invoice: billing_support", "invoice: shipping"))
    assert "shipping" in message and "'cx'" in message


def test_bad_metric_is_refused_naming_the_entry() -> None:
    message = rejected(VALID.replace("metric: ces", "metric: nsp"))
    assert "touchpoints.0.metric" in message


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("family: cx, stage: consideration", "family: ux, stage: consideration"), "touchpoints.0.family"),
        (("id: website", "id: Web-Site"), "touchpoints.0.id"),
        (("label: Website", "label: ''"), "touchpoints.0.label"),
        (("name: tiny", "name: tiny\ncolour: red"), "colour"),
    ],
)
def test_bad_entries_are_refused_naming_the_field(change: tuple[str, str], where: str) -> None:
    assert where in rejected(VALID.replace(*change))


def test_bad_yaml_is_refused() -> None:
    assert "not valid YAML" in rejected("name: [unclosed\n")


@pytest.mark.parametrize("text", ["", "just a sentence", "- a\n- list\n"])
def test_yaml_that_is_not_a_catalog_is_refused(text: str) -> None:
    rejected(text)


def test_catalog_without_touchpoints_is_refused() -> None:
    rejected("name: empty\ntouchpoints: []\nticket_mapping: {default: support}\n")


def test_ticket_touchpoint_from_tags_case_insensitively() -> None:
    catalog = parse_catalog(VALID)
    assert catalog.touchpoint_for_ticket(["urgent", "BILLING"]) == "billing_support"  # key written "Billing"
    assert catalog.touchpoint_for_ticket(["Invoice"]) == "billing_support"
    assert catalog.touchpoint_for_ticket([" invoice "]) == "billing_support"


def test_ticket_touchpoint_from_category_case_insensitively() -> None:
    catalog = parse_catalog(VALID)
    assert catalog.touchpoint_for_ticket([], category="INVOICE") == "billing_support"
    assert catalog.touchpoint_for_ticket(category="billing") == "billing_support"


def test_ticket_touchpoint_defaults_when_nothing_matches() -> None:
    catalog = parse_catalog(VALID)
    assert catalog.touchpoint_for_ticket() == "support"
    assert catalog.touchpoint_for_ticket(["urgent", "vip"], category="general") == "support"
    # A tag equal to a touchpoint id is not a mapping entry
    assert catalog.touchpoint_for_ticket(["shipping"]) == "support"


def test_preset_mapping_sends_refund_tickets_to_returns_support() -> None:
    catalog = load_catalog("ecommerce")
    assert catalog.touchpoint_for_ticket(["Refund"]) == "support_returns"
    assert catalog.touchpoint_for_ticket(["question"]) == "support"
