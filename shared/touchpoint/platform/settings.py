"""Function settings, read from the environment and validated at cold start.

Each function declares what it needs (``SurveyIntakeSettings`` ...): a missing or malformed variable
stops the cold start with one clear line naming it, instead of failing on the first request that
happens to need it. ``Settings`` is the union every factory reads from.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(min_length=1, alias="TABLE_NAME")
    idempotency_table_name: str | None = Field(default=None, alias="IDEMPOTENCY_TABLE_NAME")
    token_keys_secret: str | None = Field(default=None, alias="TOKEN_KEYS_SECRET")
    webhook_secrets_secret: str | None = Field(default=None, alias="WEBHOOK_SECRETS_SECRET")
    pseudonym_key_secret: str | None = Field(default=None, alias="PSEUDONYM_KEY_SECRET")
    # 0: no limit. Events of helpdesks that sign no timestamp older than this are dropped as stale.
    webhook_max_event_age_days: int = Field(default=0, ge=0, le=365, alias="WEBHOOK_MAX_EVENT_AGE_DAYS")
    event_bus_name: str | None = Field(default=None, alias="EVENT_BUS_NAME")
    catalog: str = Field(default="ecommerce", alias="TOUCHPOINT_CATALOG")
    # The name questions and emails use; empty keeps the catalog's own brand.
    brand: str = Field(default="", max_length=80, alias="TOUCHPOINT_BRAND")
    # Where survey links point. Empty: derived from the request's own host (the API's URL).
    public_base_url: str = Field(default="", alias="PUBLIC_BASE_URL")
    stage: str = Field(default="dev", alias="STAGE")
    sender_address: str = Field(default="", alias="SENDER_ADDRESS")
    recipient_addresses: str = Field(default="", alias="RECIPIENT_ADDRESSES")
    archive_bucket: str = Field(default="", alias="ARCHIVE_BUCKET")
    scorecard_granularity: str = Field(default="week", pattern="^(week|month)$", alias="SCORECARD_GRANULARITY")
    scorecard_min_sample: int = Field(default=30, ge=1, le=100000, alias="SCORECARD_MIN_SAMPLE")
    scorecard_targets: str = Field(default="", alias="SCORECARD_TARGETS")  # JSON of touchpoint.metrics.Targets
    secrets_max_age_seconds: int = Field(default=300, ge=0, le=86400, alias="SECRETS_MAX_AGE_SECONDS")
    # ReportingTimezone of the template: the IANA zone whose days, weeks and months the rollups and
    # scorecards use. Validated here so a misspelt zone stops the cold start, naming the variable.
    reporting_timezone: str = Field(default="UTC", alias="REPORTING_TIMEZONE")

    @field_validator("reporting_timezone")
    @classmethod
    def _an_iana_zone(cls, value: str) -> str:
        from touchpoint.periods import reporting_zone

        reporting_zone(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        from touchpoint.periods import reporting_zone

        return reporting_zone(self.reporting_timezone)

    @field_validator("scorecard_targets")
    @classmethod
    def _targets_are_json_targets(cls, value: str) -> str:
        if value:
            from touchpoint.metrics import Targets

            Targets.model_validate(json.loads(value))
        return value


def _required(name: str):  # a non-empty string the function cannot start without
    return Field(min_length=1, alias=name)


class SurveyIntakeSettings(Settings):
    token_keys_secret: str = _required("TOKEN_KEYS_SECRET")
    pseudonym_key_secret: str = _required("PSEUDONYM_KEY_SECRET")
    idempotency_table_name: str = _required("IDEMPOTENCY_TABLE_NAME")
    event_bus_name: str = _required("EVENT_BUS_NAME")  # CustomerErased


class TicketWebhookSettings(Settings):
    token_keys_secret: str = _required("TOKEN_KEYS_SECRET")
    pseudonym_key_secret: str = _required("PSEUDONYM_KEY_SECRET")
    webhook_secrets_secret: str = _required("WEBHOOK_SECRETS_SECRET")
    event_bus_name: str = _required("EVENT_BUS_NAME")


class AggregatorSettings(Settings):
    event_bus_name: str = _required("EVENT_BUS_NAME")
    pseudonym_key_secret: str = _required("PSEUDONYM_KEY_SECRET")  # names the activity items


class ScorecardSettings(Settings):
    pass


class SettingsError(RuntimeError):
    pass


def validate_environment(model: type[Settings]) -> Settings:
    """The environment as ``model``; ``SettingsError`` names every missing or invalid variable."""
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as exc:
        problems = "; ".join(f"{err['loc'][0]}: {err['msg']}" for err in exc.errors())
        raise SettingsError(f"invalid {model.__name__} environment: {problems}") from exc
    except ValueError as exc:  # SCORECARD_TARGETS that is not JSON
        raise SettingsError(f"invalid {model.__name__} environment: {exc}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return validate_environment(Settings)


def recipients(settings: Settings) -> list[str]:
    return [address.strip() for address in settings.recipient_addresses.split(",") if address.strip()]
