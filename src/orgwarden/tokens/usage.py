"""Write-behind bookkeeping of the introspection hot path: tokens' last use and product activity.

Every successful introspection is activity (one ``Activity`` row per account × site × UTC day, and
the account's ``OrgUser.last_active_at`` in the site's org) and a use of the token
(``UserApiToken.last_used_at``). Each process notes them in memory and writes them behind, in one
transaction per batch (``orgwarden.writebehind``: at most ``ORGWARDEN_USAGE_FLUSH_SECONDS`` later,
what that trades and why). "Last used" and "last active" lag by up to the interval. Nothing that
decides an answer is buffered: revocation, expiry, the account's status, its policy and its site
access are read from the database on every call. Product sign-ins, which are rare, are written at
once.

Bookkeeping, not a change anyone made: no audit events. A batch is plain SQL on the models' own
tables rather than a query compiled per row: on PostgreSQL a handful of set-based statements over
arrays, on SQLite (3.24+) one ``executemany`` per table. Every writer takes the rows' locks in one
order, so workers flushing at the same time never deadlock.
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
    """Write a batch in one transaction, its rows in one order (see below)."""
    last_active: dict[tuple[int, int], datetime] = {}
    for (org_pk, _site, account_pk, _day), (_s, _a, last_at) in batch.activity.items():
        seen = last_active.get((org_pk, account_pk))
        if seen is None or last_at > seen:
            last_active[(org_pk, account_pk)] = last_at
    tokens = sorted(batch.tokens.items())
    activity = sorted(batch.activity.items(), key=lambda item: (item[0][2], item[0][1], item[0][3]))
    org_users = sorted(last_active.items())
    write = _write_postgresql if connection.vendor == "postgresql" else _write_each
    with transaction.atomic(), connection.cursor() as cursor:
        write(cursor, tokens, activity, org_users)


# Every writer locks the rows of a batch in the same order — tokens by id, activity rows by
# (account, site, day), org users by id — so two workers writing overlapping batches at once wait
# for each other instead of deadlocking (PostgreSQL would abort one, and its batch would be lost).
_TOKENS = UserApiToken._meta.db_table
_ACTIVITY = Activity._meta.db_table
_ORG_USERS = OrgUser._meta.db_table
_ACCOUNTS = Account._meta.db_table
_SITES = ProductSite._meta.db_table
_UPSERT = (
    "ON CONFLICT (account_id, site_id, day) DO UPDATE SET "
    f"signins = {_ACTIVITY}.signins + excluded.signins, "
    f"api_calls = {_ACTIVITY}.api_calls + excluded.api_calls, "
    f"last_at = CASE WHEN excluded.last_at > {_ACTIVITY}.last_at "
    f"THEN excluded.last_at ELSE {_ACTIVITY}.last_at END"
)


def _write_postgresql(cursor, tokens, activity, org_users) -> None:
    """A handful of set-based statements over arrays, whatever the size of the batch.

    ``SELECT … ORDER BY … FOR UPDATE`` takes the row locks in order before an ``UPDATE … FROM
    unnest`` (whose join may visit rows in any order); the ``INSERT … SELECT … ORDER BY`` upserts
    (and locks) in the order of its ``SELECT``. Rows of an account or site deleted since the call was
    noted are left out, not the batch.
    """
    if tokens:
        ids = [pk for pk, _at in tokens]
        cursor.execute(f"SELECT id FROM {_TOKENS} WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids])  # noqa: S608 — table names from the models
        cursor.execute(
            f"UPDATE {_TOKENS} t SET last_used_at = v.at "  # noqa: S608
            "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at) "
            "WHERE t.id = v.id AND (t.last_used_at IS NULL OR t.last_used_at < v.at)",
            [ids, [at for _pk, at in tokens]],
        )
    if activity:
        columns = list(zip(*[(*key, *counts) for key, counts in activity], strict=True))
        cursor.execute(
            f"INSERT INTO {_ACTIVITY} (org_id, site_id, account_id, day, signins, api_calls, last_at) "  # noqa: S608
            "SELECT v.* FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::date[], "
            "%s::integer[], %s::integer[], %s::timestamptz[]) "
            "AS v(org_id, site_id, account_id, day, signins, api_calls, last_at) "
            f"WHERE EXISTS (SELECT 1 FROM {_ACCOUNTS} a WHERE a.id = v.account_id) "
            f"AND EXISTS (SELECT 1 FROM {_SITES} s WHERE s.id = v.site_id) "
            f"ORDER BY v.account_id, v.site_id, v.day {_UPSERT}",
            [list(column) for column in columns],
        )
    if org_users:
        orgs, accounts, times = (
            [row[0][0] for row in org_users],
            [row[0][1] for row in org_users],
            [row[1] for row in org_users],
        )
        cursor.execute(
            f"SELECT ou.id FROM {_ORG_USERS} ou "  # noqa: S608
            "JOIN unnest(%s::bigint[], %s::bigint[]) AS v(org_id, account_id) "
            "ON ou.org_id = v.org_id AND ou.account_id = v.account_id ORDER BY ou.id FOR UPDATE OF ou",
            [orgs, accounts],
        )
        cursor.execute(
            f"UPDATE {_ORG_USERS} ou SET last_active_at = v.at "  # noqa: S608
            "FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS v(org_id, account_id, at) "
            "WHERE ou.org_id = v.org_id AND ou.account_id = v.account_id "
            "AND (ou.last_active_at IS NULL OR ou.last_active_at < v.at)",
            [orgs, accounts, times],
        )


def _write_each(cursor, tokens, activity, org_users) -> None:
    """One ``executemany`` per table (SQLite: in-process statements are cheap, and one writer)."""
    ops = connection.ops
    when = ops.adapt_datetimefield_value
    if activity:
        # An account or site deleted since its call was noted: its rows go, not the whole batch.
        accounts = set(
            Account.objects.filter(pk__in={k[2] for k, _ in activity}).values_list("pk", flat=True)
        )
        sites = set(
            ProductSite.objects.filter(pk__in={k[1] for k, _ in activity}).values_list("pk", flat=True)
        )
        activity = [(k, v) for k, v in activity if k[2] in accounts and k[1] in sites]
    if tokens:
        cursor.executemany(
            f"UPDATE {_TOKENS} SET last_used_at = %s "  # noqa: S608
            "WHERE id = %s AND (last_used_at IS NULL OR last_used_at < %s)",
            [(when(at), pk, when(at)) for pk, at in tokens],
        )
    if activity:
        cursor.executemany(
            f"INSERT INTO {_ACTIVITY} (org_id, site_id, account_id, day, signins, api_calls, last_at) "  # noqa: S608
            f"VALUES (%s, %s, %s, %s, %s, %s, %s) {_UPSERT}",
            [
                (org, site, account, ops.adapt_datefield_value(day), signins, calls, when(last_at))
                for (org, site, account, day), (signins, calls, last_at) in activity
            ],
        )
    if org_users:
        cursor.executemany(
            f"UPDATE {_ORG_USERS} SET last_active_at = %s "  # noqa: S608
            "WHERE org_id = %s AND account_id = %s AND (last_active_at IS NULL OR last_active_at < %s)",
            [(when(at), org, account, when(at)) for (org, account), at in org_users],
        )


BEHIND: WriteBehind[_Pending] = WriteBehind("usage", _Pending, _write)
