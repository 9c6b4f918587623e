"""The survey's languages: complete, compiled catalogs whose placeholders match, negotiation as
browsers send Accept-Language, and pages that speak the chosen language."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from touchpoint import locales
from touchpoint.catalog import load_catalog
from touchpoint.surveys import pages

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [loc for loc in locales.SUPPORTED_LOCALES if loc != locales.DEFAULT_LOCALE]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _po(locale: str):
    with open(locales.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po", "rb") as source:
        return read_po(source, locale=locale)


def _extracted() -> set[str]:
    """Every message the code and the templates mark, as `pybabel extract -F babel.cfg -k N_` finds them."""
    method_map = [("shared/touchpoint/**.py", "python"), ("shared/touchpoint/surveys/templates/**.html", "jinja2")]
    options = {"shared/touchpoint/surveys/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = extract_from_dir(str(ROOT), method_map, options, keywords={"N_": None, "_": None, "gettext": None})
    return {message for _file, _line, message, _comments, _context in found if isinstance(message, str)}


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_marked_message_is_translated_with_the_same_placeholders(locale: str) -> None:
    catalog = _po(locale)
    # Given the messages the code marks, Then the locale's catalog has each, translated, not fuzzy
    translated = {m.id: m.string for m in catalog if m.id}
    missing = _extracted() - set(translated)
    assert not missing, f"{locale}: run pybabel extract/update (docs/reference.md#languages): {sorted(missing)}"
    for message_id, text in translated.items():
        assert text, f"{locale}: no translation for {message_id!r}"
        # And a translation keeps every placeholder (a lost %(brand)s would raise at render time)
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(message_id)), (locale, message_id)
    assert not any(m.fuzzy for m in catalog if m.id)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_compiled_catalog_is_the_po_file(locale: str) -> None:
    # Given the .po a translator edits, Then the shipped .mo says the same (`pybabel compile` was run)
    with open(locales.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.mo", "rb") as compiled:
        shipped = {m.id: m.string for m in read_mo(compiled) if m.id}
    assert shipped == {m.id: m.string for m in _po(locale) if m.id}


@pytest.mark.parametrize(("header", "expected"), [
    ("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "de"),
    ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "fr"),
    ("zh-CN,zh;q=0.9,ja;q=0.8", "ja"),
    ("en;q=0.2, pt-BR", "pt"),
    ("xx-YY, nl;q=0.1", "nl"),
    ("*", None),
    ("", None),
    ("de;q=0", None),
])
def test_accept_language_as_browsers_send_it(header: str, expected: str | None) -> None:
    assert locales.negotiate(header) == expected


def test_the_link_language_wins_over_the_browser() -> None:
    assert locales.choose("de", "fr-FR,fr;q=0.9") == "de"
    assert locales.choose(None, "fr-FR,fr;q=0.9") == "fr"
    assert locales.choose(None, None) == "en"


def test_a_german_survey_page_speaks_german_with_the_catalog_label() -> None:
    shipping = load_catalog("ecommerce").get("shipping")
    html = pages.render_survey("Müller & Söhne", shipping, "csat", "tok", None, locale="de")
    assert '<html lang="de">' in html
    assert "Wie zufrieden waren Sie mit: Versand und Lieferung?" in html
    assert "Sehr unzufrieden" in html and "Bewertung senden" in html
    # And the brand is escaped inside the translated sentence
    assert "Müller &amp; Söhne — Ihre Meinung" in html


def test_the_email_block_in_japanese() -> None:
    relationship = load_catalog("ecommerce").get("relationship")
    html, text = pages.render_email_block("<b>Shop</b>", relationship, "nps", "https://x.example/s/t", "ja")
    assert "&lt;b&gt;Shop&lt;/b&gt;を友人や同僚に薦める可能性はどのくらいありますか？" in html
    assert "まったくそう思わない" in html and "非常にそう思う" in html
    assert text.splitlines()[1].startswith("0（まったくそう思わない）から10（非常にそう思う）でお選びください：")


@pytest.mark.parametrize("locale", locales.SUPPORTED_LOCALES)
def test_every_page_renders_in_every_language(locale: str) -> None:
    checkout = load_catalog("ecommerce").get("checkout")
    earlier = {"score": 3, "comment": "ok", "submitted_at": "2026-11-30T10:00:00Z"}
    rendered = [pages.render_survey("Shop", checkout, "ces", "t", 4, earlier=earlier, locale=locale),
                pages.render_thanks("Shop", 4, "fine", updated=True, locale=locale),
                pages.render_problem("Shop", "token_expired", locale),
                pages.render_email_block("Shop", checkout, "ces", "https://x.example/s/t", locale)[0]]
    for html in rendered:
        assert "%(" not in html and ")s" not in html  # every placeholder filled
    assert f'<html lang="{locale}">' in rendered[0]


def test_a_catalog_label_in_an_unsupported_language_is_refused() -> None:
    from touchpoint.catalog import CatalogError, parse_catalog

    text = io.StringIO()
    text.write("name: x\nbrand: x\ntouchpoints:\n"
               "  - {id: a, label: A, family: cx, stage: s, metric: csat, labels: {xx: Bad}}\n"
               "ticket_mapping: {default: a}\n")
    with pytest.raises(CatalogError, match="supported locales"):
        parse_catalog(text.getvalue())
