"""Dates, times, durations, devices and lists as people read them: ``27 Nov 2026``, ``30 days``,
``just now``, ``Chrome on macOS``, ``Jira, Confluence and Trello``.

Stored values stay as they are (a policy's session limits in minutes, timestamps in UTC, the raw
user agent); these helpers only word them for pages, emails, flash messages and form errors, so that
every page says the same thing the same way. Pure, no Django, and in no app: every app may use them
(the ``console`` template library registers them as filters).

Dates and times: four forms, one rule; times are UTC and say so.

- ``day``: ``27 Nov 2026``. A calendar day, or a moment whose day is all that matters: created,
  added, expires, last active, in tables, details, badges and running text.
- ``moment``: ``27 Nov 2026, 14:03 UTC``. A moment whose time of day matters: last used, last
  checked, raised, signed in.
- ``moment_seconds``: ``27 Nov 2026, 14:03:09 UTC``. Log rows, where the order within a minute
  matters: the audit log and an event's details, the provisioning log.
- ``moment_in_full``: ``Friday 27 November 2026, 14:03 UTC``. A deadline someone must act by, read
  in a sentence (a page's notice, an email): a support response due, a certificate's expiry, a
  scheduled deletion, the end of a trial.

Machine formats (ISO 8601 in CSV, JSON, the APIs and audit details) are not for these helpers.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 24 * MINUTES_PER_HOUR


def plural(count: int, unit: str) -> str:
    """``count`` and ``unit``, plural unless one: ``1 token``, ``1,234 tokens``."""
    return f"{count:,} {unit}{'' if count == 1 else 's'}"


def people(count: int) -> str:
    """``1 person``, ``1,234 people``."""
    return "1 person" if count == 1 else f"{count:,} people"


def listed(items: list[str], most: int | None = None) -> str:
    """``items`` as a sentence lists them: ``a``, ``a and b``, ``a, b and c``; past ``most`` of
    them, ``a, b and 3 more``."""
    shown = items[:most] if most else items
    if len(items) > len(shown):
        return ", ".join(shown) + f" and {len(items) - len(shown)} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def minutes_in_words(minutes: int) -> str:
    """``minutes`` in the largest unit that states it exactly: ``43200`` → ``30 days``,
    ``480`` → ``8 hours``, ``90`` → ``90 minutes``."""
    if minutes and minutes % MINUTES_PER_DAY == 0:
        return plural(minutes // MINUTES_PER_DAY, "day")
    if minutes and minutes % MINUTES_PER_HOUR == 0:
        return plural(minutes // MINUTES_PER_HOUR, "hour")
    return plural(minutes, "minute")


def time_ago(when: datetime, now: datetime) -> str:
    """How long before ``now`` ``when`` was, in its largest whole unit: ``just now`` within the
    minute (or for a moment a clock ahead of ours recorded), then ``5 minutes ago``, ``2 hours ago``,
    ``3 days ago``."""
    minutes = int((now - when).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < MINUTES_PER_HOUR:
        return f"{plural(minutes, 'minute')} ago"
    if minutes < MINUTES_PER_DAY:
        return f"{plural(minutes // MINUTES_PER_HOUR, 'hour')} ago"
    return f"{plural(minutes // MINUTES_PER_DAY, 'day')} ago"


# English names, not the C library's locale (``%b`` and ``%A`` follow ``LC_TIME``).
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _in_utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive value is taken to be UTC already (as the database stores it)."""
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def day(when: date) -> str:
    """``27 Nov 2026``: a calendar day, or the UTC day of a moment when the day is all that matters
    (created, added, expires, last active; in tables, details, badges and running text)."""
    if isinstance(when, datetime):
        when = _in_utc(when)
    return f"{when.day} {_MONTHS[when.month - 1][:3]} {when.year}"


def moment(when: datetime) -> str:
    """``27 Nov 2026, 14:03 UTC``: a moment whose time of day matters (last used, last checked,
    raised, signed in)."""
    when = _in_utc(when)
    return f"{day(when)}, {when:%H:%M} UTC"


def moment_seconds(when: datetime) -> str:
    """``27 Nov 2026, 14:03:09 UTC``: a log row's moment, where the order within a minute matters
    (the audit log and an event's details, the provisioning log)."""
    when = _in_utc(when)
    return f"{day(when)}, {when:%H:%M:%S} UTC"


def moment_in_full(when: datetime, zone: str = "UTC") -> str:
    """``Friday 27 November 2026, 14:03 UTC``: a deadline someone must act by, read in a sentence
    (a support request's first response due, a certificate's expiry, a scheduled deletion), so
    the weekday is there to plan by. ``zone`` (an IANA name) shows it in another time zone as
    well-named: ``Friday 27 November 2026, 15:03 Europe/Paris``."""
    when = _in_utc(when) if zone == "UTC" else _in_utc(when).astimezone(ZoneInfo(zone))
    return (
        f"{_WEEKDAYS[when.weekday()]} {when.day} {_MONTHS[when.month - 1]} {when.year}, {when:%H:%M} {zone}"
    )


# Browsers by the token that names them, most specific first: Edge, Opera and Samsung Internet also
# send "Chrome/" and "Safari/", Chrome sends "Safari/", and Chrome and Firefox on iOS send their own
# tokens beside Safari's.
_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"\b(?:OPR|Opera)/")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS|HeadlessChrome)/")),
    ("Chromium", re.compile(r"\bChromium/")),
    ("Safari", re.compile(r"\bVersion/[\d.]+.*\bSafari/")),
)
# Operating systems, most specific first: iPhones and iPads say "like Mac OS X", Android "Linux".
_SYSTEMS = (
    ("iOS", re.compile(r"\b(?:iPhone|iPod)\b")),
    ("iPadOS", re.compile(r"\biPad\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b|\bX11\b")),
)


def device_in_words(user_agent: str) -> str:
    """The browser and operating system a ``User-Agent`` header names, short: ``Chrome on macOS``,
    ``Firefox``, ``Safari on iOS``; ``Unknown device`` when it names neither (a script's agent). The
    common browsers and systems only, by their tokens: the page that shows this keeps the whole
    string at hand for anything finer."""
    browser = next((name for name, token in _BROWSERS if token.search(user_agent or "")), None)
    system = next((name for name, token in _SYSTEMS if token.search(user_agent or "")), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"
