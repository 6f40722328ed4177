"""Throttling of failed attempts (password sign-ins, two-step codes) through Django's shared cache.

A sliding window over two fixed buckets: the previous bucket's count weighs by how much of it
still overlaps the window. Password sign-ins: about ``ORGWARDEN_SIGNIN_THROTTLE_PER_MINUTE``
failures a minute per account and per client address, so the real person is held back for at most
a minute after an attacker stops. Two-step codes: 10 failures an hour per account — a 6-digit code
has a million values, and an attacker who already has the password must not get through them by
patience (10 an hour is under 0.1 % of success in a day).

Requests that cost something each time, whatever their outcome — a password-reset email, a
sign-up — go through ``requests_admit``: every one counts, not only failures, and whether the
account exists changes nothing (the refusal comes before anything is looked up, so it says nothing
about it). ``RESET_PER_EMAIL`` and ``RESET_PER_CLIENT`` are those of the password resets,
``SIGNUP_PER_EMAIL`` and ``SIGNUP_PER_CLIENT`` those of the sign-ups (accounts', and each help
center's with its own per-email key; the per-client count is one per address for the installation).

Sign-up limits, chosen for a company whose people share one office NAT address: 60 sign-ups an hour
from one client address (a team signing up together after an announcement fits, one a minute for
an hour fits; people an org brings in come by invitation, SCIM or single sign-on, which are not
counted here) and 10 an hour per email (a person retrying against the password rules fits; a
second account for one address is impossible anyway). Without them anyone could create accounts
and make this server send verification emails to any address without end, and test which addresses
have an account (sign-up says so, see the README's Security section) at full speed.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
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

    def retry_after(self, *, email: str, ip: str | None = None, attempts: int = 1) -> int:
        """Seconds the caller must wait before another attempt (or ``attempts`` at once, all of
        which must fit under the limit); 0 when it may try now."""
        now = time.time()
        extra = attempts - 1
        if any(self._count(kind, value, now) + extra >= self.limit for kind, value in self._pairs(email, ip)):
            return int(self.window - now % self.window) + 1
        return 0

    def record_failure(self, *, email: str, ip: str | None = None, attempts: int = 1) -> None:
        bucket = int(time.time() // self.window)
        for kind, value in self._pairs(email, ip):
            key = self._key(kind, value, bucket)
            if not cache.add(key, attempts, timeout=2 * self.window):
                try:
                    cache.incr(key, attempts)
                except ValueError:  # expired between add and incr
                    cache.add(key, attempts, timeout=2 * self.window)

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

# Password-reset requests: 5 an hour per address asked for (nobody floods a mailbox with reset
# emails from this server), 30 an hour per client address (looser: an office shares one).
RESET_PER_EMAIL = Throttle("reset", 3600, fixed_limit=5)
RESET_PER_CLIENT = Throttle("reset-client", 3600, fixed_limit=30)

# Sign-up attempts (accounts' and help centers' customers'); why these numbers: the docstring.
SIGNUP_PER_EMAIL = Throttle("signup", 3600, fixed_limit=10)
SIGNUP_PER_CLIENT = Throttle("signup-client", 3600, fixed_limit=60)


def requests_admit(counted: Sequence[tuple[Throttle, str]]) -> int:
    """Admit one request that costs something each time: 0 when each ``(throttle, key)`` admits it
    (and it is counted against every one), else the seconds to wait (and nothing is counted). A
    key is the throttle's own value for the thing counted: an address, a client's IP.

    A pair listed n times is n requests admitted together or not at all (an invitation of several
    people is several emails from one sender): all n must fit under the limit."""
    wanted = Counter(counted)
    wait = max((limit.retry_after(email=key, attempts=n) for (limit, key), n in wanted.items()), default=0)
    if not wait:
        for (limit, key), n in wanted.items():
            limit.record_failure(email=key, attempts=n)
    return wait


@dataclass(frozen=True, slots=True)
class PerAddressAndClient:
    """Requests that cost something each time (``requests_admit``), counted per address asked for
    and per client address, with the words that refuse one."""

    per_email: Throttle
    per_client: Throttle
    too_many: str  # "Too many reset requests"

    def admit(self, form, *, email_key: str, ip: str | None) -> int:
        """0 when the request is admitted (and counted); else the seconds to wait, and ``form``
        (a bound Django form) has a non-field error saying how long."""
        wait = requests_admit([(self.per_email, email_key)] + ([(self.per_client, ip)] if ip else []))
        if wait:
            form.add_error(None, f"{self.too_many}. Wait {wait_in_words(wait)}, then try again.")
        return wait


RESETS = PerAddressAndClient(RESET_PER_EMAIL, RESET_PER_CLIENT, "Too many reset requests")
SIGNUPS = PerAddressAndClient(SIGNUP_PER_EMAIL, SIGNUP_PER_CLIENT, "Too many sign-up attempts")


def wait_in_words(seconds: int) -> str:
    """``seconds`` as the time a person waits: ``1 minute``, ``42 minutes``; past two hours (a
    day's limit), in hours rounded up: ``5 hours``."""
    minutes = max(1, -(-seconds // 60))
    if minutes > 120:
        return f"{-(-minutes // 60)} hours"
    return f"{minutes} minute{'s' if minutes > 1 else ''}"
