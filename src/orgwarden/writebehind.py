"""Write-behind bookkeeping: what a hot path notes in memory and writes, in one transaction, later.

Token introspection (``tokens.usage``: tokens' last use, product activity) and SCIM reads (their
provisioning-log lines, ``scim.rows``) run for every call a product or an identity provider makes.
Writing their bookkeeping on every call made each call a write transaction — on SQLite the workers
queued on its single writer, on PostgreSQL each waited for a commit. So each process notes what it
saw in a ``WriteBehind`` and writes it all in ONE transaction at most ``USAGE_FLUSH_SECONDS`` later
(``ORGWARDEN_USAGE_FLUSH_SECONDS``, default 10), from a timer thread, never in the request; with 0
every note is written at once, in the caller's thread (the test suite's setting).

What this trades, deliberately: the bookkeeping lags by up to the interval, and a worker killed
without a chance to exit (SIGKILL, out of memory) loses at most its last interval of it; a normal
stop writes what is pending (``atexit``). Nothing that decides an answer is buffered. A batch that
cannot be written is logged and dropped: bookkeeping must never break a request or the timer.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable, Sized
from typing import Generic, TypeVar

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

MAX_PENDING = 20_000  # entries; past this the note that crosses it writes the batch itself

Batch = TypeVar("Batch", bound=Sized)


def interval() -> float:
    return float(getattr(settings, "USAGE_FLUSH_SECONDS", 10))


class WriteBehind(Generic[Batch]):
    """Pending bookkeeping of one kind: ``empty()`` makes a batch, ``write(batch)`` writes one."""

    def __init__(self, name: str, empty: Callable[[], Batch], write: Callable[[Batch], None]) -> None:
        self.name = name
        self.max_pending = MAX_PENDING
        self._empty = empty
        self._write = write
        self._lock = threading.Lock()
        self._pending = empty()
        self._timer: threading.Timer | None = None
        self._atexit_registered = False

    def note(self, change: Callable[[Batch], None], *, at_once: bool = False) -> None:
        """Apply ``change`` to the pending batch (under the lock); write it now if ``at_once``,
        if the interval is 0 or the batch is full, else within the interval."""
        with self._lock:
            change(self._pending)
            full = len(self._pending) >= self.max_pending
        seconds = interval()
        if at_once or seconds <= 0 or full:
            self.flush()
        else:
            self._schedule(seconds)

    def flush(self) -> int:
        """Write everything pending in one transaction; returns how many entries were written."""
        with self._lock:
            batch, self._pending = self._pending, self._empty()
        if not batch:
            return 0
        try:
            self._write(batch)
        except Exception:  # bookkeeping must never break a request or the timer thread
            log.exception("could not write %d pending %s records; they are dropped", len(batch), self.name)
            return 0
        return len(batch)

    def reset(self) -> None:
        """Forget everything pending and stop the timer (tests)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
            self._pending = self._empty()

    def _schedule(self, seconds: float) -> None:
        with self._lock:
            if self._timer is not None:
                return
            if not self._atexit_registered:
                atexit.register(self.flush)
                self._atexit_registered = True
            self._timer = threading.Timer(seconds, self._timer_flush)
            self._timer.daemon = True
            self._timer.name = f"orgwarden-{self.name}-flush"
            self._timer.start()

    def _timer_flush(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.flush()
        finally:
            connections.close_all()  # this thread's own connections only
