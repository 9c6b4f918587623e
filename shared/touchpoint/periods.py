"""Reporting periods (docs/reference.md#periods): ISO weeks (``2026-W47``, Monday–Sunday) and months
(``2026-11``) of the reporting time zone (an IANA name, ``ReportingTimezone``, default UTC).

Period and day ids name local calendar dates; the instants stored stay UTC. Every function that turns
an instant into a day or a period takes the zone, so a day across a DST change has 23 or 25 hours and
an answer given early on a local Monday counts in that local week.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")

DEFAULT_ZONE_NAME = "UTC"


@lru_cache(maxsize=16)
def reporting_zone(name: str = DEFAULT_ZONE_NAME) -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Berlin``); ``ValueError`` naming it when there is no such zone."""
    if not isinstance(name, str) or not _ZONE_NAME.match(name):
        raise ValueError(f"not an IANA time zone name (like Europe/Berlin or UTC): {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown IANA time zone (like Europe/Berlin or UTC): {name!r}") from None


def zone_name(zone: tzinfo) -> str:
    """The IANA name of ``zone`` (``UTC`` for the stdlib's ``datetime.UTC``)."""
    return getattr(zone, "key", None) or str(zone)


def parse_time(text: str) -> datetime:
    """ISO 8601 (with ``Z`` or an offset) to an aware UTC datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def local_date(moment: datetime | date, zone: tzinfo = UTC) -> date:
    """The calendar date of ``moment`` in ``zone`` (a date is already a local date)."""
    return moment.astimezone(zone).date() if isinstance(moment, datetime) else moment


def day_of(moment: datetime, zone: tzinfo = UTC) -> str:
    return local_date(moment, zone).isoformat()


def week_of(moment: datetime | date, zone: tzinfo = UTC) -> str:
    year, week, _ = local_date(moment, zone).isocalendar()
    return f"{year:04d}-W{week:02d}"


def month_of(moment: datetime | date, zone: tzinfo = UTC) -> str:
    day = local_date(moment, zone)
    return f"{day.year:04d}-{day.month:02d}"


def periods_of(moment: datetime, zone: tzinfo = UTC) -> tuple[str, str]:
    return week_of(moment, zone), month_of(moment, zone)


def bounds(period_id: str) -> tuple[date, date]:
    """First and last day (inclusive) of a period id."""
    if match := _WEEK.match(period_id):
        start = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
        return start, start + timedelta(days=6)
    if match := _MONTH.match(period_id):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"not a month: {period_id!r}")
        start = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        return start, following - timedelta(days=1)
    raise ValueError(f"not a period id (use 2026-W47 or 2026-11): {period_id!r}")


def start_of_day(day: date, zone: tzinfo = UTC) -> datetime:
    """The first instant of local ``day``, as a datetime in ``zone``. Where a DST jump skips
    midnight, the day starts at the first time that exists."""
    naive_midnight = datetime.combine(day, time(0), tzinfo=zone)
    return naive_midnight.astimezone(UTC).astimezone(zone)


def local_bounds(period_id: str, zone: tzinfo = UTC) -> tuple[datetime, datetime]:
    """The instants a period covers in ``zone``: from its first local midnight up to (not including)
    the first local midnight after it. The span is not always whole 24-hour days (DST)."""
    first, last = bounds(period_id)
    return start_of_day(first, zone), start_of_day(last + timedelta(days=1), zone)


def is_period(period_id: str) -> bool:
    try:
        bounds(period_id)
    except ValueError:
        return False
    return True


def days(period_id: str) -> list[str]:
    start, end = bounds(period_id)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def shift(period_id: str, steps: int) -> str:
    """The period ``steps`` periods later (negative: earlier), same granularity."""
    start, _ = bounds(period_id)
    if _WEEK.match(period_id):
        return week_of(start + timedelta(weeks=steps))
    index = start.year * 12 + (start.month - 1) + steps
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def previous(period_id: str) -> str:
    return shift(period_id, -1)


def last(period_id: str, count: int) -> list[str]:
    """The ``count`` periods ending with ``period_id``, oldest first."""
    return [shift(period_id, step) for step in range(1 - count, 1)]


def granularity(period_id: str) -> str:
    return "week" if _WEEK.match(period_id) else "month"


def last_complete_period(granularity: str, now: datetime, zone: tzinfo = UTC) -> str:
    """The period a scheduled run reports on: the local week (or month) that ended before ``now``."""
    today = local_date(now, zone)
    if granularity == "month":
        return month_of(today.replace(day=1) - timedelta(days=1))
    return week_of(today - timedelta(days=today.isoweekday()))
