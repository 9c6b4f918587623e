"""The languages customers are surveyed in: which ones exist, which one a request gets, and the
gettext catalogs (``<locale>/LC_MESSAGES/messages.po``, compiled to ``.mo`` with Babel: see
docs/reference.md#languages) of the survey pages and the email block.

The locale of a page is the link's own (``locale`` when it was minted), else the browser's
``Accept-Language`` negotiated against the supported ones, else English."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

SUPPORTED_LOCALES = ("en", "de", "fr", "es", "pt", "nl", "ja")
DEFAULT_LOCALE = "en"
LOCALE_DIR = Path(__file__).parent
DOMAIN = "messages"


def supported(locale: str | None) -> str | None:
    """The supported locale ``locale`` names (``de``, ``de-AT`` and ``de_AT`` all give ``de``), or None."""
    if not locale:
        return None
    language = locale.replace("_", "-").split("-")[0].strip().lower()
    return language if language in SUPPORTED_LOCALES else None


def negotiate(accept_language: str | None) -> str | None:
    """The best supported locale of an ``Accept-Language`` header (quality values honoured), or None."""
    if not accept_language:
        return None
    from babel import Locale, UnknownLocaleError

    preferred: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            preferred.append((-quality, position, tag.strip()))
    for _quality, _position, tag in sorted(preferred):
        if tag == "*":
            return None
        try:
            language = Locale.parse(tag.replace("-", "_")).language
        except (UnknownLocaleError, ValueError):
            continue
        if language in SUPPORTED_LOCALES:
            return language
    return None


def choose(link_locale: str | None, accept_language: str | None) -> str:
    """The locale of a page: the link's, else the browser's, else English."""
    return supported(link_locale) or negotiate(accept_language) or DEFAULT_LOCALE


@lru_cache(maxsize=len(SUPPORTED_LOCALES))
def translations(locale: str) -> Any:
    """The compiled gettext catalog of ``locale`` (English is the source language: no catalog)."""
    from babel.support import NullTranslations, Translations

    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [locale], DOMAIN)


def gettext(locale: str, message: str, **values: Any) -> str:
    text = translations(locale).gettext(message)
    return text % values if values else text
