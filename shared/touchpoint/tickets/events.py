"""The canonical ticket event (the "generic" event, docs/reference.md#the-canonical-ticket-event) that
every helpdesk adapter maps to.

One ``TicketEvent`` is one thing that happened to one ticket: it was created, an agent or the customer
replied, it was solved, reopened or closed. The model is strict on purpose: the values end up in
DynamoDB keys, pages and emails, so ids are bounded (≤ 256 characters) and carry no control or
invisible formatting characters, timestamps carry a zone and are normalised to UTC, and unknown
fields are refused rather than silently dropped (a typo such as ``occured_at`` must not pass).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from touchpoint.errors import ApiError

Channel = Literal["phone", "email", "chat", "social", "in_person", "web", "other"]
EventKind = Literal["created", "agent_replied", "customer_replied", "solved", "reopened", "closed"]

CHANNELS: tuple[str, ...] = get_args(Channel)
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
PROVIDERS: tuple[str, ...] = ("zendesk", "intercom", "helpscout", "chatwoot", "freshdesk", "generic")

MAX_ID_LENGTH = 256
MAX_TAGS = 100
MAX_TAG_LENGTH = 128
# One event's handle time above a month is a unit mix-up (milliseconds), not a real conversation.
MAX_HANDLE_SECONDS = 31 * 24 * 3600
EARLIEST_EVENT = datetime(1990, 1, 1, tzinfo=UTC)
LATEST_EVENT = datetime(2100, 1, 1, tzinfo=UTC)

INVALID_EVENT = "invalid_ticket_event"
# Cc: control characters; Cf: invisible formatting (bidi overrides, zero-width); Cs: lone surrogates,
# which JSON can smuggle in as "\ud800" and which no UTF-8 store accepts.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def _no_control_characters(value: str) -> str:
    if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in value):
        raise ValueError("must not contain control or invisible formatting characters")
    return value


def _number_as_text(value: Any) -> Any:
    # Helpdesks number their tickets; senders of the generic event may pass 123 for "123".
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# Order matters to pydantic: the constraints must come before the BeforeValidator or they are skipped.
Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH),
    BeforeValidator(_number_as_text),
    AfterValidator(_no_control_characters),
]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TAG_LENGTH),
    AfterValidator(_no_control_characters),
]
TouchpointId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]


class TicketEvent(BaseModel):
    """One distinct event of one ticket, in the canonical vocabulary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier
    provider: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    ticket_id: Identifier
    customer_id: Identifier
    channel: Channel
    touchpoint: TouchpointId | None = None
    event: EventKind
    occurred_at: datetime
    handle_seconds: int | None = Field(default=None, ge=0, le=MAX_HANDLE_SECONDS)
    tags: tuple[Tag, ...] = Field(default=(), max_length=MAX_TAGS)
    category: Identifier | None = None

    @field_validator("occurred_at")
    @classmethod
    def _aware_utc_in_range(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("needs a time zone (for example 2026-11-22T15:04:05Z)")
        value = value.astimezone(UTC)
        if not EARLIEST_EVENT <= value < LATEST_EVENT:
            raise ValueError("must lie between 1990 and 2100")
        return value

    @field_validator("handle_seconds", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        # pydantic reads true as 1; a boolean handle time is a sender bug, not one second.
        if isinstance(value, bool):
            raise ValueError("must be a whole number of seconds")
        return value

    def to_public(self) -> dict[str, Any]:
        """The event as JSON-ready data, timestamps as ISO 8601 UTC ("...Z")."""
        data = self.model_dump(mode="json")
        data["occurred_at"] = iso_utc(self.occurred_at)
        return data


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, the only timestamp form the API emits."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def validation_to_api_error(exc: ValidationError, field_names: dict[str, str] | None = None,
                            prefix: str = "") -> ApiError:
    """The first problem pydantic found, as the 422 error body; ``field_names`` translates model fields
    back to where the sender wrote them (``ticket_id`` -> ``detail.id``)."""
    first = exc.errors(include_url=False)[0]
    location = [str(part) for part in first["loc"]]
    if location and field_names and location[0] in field_names:
        location[0] = field_names[location[0]]
    field = prefix + ".".join(location) if location else (prefix.rstrip(".") or None)
    return ApiError(422, INVALID_EVENT, f"{field or 'event'}: {first['msg']}", field or None)


def build_event(data: dict[str, Any], field_names: dict[str, str] | None = None,
                prefix: str = "") -> TicketEvent:
    """Validate canonical fields into a ``TicketEvent``; any problem becomes ApiError 422."""
    try:
        return TicketEvent.model_validate(data)
    except ValidationError as exc:
        raise validation_to_api_error(exc, field_names, prefix) from None


def generic_event_from_json(obj: Any, provider: str = "generic", prefix: str = "") -> TicketEvent:
    """The generic webhook body (docs/reference.md) as a ``TicketEvent``.

    Accepted fields: ``event_id, ticket_id, customer_id, channel, event, occurred_at`` (required) and
    ``touchpoint, handle_seconds, tags, category`` (optional). ``occurred_at`` is ISO 8601 with a zone
    or unix seconds. ``provider`` may be given only when it equals the route's provider.
    """
    if not isinstance(obj, dict):
        raise ApiError(422, INVALID_EVENT, "A ticket event is a JSON object", prefix.rstrip(".") or None)
    data = dict(obj)
    if data.setdefault("provider", provider) != provider:
        raise ApiError(422, INVALID_EVENT, f"provider must be {provider!r} on this route",
                       f"{prefix}provider")
    return build_event(data, prefix=prefix)
