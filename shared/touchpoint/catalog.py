"""The touchpoint catalog (docs/reference.md#touchpoint-catalog): which touchpoints exist, their
family, stage and default metric, and how a helpdesk ticket's tags or category map to a touchpoint.

Presets ship as package data so the Lambda layer carries them; a custom YAML file can replace them
(``TOUCHPOINT_CATALOG`` may name a preset or a path).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from touchpoint.locales import SUPPORTED_LOCALES
from touchpoint.metrics import Metric

PRESETS = ("ecommerce", "restaurant", "retail", "saas")
DEFAULT_PRESET = "ecommerce"
DEFAULT_CONTACT_DAYS = 14
MAX_CONTACT_DAYS = 365
_ID = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


class CatalogError(ValueError):
    """The catalog file is unusable; the message says which entry and why."""


class Touchpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    label: str = Field(min_length=1, max_length=80)
    family: Literal["cx", "cs"]
    stage: str = Field(min_length=1, max_length=48)
    metric: Metric
    # The contact policy's N for links of this touchpoint; None takes the catalog's, 0 never holds back.
    # Not part of GET /v1/touchpoints (exclude): a policy setting, not what a touchpoint is.
    contact_days: int | None = Field(default=None, ge=0, le=MAX_CONTACT_DAYS, exclude=True)
    # The label in other languages, e.g. {de: Versand, fr: Livraison}: what a survey in that language
    # asks about (``label`` is the English one and the fallback).
    labels: dict[str, str] = Field(default_factory=dict, exclude=True)

    @field_validator("labels")
    @classmethod
    def _known_locales(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(SUPPORTED_LOCALES))
        if unknown:
            raise ValueError(f"labels in {', '.join(unknown)}: supported locales are {', '.join(SUPPORTED_LOCALES)}")
        if any(not 1 <= len(label) <= 80 for label in value.values()):
            raise ValueError("a label is 1 to 80 characters")
        return value

    def label_in(self, locale: str) -> str:
        return self.labels.get(locale) or self.label

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("touchpoint ids are lowercase letters, digits and _ (max 48), starting with a letter")
        return value

    def public(self) -> dict[str, str]:
        return {"id": self.id, "label": self.label, "family": self.family, "stage": self.stage,
                "metric": self.metric}


class ContactPolicy(BaseModel):
    """At most one survey per customer per ``days`` days, across every touchpoint (docs/reference.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(default=DEFAULT_CONTACT_DAYS, ge=0, le=MAX_CONTACT_DAYS)


class TicketMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str
    tags: dict[str, str] = Field(default_factory=dict)


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=48)
    brand: str = Field(default="us", min_length=1, max_length=80)
    touchpoints: tuple[Touchpoint, ...] = Field(min_length=1)
    ticket_mapping: TicketMapping
    contact_policy: ContactPolicy = Field(default_factory=ContactPolicy)
    _by_id: dict[str, Touchpoint] = PrivateAttr(default_factory=dict)

    def model_post_init(self, __context: object) -> None:
        self._by_id.update({t.id: t for t in self.touchpoints})

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        ids = [t.id for t in self.touchpoints]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate touchpoint ids: {', '.join(duplicates)}")
        by_id = {t.id: t for t in self.touchpoints}
        if not any(t.family == "cs" for t in self.touchpoints):
            raise ValueError("a catalog needs at least one touchpoint of family 'cs' (for example support)")
        targets = {"ticket_mapping.default": self.ticket_mapping.default}
        targets.update({f"ticket_mapping.tags.{k}": v for k, v in self.ticket_mapping.tags.items()})
        for where, target in targets.items():
            if target not in by_id:
                raise ValueError(f"{where} names unknown touchpoint {target!r}")
            if by_id[target].family != "cs":
                raise ValueError(f"{where} must name a 'cs' touchpoint, {target!r} is 'cx'")
        return self

    # Lookups -------------------------------------------------------------------------------
    def get(self, touchpoint_id: str) -> Touchpoint | None:
        return self._by_id.get(touchpoint_id)

    def contact_days(self, touchpoint: Touchpoint) -> int:
        """How many days since the customer's last survey hold back a new link for ``touchpoint``."""
        return self.contact_policy.days if touchpoint.contact_days is None else touchpoint.contact_days

    def touchpoint_for_ticket(self, tags: Iterable[str] = (), category: str | None = None) -> str:
        """The touchpoint of a ticket: its category, then its tags in order, looked up case-blind in
        the mapping; the mapping's default when none matches."""
        mapping = {k.lower(): v for k, v in self.ticket_mapping.tags.items()}
        for candidate in ([category] if category else []) + list(tags):
            key = str(candidate).strip().lower()
            if key in mapping:
                return mapping[key]
        return self.ticket_mapping.default

    def public(self) -> list[dict[str, str]]:
        return [t.public() for t in self.touchpoints]


def parse_catalog(text: str, source: str = "<catalog>") -> Catalog:
    import yaml  # imported here: only cold starts that load a catalog pay for it

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
        )
        raise CatalogError(f"{source}: {problems}") from exc


@lru_cache(maxsize=16)
def load_catalog(name_or_path: str = DEFAULT_PRESET) -> Catalog:
    """A preset by name, or a YAML file by path; validated, cached per process."""
    if name_or_path in PRESETS:
        text = resources.files(__package__).joinpath("catalogs", f"{name_or_path}.yaml").read_text("utf-8")
        return parse_catalog(text, f"preset {name_or_path}")
    path = Path(name_or_path)
    if not path.is_file():
        raise CatalogError(f"unknown catalog {name_or_path!r}: use one of {', '.join(PRESETS)} or a YAML path")
    return parse_catalog(path.read_text("utf-8"), str(path))
