"""Surveys in the customer's language, through the real handler: the link's locale, else the
browser's Accept-Language, else English; an unsupported locale is refused without a write."""

from __future__ import annotations

import pytest

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_link_minted_in_german_opens_a_german_page(client) -> None:
    # Given a link minted with locale de
    link = client.mint(locale="de")
    # When a browser that prefers English opens it
    page = client.survey("GET", link["token"], headers={**BROWSER, "accept-language": "en-US,en;q=0.9"})
    # Then the page is German all the same: the shop chose the customer's language
    assert page.status == 200
    assert '<html lang="de">' in page.body
    assert "Wie zufrieden waren Sie mit: Versand und Lieferung?" in page.body
    # And the email block that came with the link is German too
    assert "Sehr zufrieden" in link["email_html"] and link["email_text"].startswith("Wie zufrieden")


def test_without_a_link_locale_the_browser_language_decides(client) -> None:
    link = client.mint()
    page = client.survey("GET", link["token"], headers={**BROWSER, "accept-language": "fr-CA,fr;q=0.9,en;q=0.5"})
    assert '<html lang="fr">' in page.body and "Envoyer mon avis" in page.body
    english = client.survey("GET", link["token"], headers=BROWSER)
    assert '<html lang="en">' in english.body and "Send feedback" in english.body


def test_the_thank_you_page_follows_the_link_language(client) -> None:
    link = client.mint(locale="nl")
    form = {**BROWSER, "content-type": "application/x-www-form-urlencoded"}
    reply = client.survey("POST", link["token"], "score=4&comment=prima", headers=form)
    assert reply.status == 201, reply.body
    assert '<html lang="nl">' in reply.body and "Bedankt." in reply.body


def test_an_expired_link_still_speaks_its_language(client, aws) -> None:
    from datetime import UTC, datetime, timedelta

    from touchpoint.surveys.tokens import KeyRing, SurveyClaims, mint_token

    claims = SurveyClaims("o" + "e" * 31, "cust-1", "shipping", "csat", None, datetime.now(UTC) - timedelta(days=1),
                          locale="ja")
    page = client.survey("GET", mint_token(KeyRing(aws.token_keys), claims), headers=BROWSER)
    assert page.status == 410 and "このアンケートのリンクは有効期限が切れています" in page.body


def test_a_broken_link_shows_the_problem_page_in_the_browser_language(client) -> None:
    token = client.mint()["token"]
    broken = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    page = client.survey("GET", broken, headers={**BROWSER, "accept-language": "es-ES,es;q=0.9"})
    assert page.status == 403 and '<html lang="es">' in page.body
    assert "Este enlace de encuesta no funciona" in page.body


@pytest.mark.parametrize("locale", ["xx", "klingon", "", "english"])
def test_an_unsupported_locale_is_refused_without_a_write(client, aws, locale: str) -> None:
    reply = client.request("POST", "/v1/links", {"customer_id": "cust-1", "touchpoint": "shipping", "locale": locale})
    assert reply.status == 422, reply.body
    assert reply.json()["error"]["field"] == "locale"
    assert aws.item_count() == 0


def test_a_regional_tag_reads_as_its_language(client) -> None:
    link = client.mint(locale="pt-BR")
    page = client.survey("GET", link["token"], headers=BROWSER)
    assert '<html lang="pt">' in page.body and "Enviar opinião" in page.body
