"""Per-key request limits for the REST API, through Django's shared cache.

A fixed one-minute window per key: simple for callers to reason about, and what the
``X-RateLimit-Limit``/``-Remaining``/``-Reset`` headers describe.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

WINDOW = 60


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int
    remaining: int
    reset: int  # seconds until the window resets

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Reset": str(self.reset),
        }


def hit(*, key_id: str) -> RateLimit:
    """Count one request for ``key_id`` in the current window and return the standing."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    now = time.time()
    bucket = int(now // WINDOW)
    cache_key = f"api-rate:{key_id}:{bucket}"
    if cache.add(cache_key, 1, timeout=WINDOW * 2):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:
            cache.add(cache_key, 1, timeout=WINDOW * 2)
            count = 1
    # Whole seconds, rounded up: in the window's last second the wait is 1, never 0 (or a window).
    return RateLimit(limit=limit, remaining=limit - count, reset=math.ceil(WINDOW - now % WINDOW))
