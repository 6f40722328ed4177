"""``orgwarden.humanize``: durations and times as pages, messages and form errors word them."""

from __future__ import annotations

import pytest

from orgwarden.humanize import minutes_in_words


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
