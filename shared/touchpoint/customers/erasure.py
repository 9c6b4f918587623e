"""Erasure (``DELETE /v1/customers/{customer_id}``): delete every record of a customer, put them on
the suppression list so that nothing of theirs comes back (a helpdesk's late retry, a re-import, an
answer through an old link), take their comments out of the archived scorecards and their links out
of the mint retries, and tell the shop's other systems (``CustomerErased``). The rollups follow
through the stream: each deleted record's REMOVE subtracts exactly what it had added."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from touchpoint.customers.models import ErasureResult, SuppressionReleased
from touchpoint.customers.store import CustomerStore, SuppressionStore
from touchpoint.periods import month_of, week_of
from touchpoint.platform.table import alert_from_key
from touchpoint.surveys.contact import still_open

CUSTOMER_ERASED = "CustomerErased"


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class Archive(Protocol):
    """scorecards.delivery.ScorecardArchive"""

    def remove_comments(self, period_id: str, comments: set[tuple[int, str]]) -> bool: ...


class Retries(Protocol):
    """customers.store.MintRetries"""

    def forget(self, customer_id: str) -> int: ...


def erase_customer(store: CustomerStore, suppressions: SuppressionStore, publisher: EventPublisher,
                   customer_id: str, now: datetime, *, archive: Archive | None = None,
                   retries: Retries | None = None) -> ErasureResult:
    """Suppress the id, close the customer's open links, delete every record of theirs, scrub the
    copies, publish ``CustomerErased``. Safe to retry: each step is idempotent, and the suppression
    and the tombstones come before the index is read, so nothing arriving meanwhile slips in behind."""
    erased_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # Suppressed first: from here on, intake, imports and webhooks refuse the customer ...
    suppressions.suppress(customer_id, erased_at, 0)
    # ... their open links are closed by tombstones (an answer through one then fails its own write) ...
    # (an expired link is refused anyway; an answer through it is deleted with the rest)
    closed_answers = store.close_surveys(still_open(store.open_links(customer_id), now))
    # ... and everything else that carries their index key is deleted.
    keys = store.keys_of(customer_id)
    store.delete(keys)
    records = len(keys) + closed_answers
    suppressions.suppress(customer_id, erased_at, records)
    scrubbed = _scrub_archive(archive, keys) if archive is not None else []
    forgotten = retries.forget(customer_id) if retries is not None else 0
    publisher.publish(CUSTOMER_ERASED, {"customer_id": customer_id, "erased_at": erased_at, "records": records})
    return ErasureResult(customer_id=customer_id, status="erased" if records else "nothing_found",
                         deleted_records=records, suppressed=True, erased_at=erased_at,
                         archived_scorecards_rewritten=scrubbed, link_retries_forgotten=forgotten)


def _scrub_archive(archive: Archive, keys: list[dict[str, Any]]) -> list[str]:
    """Only detractor comments name a person in an archived scorecard (the rest are counts): find the
    periods of the customer's alerts and rewrite those that show one."""
    by_period: dict[str, set[tuple[int, str]]] = {}
    for key in keys:
        alert = alert_from_key(key["pk"]["S"], key["sk"]["S"])  # keys as DynamoDB returned them
        if alert is None:
            continue
        day, score, submitted_at = alert
        local_day = date.fromisoformat(day)  # alert days are already days of the reporting zone
        for period_id in (week_of(local_day), month_of(local_day)):
            by_period.setdefault(period_id, set()).add((score, submitted_at))
    return [period for period, comments in sorted(by_period.items()) if archive.remove_comments(period, comments)]


def release_customer(suppressions: SuppressionStore, customer_id: str) -> SuppressionReleased:
    """``DELETE /v1/customers/{customer_id}/suppression``: a customer who came back of their own will
    (signed up again, asked to hear from you) may be surveyed and counted again from now on."""
    released = suppressions.release(customer_id)
    return SuppressionReleased(customer_id=customer_id, status="released" if released else "not_suppressed")
