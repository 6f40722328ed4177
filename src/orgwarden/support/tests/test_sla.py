"""The deadline maths, without a database: every level, weekends, evenings, holidays, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orgwarden.support.sla import LEVELS, parse_holidays, response_deadline

PARIS = ZoneInfo("Europe/Paris")
NY = ZoneInfo("America/New_York")


def at(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)


def due(raised: datetime, level: str, tz: ZoneInfo = PARIS, holidays=()) -> datetime:
    return response_deadline(raised_at=raised, level=level, tz=tz, holidays=holidays).astimezone(tz)


def test_the_four_levels_of_the_table():
    assert [LEVELS[k].target for k in ("L1", "L2", "L3", "L4")] == [
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=9),
        timedelta(hours=18),
    ]
    assert [LEVELS[k].coverage for k in ("L1", "L2", "L3", "L4")] == ["24/7", "24/5", "9/5", "9/5"]


# 2026-11-27 is a Friday.
@pytest.mark.parametrize(
    ("raised", "level", "expected"),
    [
        # L1: one hour, any time, weekends included
        ((2026, 11, 27, 10, 0), "L1", (2026, 11, 27, 11, 0)),
        ((2026, 11, 28, 23, 30), "L1", (2026, 11, 29, 0, 30)),
        # L2: two hours of 24/5
        ((2026, 11, 25, 23, 0), "L2", (2026, 11, 26, 1, 0)),  # Wednesday night runs on
        ((2026, 11, 27, 23, 0), "L2", (2026, 11, 30, 1, 0)),  # Friday 23:00: 1 h, then Monday 00:00 + 1 h
        ((2026, 11, 28, 12, 0), "L2", (2026, 11, 30, 2, 0)),  # Saturday: from Monday midnight
        # L3: one business day (9 covered hours of 09:00-18:00)
        ((2026, 11, 24, 15, 0), "L3", (2026, 11, 25, 15, 0)),  # Tuesday afternoon → Wednesday same time
        ((2026, 11, 24, 9, 0), "L3", (2026, 11, 24, 18, 0)),  # at opening: that evening
        ((2026, 11, 24, 7, 30), "L3", (2026, 11, 24, 18, 0)),  # early morning: clock starts at 09:00
        ((2026, 11, 24, 18, 0), "L3", (2026, 11, 25, 18, 0)),  # at closing: the next day
        ((2026, 11, 27, 20, 0), "L3", (2026, 11, 30, 18, 0)),  # Friday evening → Monday 18:00
        ((2026, 11, 29, 10, 0), "L3", (2026, 11, 30, 18, 0)),  # Sunday
        # L4: two business days
        ((2026, 11, 27, 20, 0), "L4", (2026, 12, 1, 18, 0)),  # Friday evening → Tuesday 18:00
        ((2026, 11, 26, 12, 0), "L4", (2026, 11, 30, 12, 0)),  # Thursday noon → Monday noon
    ],
)
def test_deadlines_in_the_team_time_zone(raised, level, expected):
    assert due(at(PARIS, *raised), level) == at(PARIS, *expected)


def test_holidays_are_skipped_by_24_5_and_9_5_but_not_24_7():
    christmas = parse_holidays("2026-12-24, 2026-12-25")
    wednesday_evening = at(PARIS, 2026, 12, 23, 19, 0)
    assert due(wednesday_evening, "L3", holidays=christmas) == at(PARIS, 2026, 12, 28, 18, 0)
    assert due(at(PARIS, 2026, 12, 23, 23, 30), "L2", holidays=christmas) == at(PARIS, 2026, 12, 28, 1, 30)
    assert due(at(PARIS, 2026, 12, 25, 10, 0), "L1", holidays=christmas) == at(PARIS, 2026, 12, 25, 11, 0)


def test_a_week_of_holidays_and_a_weekend():
    days = frozenset(date(2026, 8, d) for d in range(3, 8))  # Monday 3 to Friday 7 August
    assert due(at(PARIS, 2026, 7, 31, 17, 0), "L4", holidays=days) == at(PARIS, 2026, 8, 11, 17, 0)


def test_business_hours_follow_local_time_across_the_spring_change():
    # Paris moves from UTC+1 to UTC+2 on Sunday 29 March 2026; Monday's 09:00 is 07:00 UTC.
    raised = at(PARIS, 2026, 3, 27, 17, 0)  # Friday 17:00 CET = 16:00 UTC
    deadline = response_deadline(raised_at=raised, level="L3", tz=PARIS)
    # One hour on Friday, eight on Monday from 09:00 CEST (07:00 UTC): Monday 17:00 CEST.
    assert deadline == datetime(2026, 3, 30, 15, 0, tzinfo=UTC)
    assert deadline.astimezone(PARIS).hour == 17


def test_business_hours_follow_local_time_across_the_autumn_change():
    raised = at(NY, 2026, 10, 30, 16, 0)  # Friday 16:00 EDT; clocks go back on Sunday 1 November
    deadline = response_deadline(raised_at=raised, level="L3", tz=NY)
    assert deadline.astimezone(NY) == at(NY, 2026, 11, 2, 16, 0)
    assert deadline == datetime(2026, 11, 2, 21, 0, tzinfo=UTC)  # EST: UTC-5


def test_24_5_starts_monday_at_local_midnight_after_the_change():
    raised = at(PARIS, 2026, 3, 27, 23, 0)  # Friday 23:00 CET, then the weekend with the change
    deadline = response_deadline(raised_at=raised, level="L2", tz=PARIS)
    # 1 hour on Friday, then from Monday 00:00 CEST (Sunday 22:00 UTC) one more hour.
    assert deadline == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)


def test_l1_is_elapsed_time_even_across_a_dst_jump():
    raised = at(PARIS, 2026, 3, 29, 1, 30)  # 01:30 CET; at 02:00 clocks jump to 03:00
    assert due(raised, "L1") == at(PARIS, 2026, 3, 29, 3, 30)


def test_any_aware_input_zone_gives_the_same_instant():
    paris = at(PARIS, 2026, 11, 27, 20, 0)
    assert response_deadline(raised_at=paris.astimezone(UTC), level="L3", tz=PARIS) == response_deadline(
        raised_at=paris, level="L3", tz=PARIS
    )


def test_bad_input():
    with pytest.raises(ValueError, match="timezone-aware"):
        response_deadline(raised_at=datetime(2026, 1, 1), level="L1", tz=PARIS)
    with pytest.raises(KeyError):
        response_deadline(raised_at=at(PARIS, 2026, 1, 1), level="L5", tz=PARIS)
    every_day = frozenset(date(2026, 1, 1) + timedelta(days=n) for n in range(900))
    with pytest.raises(ValueError, match="holidays"):
        response_deadline(raised_at=at(PARIS, 2026, 1, 1), level="L3", tz=PARIS, holidays=every_day)


def test_parse_holidays():
    assert parse_holidays("") == frozenset()
    assert parse_holidays(" 2026-12-25 ,,2026-01-01") == {date(2026, 12, 25), date(2026, 1, 1)}
    with pytest.raises(ValueError, match="25/12/2026"):
        parse_holidays("25/12/2026")
