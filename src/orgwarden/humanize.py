"""Times, durations and devices as people read them: ``30 days``, ``just now``, ``Chrome on macOS``.

Stored values stay as they are (a policy's session limits in minutes, timestamps in UTC, the raw
user agent); these helpers only word them for pages, flash messages and form errors, so that every
page says the same thing the same way. Pure, no Django, and in no app: every app may use them (the
``console`` template library registers them as filters).
"""

from __future__ import annotations

import re
from datetime import datetime

MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 24 * MINUTES_PER_HOUR


def _plural(count: int, unit: str) -> str:
    return f"{count:,} {unit}{'' if count == 1 else 's'}"


def minutes_in_words(minutes: int) -> str:
    """``minutes`` in the largest unit that states it exactly: ``43200`` → ``30 days``,
    ``480`` → ``8 hours``, ``90`` → ``90 minutes``."""
    if minutes and minutes % MINUTES_PER_DAY == 0:
        return _plural(minutes // MINUTES_PER_DAY, "day")
    if minutes and minutes % MINUTES_PER_HOUR == 0:
        return _plural(minutes // MINUTES_PER_HOUR, "hour")
    return _plural(minutes, "minute")


def time_ago(when: datetime, now: datetime) -> str:
    """How long before ``now`` ``when`` was, in its largest whole unit: ``just now`` within the
    minute (or for a moment a clock ahead of ours recorded), then ``5 minutes ago``, ``2 hours ago``,
    ``3 days ago``."""
    minutes = int((now - when).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < MINUTES_PER_HOUR:
        return f"{_plural(minutes, 'minute')} ago"
    if minutes < MINUTES_PER_DAY:
        return f"{_plural(minutes // MINUTES_PER_HOUR, 'hour')} ago"
    return f"{_plural(minutes // MINUTES_PER_DAY, 'day')} ago"


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
