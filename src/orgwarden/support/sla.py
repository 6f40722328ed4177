"""Support response deadlines: a pure function of when a request was raised and its severity.

No Django here: ``response_deadline`` takes the support team's time zone and public holidays as
arguments (the operator configures them: ``ORGWARDEN_SUPPORT_TIME_ZONE``,
``ORGWARDEN_SUPPORT_HOLIDAYS``) so every case is a plain unit test.

The levels and their first-response targets:

| level | meaning                      | first response   | coverage                         |
|-------|------------------------------|------------------|----------------------------------|
| L1    | production application down  | 1 hour           | 24/7                             |
| L2    | serious degradation          | 2 hours          | 24/5: Monday–Friday, all day     |
| L3    | moderate impact              | 1 business day   | 9/5: 09:00–18:00 Monday–Friday   |
| L4    | limited impact               | 2 business days  | 9/5                              |

Decisions where the table is silent:

- a business day is the 9 covered hours of one 9/5 day, so an L3 raised on Friday evening is due
  on Monday at 18:00 and one raised on Tuesday at 15:00 is due on Wednesday at 15:00;
- public holidays are not covered days for 24/5 and 9/5 (24/7 covers every day);
- covered time is measured in real elapsed time: a 24/5 day on which the clocks change covers 23 or
  25 hours, and 09:00–18:00 is always nine hours of the team's local day, whatever its UTC offset;
- the clock starts when the request is raised, or, outside coverage, when coverage next begins.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Level:
    key: str
    meaning: str
    target: timedelta  # covered time until the first response is due
    target_label: str
    coverage: str  # "24/7", "24/5" or "9/5"
    coverage_label: str


BUSINESS_START = time(9)
BUSINESS_END = time(18)
BUSINESS_DAY = timedelta(hours=9)

LEVELS: dict[str, Level] = {
    "L1": Level(
        "L1", "Production application down", timedelta(hours=1), "1 hour", "24/7", "24 hours, 7 days a week"
    ),
    "L2": Level(
        "L2", "Serious degradation", timedelta(hours=2), "2 hours", "24/5", "24 hours, 5 days a week"
    ),
    "L3": Level("L3", "Moderate impact", BUSINESS_DAY, "1 business day", "9/5", "9 hours, 5 days a week"),
    "L4": Level("L4", "Limited impact", 2 * BUSINESS_DAY, "2 business days", "9/5", "9 hours, 5 days a week"),
}


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """``day`` at ``at`` in ``tz`` as UTC; a wall time skipped by a DST jump lands after the jump."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _window(
    day: date, coverage: str, tz: ZoneInfo, holidays: Collection[date]
) -> tuple[datetime, datetime] | None:
    """The covered UTC interval of the team's local ``day``, or None when that day is not covered."""
    if coverage == "24/7":
        return _local(day, time(0), tz), _local(day + timedelta(days=1), time(0), tz)
    if day.weekday() >= 5 or day in holidays:
        return None
    if coverage == "24/5":
        return _local(day, time(0), tz), _local(day + timedelta(days=1), time(0), tz)
    return _local(day, BUSINESS_START, tz), _local(day, BUSINESS_END, tz)


def response_deadline(
    *, raised_at: datetime, level: str, tz: ZoneInfo, holidays: Collection[date] = ()
) -> datetime:
    """When the first response to a request of ``level`` raised at ``raised_at`` is due, in UTC.

    ``raised_at`` must be timezone-aware. Raises ``KeyError`` for an unknown level and
    ``ValueError`` for a naive datetime.
    """
    if raised_at.tzinfo is None:
        raise ValueError("raised_at must be timezone-aware")
    spec = LEVELS[level]
    cursor = raised_at.astimezone(UTC)
    if spec.coverage == "24/7":
        return cursor + spec.target
    remaining = spec.target
    day = cursor.astimezone(tz).date()
    # A year of consecutive holidays would be a configuration error; stop well before looping forever.
    for _ in range(800):
        window = _window(day, spec.coverage, tz, holidays)
        day += timedelta(days=1)
        if window is None:
            continue
        start, end = max(window[0], cursor), window[1]
        if start >= end:
            continue
        if end - start >= remaining:
            return start + remaining
        remaining -= end - start
        cursor = end
    raise ValueError("no covered time within two years: check the support holidays")


def parse_holidays(raw: str) -> frozenset[date]:
    """``2026-12-25,2026-12-26`` → dates; raises ``ValueError`` naming the bad entry."""
    days = set()
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            days.add(date.fromisoformat(item))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not a date like 2026-12-25") from exc
    return frozenset(days)
