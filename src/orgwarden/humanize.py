"""Times and durations as people read them: ``30 days``, ``8 hours``, ``just now``.

Stored values stay in their units (a policy's session limits in minutes, timestamps in UTC); these
helpers only word them for pages, flash messages and form errors, so that every page says the same
thing the same way. Pure, no Django, and in no app: every app may use them (the ``console`` template
library registers them as filters).
"""

from __future__ import annotations

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
