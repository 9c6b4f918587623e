"""Function settings, read from the environment once per cold start and validated."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(min_length=1, alias="TABLE_NAME")
    idempotency_table_name: str | None = Field(default=None, alias="IDEMPOTENCY_TABLE_NAME")
    token_keys_secret: str | None = Field(default=None, alias="TOKEN_KEYS_SECRET")
    webhook_secrets_secret: str | None = Field(default=None, alias="WEBHOOK_SECRETS_SECRET")
    event_bus_name: str | None = Field(default=None, alias="EVENT_BUS_NAME")
    catalog: str = Field(default="ecommerce", alias="TOUCHPOINT_CATALOG")
    # Where survey links point. Empty: derived from the request's own host (the API's URL).
    public_base_url: str = Field(default="", alias="PUBLIC_BASE_URL")
    stage: str = Field(default="dev", alias="STAGE")
    sender_address: str = Field(default="", alias="SENDER_ADDRESS")
    recipient_addresses: str = Field(default="", alias="RECIPIENT_ADDRESSES")
    archive_bucket: str = Field(default="", alias="ARCHIVE_BUCKET")
    scorecard_granularity: str = Field(default="week", pattern="^(week|month)$", alias="SCORECARD_GRANULARITY")
    scorecard_min_sample: int = Field(default=30, ge=1, le=100000, alias="SCORECARD_MIN_SAMPLE")
    scorecard_targets: str = Field(default="", alias="SCORECARD_TARGETS")  # JSON of touchpoint.scorecard.Targets
    secrets_max_age_seconds: int = Field(default=300, ge=0, le=86400, alias="SECRETS_MAX_AGE_SECONDS")


class SettingsError(RuntimeError):
    pass


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings.model_validate(dict(os.environ))
    except ValidationError as exc:
        problems = "; ".join(f"{err['loc'][0]}: {err['msg']}" for err in exc.errors())
        raise SettingsError(f"invalid function settings: {problems}") from exc


def recipients(settings: Settings) -> list[str]:
    return [address.strip() for address in settings.recipient_addresses.split(",") if address.strip()]
