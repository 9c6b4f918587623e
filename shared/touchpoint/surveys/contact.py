"""The contact policy (docs/reference.md#contact-policy): at most one survey per customer per N days,
across every touchpoint, decided when a link is minted. Pure rules over the customer's one contact
item; ``surveys.intake.issue_link`` reads and writes it through a ``ContactStore``.

The contact item remembers the last link that went out (when, for which touchpoint, its token and
expiry) and a fingerprint of the request that minted it, so a retried identical request gets the very
same link back instead of being held back by its own first attempt. Two lifetime counters, ``mints``
and ``held_back``, only ever go up by one per write: the stream aggregator turns each step into the
per-touchpoint, per-day ``minted_<metric>`` and ``held_back_<metric>`` rollup counters.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from touchpoint.periods import parse_time

# The contact item outlives the longest policy (and the link), then DynamoDB TTL removes it.
CONTACT_RETENTION = timedelta(days=366)
# The customer's links still open, by survey id, so an erasure can close each with a tombstone
# (docs/data-model.md). The contact policy keeps this short (one link per N days, each open for its
# ttl_days); beyond this many a new link is minted untracked and its answer checks the suppression
# list instead, so the contact item stays a few KB whatever the customer's history.
MAX_TRACKED_LINKS = 50


def mint_fingerprint(customer_id: str, touchpoint: str, metric: str, order_id: str | None,
                     properties: Mapping[str, Any] | None, ttl_days: int) -> str:
    """What makes two mint requests "the same request": a retry of it gets the same link back."""
    fields = [customer_id, touchpoint, metric, order_id, dict(sorted((properties or {}).items())), ttl_days]
    return hashlib.sha256(json.dumps(fields, separators=(",", ":"), sort_keys=True).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Decision:
    action: Literal["mint", "reissue", "hold_back"]
    next_allowed_at: datetime | None = None
    reason: str | None = None
    counted_before: bool = False  # a held-back retry: counted as held back once already


def decide(contact: Mapping[str, Any] | None, fingerprint: str, contact_days: int, now: datetime) -> Decision:
    """What to do with a mint request given the customer's contact item (None: never contacted).

    * the same request as the last link, while that link is valid: hand the same link out again;
    * a contact less than ``contact_days`` days ago (the touchpoint's own N; 0 never holds back):
      hold back until the last contact + N days (an instant, whatever the time zone);
    * otherwise: mint.
    """
    if not contact:
        return Decision("mint")
    if contact.get("fingerprint") == fingerprint and now < parse_time(str(contact["link_expires_at"])):
        return Decision("reissue")
    last = parse_time(str(contact["last_contact_at"]))
    allowed_at = last + timedelta(days=contact_days)
    if contact_days > 0 and now < allowed_at:
        retried = (contact.get("held_back_fingerprint") == fingerprint
                   and contact.get("held_back_since") == contact["last_contact_at"])
        return Decision("hold_back", allowed_at,
                        f"The customer received a survey on {last.date().isoformat()}; the contact policy allows "
                        f"one survey per {contact_days} days", counted_before=retried)
    return Decision("mint")


def still_open(links: Mapping[str, Any] | None, now: datetime) -> dict[str, int]:
    """Of a contact item's ``open_links`` (survey id -> expiry, epoch seconds), those not expired."""
    return {str(survey_id): int(expires) for survey_id, expires in (links or {}).items()
            if int(expires) > now.timestamp()}
