"""Throttling of failed attempts (password sign-ins, two-step codes) through Django's shared cache.

A sliding window over two fixed buckets: the previous bucket's count weighs by how much of it
still overlaps the window. Password sign-ins: about ``ORGWARDEN_SIGNIN_THROTTLE_PER_MINUTE``
failures a minute per account and per client address, so the real person is held back for at most
a minute after an attacker stops. Two-step codes: 10 failures an hour per account — a 6-digit code
has a million values, and an attacker who already has the password must not get through them by
patience (10 an hour is under 0.1 % of success in a day).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True, slots=True)
class Throttle:
    scope: str
    window: int  # seconds
    limit_setting: str | None = None
    fixed_limit: int = 0

    @property
    def limit(self) -> int:
        return getattr(settings, self.limit_setting) if self.limit_setting else self.fixed_limit

    def _key(self, kind: str, value: str, bucket: int) -> str:
        digest = hashlib.sha256(value.encode()).hexdigest()[:32]
        return f"fail:{self.scope}:{kind}:{digest}:{bucket}"

    def _count(self, kind: str, value: str, now: float) -> float:
        bucket = int(now // self.window)
        current = cache.get(self._key(kind, value, bucket), 0)
        previous = cache.get(self._key(kind, value, bucket - 1), 0)
        overlap = 1 - (now % self.window) / self.window
        return current + previous * overlap

    @staticmethod
    def _pairs(email: str, ip: str | None) -> list[tuple[str, str]]:
        return [("account", email)] + ([("ip", ip)] if ip else [])

    def retry_after(self, *, email: str, ip: str | None = None) -> int:
        """Seconds the caller must wait before another attempt; 0 when it may try now."""
        now = time.time()
        if any(self._count(kind, value, now) >= self.limit for kind, value in self._pairs(email, ip)):
            return int(self.window - now % self.window) + 1
        return 0

    def record_failure(self, *, email: str, ip: str | None = None) -> None:
        bucket = int(time.time() // self.window)
        for kind, value in self._pairs(email, ip):
            key = self._key(kind, value, bucket)
            if not cache.add(key, 1, timeout=2 * self.window):
                try:
                    cache.incr(key)
                except ValueError:  # expired between add and incr
                    cache.add(key, 1, timeout=2 * self.window)

    def clear_account(self, *, email: str) -> None:
        """Forget an account's failures after it succeeds."""
        bucket = int(time.time() // self.window)
        cache.delete_many([self._key("account", email, bucket), self._key("account", email, bucket - 1)])


SIGNIN = Throttle("signin", 60, limit_setting="SIGNIN_THROTTLE_PER_MINUTE")
TWO_STEP = Throttle("two-step", 3600, fixed_limit=10)

# The sign-in flow's names for the password throttle.
retry_after = SIGNIN.retry_after
record_failure = SIGNIN.record_failure
clear_account = SIGNIN.clear_account
