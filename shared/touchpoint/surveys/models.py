"""Pydantic models of the survey routes' edge: what clients send (with the size limits that
docs/reference.md documents) and what the routes answer."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from touchpoint.locales import SUPPORTED_LOCALES, supported
from touchpoint.metrics import Metric

MAX_COMMENT_CHARS = 2000
MAX_PROPERTIES = 20
MAX_PROPERTY_KEY_CHARS = 64
MAX_PROPERTY_VALUE_CHARS = 256
MAX_PROPERTIES_JSON_BYTES = 4096
MAX_LINK_PROPERTIES_JSON_BYTES = 1024  # they travel inside the link URL
MAX_IMPORT_BATCH = 100


class SurveyClosed(Exception):
    """The survey's customer was erased: its key holds a tombstone, and no answer may land there."""


def _no_control_characters(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _comment_text(value: str) -> str:
    # Newlines and tabs are fine in a comment; other control characters are not.
    if any((ord(ch) < 32 and ch not in "\n\r\t") or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256), AfterValidator(_no_control_characters)
]
ShortIdentifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), AfterValidator(_no_control_characters)
]
TouchpointId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Comment = Annotated[str, StringConstraints(max_length=MAX_COMMENT_CHARS), AfterValidator(_comment_text)]
PropertyValue = str | int | float | bool | None


def _check_properties(value: dict[str, PropertyValue] | None) -> dict[str, PropertyValue] | None:
    if value is None:
        return None
    if len(value) > MAX_PROPERTIES:
        raise ValueError(f"at most {MAX_PROPERTIES} properties")
    for key, item in value.items():
        if not key or len(key) > MAX_PROPERTY_KEY_CHARS:
            raise ValueError(f"property names are 1 to {MAX_PROPERTY_KEY_CHARS} characters")
        _no_control_characters(key)
        if isinstance(item, str) and len(item) > MAX_PROPERTY_VALUE_CHARS:
            raise ValueError(f"property {key!r} is longer than {MAX_PROPERTY_VALUE_CHARS} characters")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"property {key!r} must be a finite number")
    if len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_PROPERTIES_JSON_BYTES:
        raise ValueError(f"properties take at most {MAX_PROPERTIES_JSON_BYTES} bytes as JSON")
    return value


Properties = Annotated[dict[str, PropertyValue] | None, AfterValidator(_check_properties)]


class LinkRequest(BaseModel):
    """``POST /v1/links``: mint a signed survey link for one customer at one touchpoint."""

    model_config = ConfigDict(extra="forbid")

    customer_id: Identifier
    touchpoint: TouchpointId
    metric: Metric | None = None
    order_id: ShortIdentifier | None = None
    properties: Properties = None
    ttl_days: int = Field(default=30, ge=1, le=365)
    locale: str | None = Field(default=None, description=(
        "The language of the survey page and the email block: en, de, fr, es, pt, nl or ja (de-AT and de_AT "
        "read as de). Without it the page follows the browser's Accept-Language, else English."))

    @field_validator("locale")
    @classmethod
    def _supported_locale(cls, value: str | None) -> str | None:
        if value is None:
            return None
        locale = supported(value)
        if locale is None:
            raise ValueError(f"unsupported locale; use one of {', '.join(SUPPORTED_LOCALES)}")
        return locale

    @field_validator("properties")
    @classmethod
    def _small_enough_for_a_url(cls, value: dict[str, PropertyValue] | None) -> dict[str, PropertyValue] | None:
        if value and len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_LINK_PROPERTIES_JSON_BYTES:
            raise ValueError(f"link properties take at most {MAX_LINK_PROPERTIES_JSON_BYTES} bytes as JSON")
        return value


def _not_a_boolean(value: object) -> object:
    # JSON true would otherwise pass as the score 1.
    if isinstance(value, bool):
        raise ValueError("a score is a whole number, not true or false")
    return value


Score = Annotated[int, BeforeValidator(_not_a_boolean)]


class SurveyAnswer(BaseModel):
    """``POST /s/{token}``: the customer's answer (form fields or JSON)."""

    model_config = ConfigDict(extra="ignore")

    score: Score
    comment: Comment | None = None
    # Bot signals (touchpoint.surveys.bots): a honeypot people never see, and the page's signed render time.
    website: str | None = Field(default=None, max_length=2000)
    rendered: str | None = Field(default=None, max_length=200)


class ImportedResponse(BaseModel):
    """One item of ``POST /v1/responses``: a response collected elsewhere, or history."""

    model_config = ConfigDict(extra="forbid")

    customer_id: Identifier
    touchpoint: TouchpointId
    metric: Metric
    score: Score
    comment: Comment | None = None
    submitted_at: datetime | None = None
    order_id: ShortIdentifier | None = None
    properties: Properties = None
    response_id: ShortIdentifier | None = None

    def submitted_at_utc(self, now: datetime) -> datetime:
        if self.submitted_at is None:
            return now
        # A timestamp without a zone is taken as UTC.
        stamp = self.submitted_at if self.submitted_at.tzinfo else self.submitted_at.replace(tzinfo=UTC)
        return stamp.astimezone(UTC)


# --- what the routes answer ----------------------------------------------------------------------------------
class LinkCreated(BaseModel):
    """``POST /v1/links`` 201: the survey link to put in an email."""

    token: str = Field(description="The opaque (encrypted) token; the link is <base>/s/<token>")
    url: str
    expires_at: str = Field(description="ISO 8601 UTC")
    survey_id: str = Field(description="One survey per customer, touchpoint, metric and order")
    touchpoint: str
    metric: Metric
    email_html: str = Field(description="The one-click rating block to paste into an email: one link per score, "
                                        "table layout and inline styles (Gmail, Outlook, Apple Mail)")
    email_text: str = Field(description="The same for the plain-text part of the email")


class LinkThrottled(BaseModel):
    """``POST /v1/links`` 200: the contact policy holds the customer back; no link was minted."""

    throttled: Literal[True] = True
    reason: str = Field(description="Why, in a sentence: when the customer was last surveyed and the policy's N")
    next_allowed_at: str = Field(description="ISO 8601 UTC: the first moment a link for this touchpoint is allowed")


class AnswerRecorded(BaseModel):
    """``POST /s/{token}`` with JSON: 201 for the first answer, 200 when it replaced an earlier one."""

    survey_id: str
    status: Literal["created", "updated"]
    score: int
    submitted_at: str = Field(description="ISO 8601 UTC")


class ImportOutcome(BaseModel):
    survey_id: str
    response_id: str | None
    status: Literal["created", "duplicate", "suppressed"] = Field(description=(
        "suppressed: the customer was erased (DELETE /v1/customers/{customer_id}); nothing was written"))


class ImportResult(BaseModel):
    """``POST /v1/responses``: 201 when anything was created, 200 when every item was a duplicate."""

    created: int
    duplicates: int
    suppressed: int = Field(default=0, description="Responses of erased customers, not written")
    results: list[ImportOutcome]

