"""Reporting periods (docs/reference.md#periods): ISO weeks (``2026-W47``, Monday–Sunday) and months
(``2026-11``), UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_time(text: str) -> datetime:
    """ISO 8601 (with ``Z`` or an offset) to an aware UTC datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def week_of(moment: datetime | date) -> str:
    year, week, _ = (moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment).isocalendar()
    return f"{year:04d}-W{week:02d}"


def month_of(moment: datetime | date) -> str:
    day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
    return f"{day.year:04d}-{day.month:02d}"


def periods_of(moment: datetime) -> tuple[str, str]:
    return week_of(moment), month_of(moment)


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


def granularity(period_id: str) -> str:
    return "week" if _WEEK.match(period_id) else "month"


def last_complete_period(granularity: str, now: datetime) -> str:
    """The period a scheduled run reports on: the week (or month) that ended before ``now``."""
    today = now.astimezone(UTC).date()
    if granularity == "month":
        return month_of(today.replace(day=1) - timedelta(days=1))
    return week_of(today - timedelta(days=today.isoweekday()))
