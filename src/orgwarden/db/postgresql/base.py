"""Django's PostgreSQL backend, with the per-request health check only after the connection idled.

With ``CONN_HEALTH_CHECKS`` (``settings.py`` turns it on with persistent connections) Django sends
``SELECT 1`` before the first query of every request, so that a connection the server dropped while
it sat idle (a restart, an idle timeout, a network cut) is replaced instead of failing the request.
On a busy worker that is one more round trip on every request — on the hot paths (introspection, a
SCIM lookup) about a sixth of the time the request spends waiting on PostgreSQL — for a connection
that answered a few milliseconds ago.

Here the check runs only when the connection has been idle for ``RECENT`` (one second) or more
since the last request began or ended with it open and without errors. A busy connection is
trusted the way Django trusts one without health checks, which is its default: if it broke in that
second, the request fails and Django closes the connection when the request ends (an error other
than an integrity or data error makes it test the connection then), so the next request gets a new
one. Everything else is Django's backend.
"""

from __future__ import annotations

import time

from django.db.backends.postgresql import base

RECENT = 1.0  # seconds


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.settled_at: float | None = None  # when a request last began or ended with it healthy

    def close_if_unusable_or_obsolete(self) -> None:
        """Django's (at the start and end of every request), then: skip this request's health
        check if the connection settled less than ``RECENT`` ago."""
        super().close_if_unusable_or_obsolete()
        if self.connection is None or not self.health_check_enabled:
            self.settled_at = None
            return
        now = time.monotonic()
        if self.settled_at is not None and now - self.settled_at < RECENT:
            self.health_check_done = True
        self.settled_at = now
