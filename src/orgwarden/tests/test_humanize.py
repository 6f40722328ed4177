"""``orgwarden.humanize``: dates, durations and times as pages, emails, messages and form errors word
them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orgwarden.humanize import (
    day,
    device_in_words,
    minutes_in_words,
    moment,
    moment_in_full,
    moment_seconds,
    time_ago,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("minutes", "words"),
    [
        (1, "1 minute"),
        (15, "15 minutes"),
        (90, "90 minutes"),
        (60, "1 hour"),
        (480, "8 hours"),
        (1440, "1 day"),
        (43200, "30 days"),
        (129600, "90 days"),
        (1500, "25 hours"),
        (0, "0 minutes"),
        (129599, "129,599 minutes"),
    ],
)
def test_minutes_in_words_uses_the_largest_exact_unit(minutes, words):
    assert minutes_in_words(minutes) == words


@pytest.mark.parametrize(
    ("before", "words"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=-5), "just now"),  # a clock a moment ahead of ours
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=59, seconds=59), "59 minutes ago"),
        (timedelta(hours=1), "1 hour ago"),
        (timedelta(hours=23, minutes=59), "23 hours ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=45, hours=3), "45 days ago"),
    ],
)
def test_time_ago_says_just_now_within_the_minute_then_its_largest_unit(before, words):
    assert time_ago(NOW - before, NOW) == words


CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "words"),
    [
        (CHROME_MAC, "Chrome on macOS"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
            "Opera on Windows",
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.4 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.4 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
            "Chrome on iPadOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.6367.82 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
            "Samsung Internet on Android",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36",
            "Chrome on ChromeOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/131.0.0.0 Safari/537.36",
            "Chrome on Linux",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64) some-tool", "Linux"),
        ("curl/8.5.0", "Unknown device"),
        ("", "Unknown device"),
    ],
)
def test_device_in_words_names_the_browser_and_the_system(user_agent, words):
    assert device_in_words(user_agent) == words


FRIDAY = datetime(2026, 11, 27, 14, 3, 9, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("form", "when", "shown"),
    [
        (day, FRIDAY, "27 Nov 2026"),
        (day, date(2026, 3, 5), "5 Mar 2026"),  # a date; no leading zero
        (day, datetime(2026, 9, 1, 0, 30, tzinfo=PARIS), "31 Aug 2026"),  # the UTC day: 22:30 UTC
        (day, datetime(2026, 9, 1, 0, 30), "1 Sep 2026"),  # naive: already UTC, as stored
        (moment, FRIDAY, "27 Nov 2026, 14:03 UTC"),
        (moment, FRIDAY.astimezone(PARIS), "27 Nov 2026, 14:03 UTC"),
        (moment, datetime(2027, 1, 2, 3, 4), "2 Jan 2027, 03:04 UTC"),
        (moment_seconds, FRIDAY, "27 Nov 2026, 14:03:09 UTC"),
        (moment_seconds, FRIDAY.astimezone(PARIS), "27 Nov 2026, 14:03:09 UTC"),
        (moment_in_full, FRIDAY, "Friday 27 November 2026, 14:03 UTC"),
        (moment_in_full, datetime(2026, 3, 1, 23, 0, tzinfo=PARIS), "Sunday 1 March 2026, 22:00 UTC"),
    ],
)
def test_dates_and_times_in_their_four_forms(form, when, shown):
    assert form(when) == shown


def test_a_deadline_in_full_in_another_time_zone():
    """The support team's zone beside UTC (``support.emails``), summer time included."""
    assert moment_in_full(FRIDAY, zone="Europe/Paris") == "Friday 27 November 2026, 15:03 Europe/Paris"
    summer = datetime(2026, 7, 3, 22, 30, tzinfo=UTC)
    assert moment_in_full(summer, zone="Europe/Paris") == "Saturday 4 July 2026, 00:30 Europe/Paris"
