"""Throttling of failed sign-ins per account and per IP, through Django's shared cache.

A sliding window over two fixed one-minute buckets: the previous minute's count weighs by how much
of it still overlaps the last 60 seconds. An attacker gets about ``limit`` guesses a minute per
account and per address; the real person is held back for at most a minute after the attacker stops,
never locked out for long.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

WINDOW = 60


def _key(kind: str, value: str, bucket: int) -> str:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"signin-fail:{kind}:{digest}:{bucket}"


def _count(kind: str, value: str, now: float) -> float:
    bucket = int(now // WINDOW)
    current = cache.get(_key(kind, value, bucket), 0)
    previous = cache.get(_key(kind, value, bucket - 1), 0)
    overlap = 1 - (now % WINDOW) / WINDOW
    return current + previous * overlap


def retry_after(*, email: str, ip: str | None) -> int:
    """Seconds the caller must wait before another attempt; 0 when it may try now."""
    limit = settings.SIGNIN_THROTTLE_PER_MINUTE
    now = time.time()
    pairs = [("account", email)] + ([("ip", ip)] if ip else [])
    if any(_count(kind, value, now) >= limit for kind, value in pairs):
        return int(WINDOW - now % WINDOW) + 1
    return 0


def record_failure(*, email: str, ip: str | None) -> None:
    bucket = int(time.time() // WINDOW)
    for kind, value in [("account", email)] + ([("ip", ip)] if ip else []):
        key = _key(kind, value, bucket)
        if not cache.add(key, 1, timeout=2 * WINDOW):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=2 * WINDOW)


def clear_account(*, email: str) -> None:
    """Forget an account's failures after it signs in successfully."""
    bucket = int(time.time() // WINDOW)
    cache.delete_many([_key("account", email, bucket), _key("account", email, bucket - 1)])
