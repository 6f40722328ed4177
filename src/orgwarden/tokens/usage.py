"""Write-behind bookkeeping of the introspection hot path: tokens' last use and product activity.

Every successful introspection is activity (one ``Activity`` row per account × site × UTC day, and
the account's ``OrgUser.last_active_at`` in the site's org) and a use of the token
(``UserApiToken.last_used_at``). Each process notes them in memory and writes them behind, in one
transaction per batch (``orgwarden.writebehind``: at most ``ORGWARDEN_USAGE_FLUSH_SECONDS`` later,
what that trades and why). "Last used" and "last active" lag by up to the interval. Nothing that
decides an answer is buffered: revocation, expiry, the account's status, its policy and its site
access are read from the database on every call. Product sign-ins, which are rare, are written at
once.

Bookkeeping, not a change anyone made: no audit events. The statements are plain SQL that both
SQLite (3.24+) and PostgreSQL accept, on the models' own tables, so a batch is a handful of
``executemany`` calls rather than a query compiled per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.db import connection, transaction

from orgwarden.accounts.models import Account
from orgwarden.orgs.models import Activity, OrgUser, ProductSite
from orgwarden.tokens.models import UserApiToken
from orgwarden.writebehind import WriteBehind

ActivityKey = tuple[int, int, int, date]  # org pk, site pk, account pk, UTC day


@dataclass(slots=True)
class _Pending:
    tokens: dict[int, datetime] = field(default_factory=dict)  # token pk -> last use
    activity: dict[ActivityKey, list] = field(default_factory=dict)  # -> [signins, api_calls, last_at]

    def __len__(self) -> int:
        return len(self.tokens) + len(self.activity)


def token_used(*, token_pk: int, at: datetime) -> None:
    """Note that token ``token_pk`` was used at ``at``."""

    def change(pending: _Pending) -> None:
        seen = pending.tokens.get(token_pk)
        if seen is None or at > seen:
            pending.tokens[token_pk] = at

    BEHIND.note(change)


def activity_noted(
    *, org_pk: int, site_pk: int, account_pk: int, kind: str, at: datetime, at_once: bool = False
) -> None:
    """Note one ``kind`` ("signin" or "api_call") of an account on a site at ``at``.

    ``at_once`` writes it (and whatever else is pending) now, in the caller's transaction.
    """
    key = (org_pk, site_pk, account_pk, at.astimezone(UTC).date())

    def change(pending: _Pending) -> None:
        counts = pending.activity.setdefault(key, [0, 0, at])
        counts[0 if kind == "signin" else 1] += 1
        if at > counts[2]:
            counts[2] = at

    BEHIND.note(change, at_once=at_once)


def flush() -> int:
    """Write everything pending in one transaction; returns how many keys were written."""
    return BEHIND.flush()


def reset() -> None:
    """Forget everything pending and stop the timer (tests)."""
    BEHIND.reset()


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


BEHIND: WriteBehind[_Pending] = WriteBehind("usage", _Pending, _write)
