"""Write-behind bookkeeping of the introspection hot path: tokens' last use and product activity.

Every successful introspection is activity (one ``Activity`` row per account × site × UTC day, and
the account's ``OrgUser.last_active_at`` in the site's org) and a use of the token
(``UserApiToken.last_used_at``). Writing that on every call made each call a write transaction,
and on SQLite the two workers queued on its single writer. So each process notes what it saw in
memory and writes it all in ONE transaction at most ``USAGE_FLUSH_SECONDS`` later
(``ORGWARDEN_USAGE_FLUSH_SECONDS``, default 10), from a timer thread, never in the request; with 0
every call writes at once, in the caller's thread.

What this trades, deliberately: "last used" and "last active" lag by up to the interval, and a
worker killed without a chance to exit (SIGKILL, out of memory) loses at most its last interval of
bookkeeping; a normal stop writes what is pending (``atexit``). Nothing that decides an answer is
buffered: revocation, expiry, the account's status, its policy and its site access are read from the
database on every call. Product sign-ins, which are rare, are written at once.

Bookkeeping, not a change anyone made: no audit events. The statements are plain SQL that both
SQLite (3.24+) and PostgreSQL accept, on the models' own tables, so a batch is a handful of
``executemany`` calls rather than a query compiled per row.
"""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.conf import settings
from django.db import connection, connections, transaction

from orgwarden.accounts.models import Account
from orgwarden.orgs.models import Activity, OrgUser, ProductSite
from orgwarden.tokens.models import UserApiToken

log = logging.getLogger(__name__)

MAX_PENDING = 20_000  # keys; past this a call writes the batch itself rather than grow without bound

ActivityKey = tuple[int, int, int, date]  # org pk, site pk, account pk, UTC day


@dataclass(slots=True)
class _Pending:
    tokens: dict[int, datetime] = field(default_factory=dict)  # token pk -> last use
    activity: dict[ActivityKey, list] = field(default_factory=dict)  # -> [signins, api_calls, last_at]

    def __len__(self) -> int:
        return len(self.tokens) + len(self.activity)


_lock = threading.Lock()
_pending = _Pending()
_timer: threading.Timer | None = None
_atexit_registered = False


def _interval() -> float:
    return float(getattr(settings, "USAGE_FLUSH_SECONDS", 10))


def token_used(*, token_pk: int, at: datetime) -> None:
    """Note that token ``token_pk`` was used at ``at``."""
    with _lock:
        seen = _pending.tokens.get(token_pk)
        if seen is None or at > seen:
            _pending.tokens[token_pk] = at
    _after_note()


def activity_noted(
    *, org_pk: int, site_pk: int, account_pk: int, kind: str, at: datetime, at_once: bool = False
) -> None:
    """Note one ``kind`` ("signin" or "api_call") of an account on a site at ``at``.

    ``at_once`` writes it (and whatever else is pending) now, in the caller's transaction.
    """
    key = (org_pk, site_pk, account_pk, at.astimezone(UTC).date())
    with _lock:
        counts = _pending.activity.setdefault(key, [0, 0, at])
        counts[0 if kind == "signin" else 1] += 1
        if at > counts[2]:
            counts[2] = at
    if at_once:
        flush()
    else:
        _after_note()


def _after_note() -> None:
    interval = _interval()
    if interval <= 0 or len(_pending) >= MAX_PENDING:
        flush()
    else:
        _schedule(interval)


def _schedule(interval: float) -> None:
    global _timer, _atexit_registered
    with _lock:
        if _timer is not None:
            return
        if not _atexit_registered:
            atexit.register(flush)
            _atexit_registered = True
        _timer = threading.Timer(interval, _timer_flush)
        _timer.daemon = True
        _timer.name = "orgwarden-usage-flush"
        _timer.start()


def _timer_flush() -> None:
    global _timer
    with _lock:
        _timer = None
    try:
        flush()
    finally:
        connections.close_all()  # this thread's own connections only


def flush() -> int:
    """Write everything pending in one transaction; returns how many keys were written."""
    global _pending
    with _lock:
        batch, _pending = _pending, _Pending()
    if not batch:
        return 0
    try:
        _write(batch)
    except Exception:  # bookkeeping must never break a request or the timer thread
        log.exception("could not write %d pending usage records; they are dropped", len(batch))
        return 0
    return len(batch)


def reset() -> None:
    """Forget everything pending and stop the timer (tests, and after a fork)."""
    global _pending, _timer
    with _lock:
        if _timer is not None:
            _timer.cancel()
        _timer = None
        _pending = _Pending()


def _write(batch: _Pending) -> None:
    ops = connection.ops
    when = ops.adapt_datetimefield_value
    tokens = UserApiToken._meta.db_table
    activity = Activity._meta.db_table
    org_users = OrgUser._meta.db_table
    last_active: dict[tuple[int, int], datetime] = {}
    for (org_pk, _site, account_pk, _day), (_s, _a, last_at) in batch.activity.items():
        seen = last_active.get((org_pk, account_pk))
        if seen is None or last_at > seen:
            last_active[(org_pk, account_pk)] = last_at
    with transaction.atomic(), connection.cursor() as cursor:
        if batch.activity:
            # An account or site deleted since its call was noted: its rows go, not the whole batch.
            accounts = set(
                Account.objects.filter(pk__in={k[2] for k in batch.activity}).values_list("pk", flat=True)
            )
            sites = set(
                ProductSite.objects.filter(pk__in={k[1] for k in batch.activity}).values_list("pk", flat=True)
            )
            batch.activity = {k: v for k, v in batch.activity.items() if k[2] in accounts and k[1] in sites}
        if batch.tokens:
            cursor.executemany(
                f"UPDATE {tokens} SET last_used_at = %s "  # noqa: S608 — table names from the models
                "WHERE id = %s AND (last_used_at IS NULL OR last_used_at < %s)",
                [(when(at), pk, when(at)) for pk, at in batch.tokens.items()],
            )
        if batch.activity:
            cursor.executemany(
                f"INSERT INTO {activity} (org_id, site_id, account_id, day, signins, api_calls, last_at) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (account_id, site_id, day) DO UPDATE SET "
                f"signins = {activity}.signins + excluded.signins, "
                f"api_calls = {activity}.api_calls + excluded.api_calls, "
                f"last_at = CASE WHEN excluded.last_at > {activity}.last_at "
                f"THEN excluded.last_at ELSE {activity}.last_at END",
                [
                    (org, site, account, ops.adapt_datefield_value(day), signins, calls, when(last_at))
                    for (org, site, account, day), (signins, calls, last_at) in batch.activity.items()
                ],
            )
            cursor.executemany(
                f"UPDATE {org_users} SET last_active_at = %s "  # noqa: S608
                "WHERE org_id = %s AND account_id = %s AND (last_active_at IS NULL OR last_active_at < %s)",
                [(when(at), org, account, when(at)) for (org, account), at in last_active.items()],
            )
