"""HTML pages of the survey (Jinja2 with autoescape: every user-supplied string is escaped)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from touchpoint.catalog import Touchpoint
from touchpoint.locales import DEFAULT_LOCALE, SUPPORTED_LOCALES, gettext, translations
from touchpoint.metrics import scale_of

# Languages whose nouns are lower case inside a sentence ("How satisfied were you with shipping?");
# German capitalizes them, Japanese has no case.
LOWERCASE_LABEL_LOCALES = ("en", "fr", "es", "pt", "nl")



def N_(message: str) -> str:  # noqa: N802 - the gettext marker `pybabel extract -k N_` looks for
    """Marks a message for the catalogs; it is translated where it is rendered."""
    return message


QUESTIONS = {
    "nps": N_("How likely are you to recommend %(brand)s to a friend or colleague?"),
    "csat": N_("How satisfied were you with %(touchpoint)s?"),
    "ces": N_("%(brand)s made it easy to handle my issue."),
}
SCALE_ENDS = {
    "nps": (N_("Not at all likely"), N_("Extremely likely")),
    "csat": (N_("Very dissatisfied"), N_("Very satisfied")),
    "ces": (N_("Strongly disagree"), N_("Strongly agree")),
}


@lru_cache(maxsize=len(SUPPORTED_LOCALES))
def _environment(locale: str = DEFAULT_LOCALE) -> Any:
    # Jinja2 is imported on first render only, keeping it off the cold-start path of JSON routes.
    # One environment per locale, its gettext catalog installed (new-style: placeholders are escaped).
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("touchpoint.surveys", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    environment.globals["locale"] = locale
    return environment


def question(metric: str, brand: str, touchpoint: Touchpoint, locale: str = DEFAULT_LOCALE) -> str:
    label = touchpoint.label_in(locale)
    return gettext(locale, QUESTIONS[metric], brand=brand,
                   touchpoint=label.lower() if locale in LOWERCASE_LABEL_LOCALES else label)


def scale_ends(metric: str, locale: str = DEFAULT_LOCALE) -> tuple[str, str]:
    low, high = SCALE_ENDS[metric]
    return gettext(locale, low), gettext(locale, high)


def render_survey(brand: str, touchpoint: Touchpoint, metric: str, token: str, selected: int | None,
                  rendered_stamp: str = "", earlier: dict[str, Any] | None = None,
                  locale: str = DEFAULT_LOCALE) -> str:
    """``earlier``: the answer this link already has ({score, comment?, submitted_at}), shown so the
    customer changes it rather than wondering whether it counted."""
    low_label, high_label = scale_ends(metric, locale)
    return _environment(locale).get_template("survey.html").render(
        brand=brand,
        question=question(metric, brand, touchpoint, locale),
        touchpoint=touchpoint,
        metric=metric,
        scores=list(scale_of(metric)),
        selected=selected,
        low_label=low_label,
        high_label=high_label,
        token=token,
        rendered_stamp=rendered_stamp,
        earlier=earlier,
        earlier_date=_local_date(earlier.get("submitted_at"), locale) if earlier else "",
    )


def _local_date(stamp: Any, locale: str) -> str:
    """An ISO timestamp as the customer's language writes a date (Babel's CLDR data)."""
    if not stamp:
        return ""
    from datetime import datetime

    from babel.dates import format_date

    try:
        return format_date(datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).date(), "medium", locale=locale)
    except ValueError:
        return str(stamp)[:10]


def render_thanks(brand: str, score: int, comment: str | None, updated: bool, locale: str = DEFAULT_LOCALE) -> str:
    from markupsafe import Markup

    return _environment(locale).get_template("thanks.html").render(
        brand=brand, score=score, comment=comment, updated=updated,
        score_html=Markup("<strong>%d</strong>") % int(score),  # the score in bold inside any language's sentence
    )


# What a customer sees when a link cannot be answered, by the error's code.
PROBLEMS = {
    "token_expired": (N_("This survey link has expired"),
                      N_("Survey links are open for a limited time, and this one has closed.")),
    "survey_closed": (N_("This survey is closed"), N_("This survey is no longer collecting answers.")),
    "invalid_token": (N_("This survey link does not work"),
                      N_("The link may have been cut off or changed on the way. Open it again from the email, "
                         "making sure the whole link is used.")),
}
OTHER_PROBLEM = (N_("Your answer could not be recorded"),
                 N_("Something in the answer was not right. Please go back and try again."))


def render_problem(brand: str, code: str, locale: str = DEFAULT_LOCALE) -> str:
    """A friendly page for a link that cannot be answered (the status stays the error's)."""
    title, explanation = PROBLEMS.get(code, OTHER_PROBLEM)
    return _environment(locale).get_template("problem.html").render(
        brand=brand, title=gettext(locale, title), explanation=gettext(locale, explanation))


def render_email_block(brand: str, touchpoint: Touchpoint, metric: str, url: str,
                       locale: str = DEFAULT_LOCALE) -> tuple[str, str]:
    """(HTML, text) of the one-click rating block for an email: a link per score, each opening the
    survey page with that score chosen (the page writes nothing until the customer sends it)."""
    low_label, high_label = scale_ends(metric, locale)
    scores = list(scale_of(metric))
    asked = question(metric, brand, touchpoint, locale)
    html = _environment(locale).get_template("email_block.html").render(
        question=asked, scores=scores, url=url, low_label=low_label, high_label=high_label)
    choose = gettext(locale, N_("Choose from %(low)s (%(low_label)s) to %(high)s (%(high_label)s):"), low=scores[0],
                     low_label=low_label, high=scores[-1], high_label=high_label)
    return html, f"{asked}\n{choose} {url}\n"

