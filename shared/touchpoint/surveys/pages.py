"""HTML pages of the survey (Jinja2 with autoescape: every user-supplied string is escaped)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from touchpoint.catalog import Touchpoint
from touchpoint.metrics import scale_of

QUESTIONS = {
    "nps": "How likely are you to recommend {brand} to a friend or colleague?",
    "csat": "How satisfied were you with {touchpoint}?",
    "ces": "{brand} made it easy to handle my issue.",
}
SCALE_ENDS = {
    "nps": ("Not at all likely", "Extremely likely"),
    "csat": ("Very dissatisfied", "Very satisfied"),
    "ces": ("Strongly disagree", "Strongly agree"),
}


@lru_cache(maxsize=1)
def _environment() -> Any:
    # Jinja2 is imported on first render only, keeping it off the cold-start path of JSON routes.
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("touchpoint.surveys", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def question(metric: str, brand: str, touchpoint: Touchpoint) -> str:
    return QUESTIONS[metric].format(brand=brand, touchpoint=touchpoint.label.lower())


def render_survey(brand: str, touchpoint: Touchpoint, metric: str, token: str, selected: int | None,
                  rendered_stamp: str = "", earlier: dict[str, Any] | None = None) -> str:
    """``earlier``: the answer this link already has ({score, comment?, submitted_at}), shown so the
    customer changes it rather than wondering whether it counted."""
    low_label, high_label = SCALE_ENDS[metric]
    return _environment().get_template("survey.html").render(
        brand=brand,
        question=question(metric, brand, touchpoint),
        touchpoint=touchpoint,
        metric=metric,
        scores=list(scale_of(metric)),
        selected=selected,
        low_label=low_label,
        high_label=high_label,
        token=token,
        rendered_stamp=rendered_stamp,
        earlier=earlier,
        earlier_date=str(earlier.get("submitted_at", ""))[:10] if earlier else "",
    )


def render_thanks(brand: str, score: int, comment: str | None, updated: bool) -> str:
    return _environment().get_template("thanks.html").render(
        brand=brand, score=score, comment=comment, updated=updated
    )


# What a customer sees when a link cannot be answered, by the error's code.
PROBLEMS = {
    "token_expired": ("This survey link has expired",
                      "Survey links are open for a limited time, and this one has closed."),
    "survey_closed": ("This survey is closed", "This survey is no longer collecting answers."),
    "invalid_token": ("This survey link does not work", "The link may have been cut off or changed on the way. "
                      "Open it again from the email, making sure the whole link is used."),
}
OTHER_PROBLEM = ("Your answer could not be recorded",
                 "Something in the answer was not right. Please go back and try again.")


def render_problem(brand: str, code: str) -> str:
    """A friendly page for a link that cannot be answered (the status stays the error's)."""
    title, explanation = PROBLEMS.get(code, OTHER_PROBLEM)
    return _environment().get_template("problem.html").render(brand=brand, title=title, explanation=explanation)


def render_email_block(brand: str, touchpoint: Touchpoint, metric: str, url: str) -> tuple[str, str]:
    """(HTML, text) of the one-click rating block for an email: a link per score, each opening the
    survey page with that score chosen (the page writes nothing until the customer sends it)."""
    low_label, high_label = SCALE_ENDS[metric]
    scores = list(scale_of(metric))
    asked = question(metric, brand, touchpoint)
    html = _environment().get_template("email_block.html").render(
        question=asked, scores=scores, url=url, low_label=low_label, high_label=high_label)
    text = (f"{asked}\n"
            f"Choose from {scores[0]} ({low_label}) to {scores[-1]} ({high_label}): {url}\n")
    return html, text

