"""A database that is briefly out of reach, or a transaction it rolled back to break a deadlock,
told apart from a defect: what error answers call 503.

When PostgreSQL restarts, fails over or is cut off, or when SQLite's write lock stays taken past
the busy timeout (another process's long write: a migration, a bulk import), a request cannot be
served — but nothing is wrong with the request or with orgwarden, and the same request will work
in a moment. Such a request is answered 503 with ``Retry-After`` in its caller's format
(``console.views.errors.server_error``), so an identity provider or a product retries it and a
person is told to try again, instead of a 500 that says "bug". Django replaces a broken connection
by itself at the end of the request, so service comes back with the database, without a restart.

Unavailable means, in the exception or in what it was raised from (Django wraps the driver's error):

- psycopg's ``OperationalError`` without an SQLSTATE (the client could not connect, or the server
  closed the connection), or with one of SQLSTATE class 08 (connection exception), 53
  (insufficient resources: too many connections, disk full) or 57P01–57P03 (the server is shutting
  down, crashed, or is starting up);
- PostgreSQL's 40P01 (deadlock detected) and 40001 (serialization failure): concurrent requests
  (an identity provider sends several at once) got in each other's way — each held a row the other
  needed next, or one changed what the other had read — and PostgreSQL rolled one transaction back
  whole. Nothing of it was applied, and the same request works when sent again: the same kind of
  moment as an outage, not a defect;
- sqlite3's ``OperationalError`` for a file that cannot be opened, a lock held past the busy
  timeout, an I/O error, or a full disk;
- redis-py's ``ConnectionError`` and ``TimeoutError``: with ``ORGWARDEN_REDIS_URL`` the shared
  cache (sign-in throttles, rate limits, one-time values) is Redis, which every sign-in and API
  call reads, and Redis down or restarting is the same kind of moment as the database's.

Everything else (a syntax error, a missing table or column, a query cancelled by a timeout, an
integrity error) is a defect or a bad request, and keeps its 500 or its own answer.
"""

from __future__ import annotations

import sqlite3

RETRY_AFTER_SECONDS = 10  # what a 503 for an unavailable database tells the caller to wait
MESSAGE = "The service can't reach its database right now. Try again in a few seconds."
_SQLITE_MESSAGES = (
    "database is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
)
_PG_SQLSTATE_PREFIXES = ("08", "53", "57P01", "57P02", "57P03", "40P01", "40001")


def database_unavailable(exc: BaseException | None) -> bool:
    """True if ``exc`` (or an exception it was raised from) says the database is out of reach."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if _driver_unavailable(exc):
            return True
        # Django raises its error *from* the driver's; an error merely raised while handling an
        # outage (its __context__) is not one, and may be a defect of its own.
        exc = exc.__cause__
    return False


def _driver_unavailable(exc: BaseException) -> bool:
    if redis_unavailable(exc):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc).lower()
        return any(message.startswith(known) for known in _SQLITE_MESSAGES)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite-only installs may drop it
        return False
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith(_PG_SQLSTATE_PREFIXES)
    return False


def redis_unavailable(exc: BaseException) -> bool:
    """True if ``exc`` is redis-py's own word that Redis is out of reach (refused, timed out,
    closed the connection, or is loading its data)."""
    try:
        from redis import exceptions
    except ImportError:  # pragma: no cover - redis is a dependency
        return False
    return isinstance(exc, exceptions.ConnectionError | exceptions.TimeoutError | exceptions.BusyLoadingError)
