"""Keeps ``SiteUser`` and ``AccessUser`` (who has access to which site, with their last active day)
exact: brought up to date at the first read after the org's access rows change, never a read later.

Who has access is a function of three sets of rows, written by many service paths: the org's
grants (site, group), the memberships of the granting groups and the org's users. Database
triggers (``insights.triggers``) write an ``AccessChange`` row for the org — naming the account
(a membership, an org user) or the site (a grant) — in the same transaction as any insert, delete
or relevant update of one of them. ``current(org=)`` — called by every reader of these rollups —
looks for such a row (one index probe) and, when there is one or the rollups were never built,
under the org's ``RollupState`` lock:

1. deletes the ``AccessChange`` rows it acts on, first: all of the org's before a full pass (never
   built, or more than ``TARGETED`` changes), only those it has just read before a targeted one. A
   change that commits later keeps its row for the next read (on PostgreSQL a statement only sees
   rows committed before it starts), and a change committed earlier is seen by the statements
   below, which start after;
2. brings the org's rows of both tables — all of them, or those of the named accounts and sites —
   to what the access rows give now, writing only the difference: the rows without a grant,
   membership or org user behind them are deleted, the missing ones inserted with their last
   active days from ``SiteLastActive`` and ``AccountLastActive``.

Between rebuilds ``insights.rollups`` brings ``last_day`` up to date at each refresh
(``days_synced``) for the last-active rows it added or moved (marked with the refresh's
``moved``); a refresh that rebuilt the last-active rows (a site removed, an account deleted)
deletes the org's rows, to be built again from nothing at the next read.

``SiteUserCount`` holds how many ``SiteUser`` rows each site has with each ``last_day`` (so a
chart reads a site's users, and those active lately, from a few dozen rows instead of its 50,000),
written in the same steps as the rows: counted again for every site after a full pass and for the
sites named by a targeted one; for the accounts named, and for the rows whose last day a refresh
moved, the counts move by the difference in those rows before and after (a few index seeks).
Only a deleted account loses rows outside these steps (Django cascades its ``SiteUser`` rows
away): a targeted pass that names one counts every site again.

Account status is not rolled up: readers leave out the accounts not active now, live, so
deactivating or reactivating someone shows at once. Not tracked (the app never does it): a group or
a site moved to another org. Bookkeeping, not a change anyone made: no audit event. Plain SQL that
SQLite and PostgreSQL both accept.
"""

from __future__ import annotations

from django.db import connection, transaction

from orgwarden.accounts.models import Account
from orgwarden.insights.models import (
    AccessChange,
    AccessUser,
    AccountLastActive,
    RollupState,
    SiteLastActive,
    SiteUser,
    SiteUserCount,
)
from orgwarden.orgs.models import GroupMember, Organization, OrgUser, SiteAccess

_SU = SiteUser._meta.db_table
_COUNTS = SiteUserCount._meta.db_table
_ACCOUNTS = Account._meta.db_table
_AU = AccessUser._meta.db_table
_SLA = SiteLastActive._meta.db_table
_ALA = AccountLastActive._meta.db_table
_GROUP_MEMBERS = GroupMember._meta.db_table
_ORG_USERS = OrgUser._meta.db_table
# Up to this many recorded changes, only the accounts and sites they name are looked at again.
TARGETED = 2000


def grants(*, org: Organization) -> list[tuple[int, int]]:
    """The org's (site pk, group pk) grants, both of the org, in order."""
    rows = SiteAccess.objects.filter(site__org=org, group__org=org).order_by("site", "group")
    return list(rows.values_list("site", "group"))


def _up_to_date(org: Organization, state: RollupState) -> bool:
    return state.access_built and not AccessChange.objects.filter(org_id=org.pk).exists()


def current(*, org: Organization, state: RollupState) -> RollupState:
    """``state`` after making sure ``org``'s access rollups match its access rows now.

    Brings them up to date (under the state row's lock, once however many readers arrive
    together) when an access row changed since, or they were never built.
    """
    if _up_to_date(org, state):
        return state
    with transaction.atomic():
        state = RollupState.objects.select_for_update().get(pk=state.pk)
        if _up_to_date(org, state):  # another reader did it meanwhile
            return state
        changes = list(
            AccessChange.objects.filter(org_id=org.pk).values_list("pk", "account_id", "site_id")[
                : TARGETED + 1
            ]
        )
        if not state.access_built or len(changes) > TARGETED:
            AccessChange.objects.filter(org_id=org.pk).delete()  # first: see the module docstring
            _rebuild(org, grants(org=org), sites=None, accounts=None)
            if connection.vendor == "postgresql":  # its planner should know them before autovacuum does
                with connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {_SU}, {_AU}")
            state.access_built = True
            RollupState.objects.filter(pk=state.pk).update(access_built=True)
        else:
            # Only the rows read: one committed since keeps its row for the next read.
            AccessChange.objects.filter(pk__in=[pk for pk, _a, _s in changes]).delete()
            _rebuild(
                org,
                grants(org=org),
                sites={site for _pk, _a, site in changes if site is not None},
                accounts={account for _pk, account, _s in changes if account is not None},
            )
    return state


def _in(values) -> str:
    return f"IN ({', '.join(['%s'] * len(values))})"


def _rebuild(
    org: Organization, grant_rows: list[tuple[int, int]], *, sites: set[int] | None, accounts: set[int] | None
) -> None:
    """Bring the org's rows to what its access rows give now — all of them (``sites`` and
    ``accounts`` None), or those of the given sites and accounts — writing only the difference.

    Site by site, with the site's granting groups listed, and account by account: every row is
    checked with lookups of its own memberships and org user, never against the whole org. Then the
    sites' counts (``SiteUserCount``; see the module docstring).
    """
    by_site: dict[int, list[int]] = {}
    for site, group in grant_rows:
        by_site.setdefault(site, []).append(group)
    org_user = f"EXISTS (SELECT 1 FROM {_ORG_USERS} ou WHERE ou.org_id = %s AND ou.account_id = {{}})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {_SU}")  # noqa: S608 — model tables
        top = cursor.fetchone()[0] or 0
        held_before = _held(cursor, org, sorted(accounts)) if accounts else {}
        if sites is None:  # every site: also those that lost their last grant
            granted = list(by_site) or [0]
            sql = f"DELETE FROM {_SU} WHERE org_id = %s AND site_id NOT {_in(granted)}"  # noqa: S608
            cursor.execute(sql, [org.pk, *granted])
        else:
            gone = [site for site in sites if site not in by_site]
            if gone:
                sql = f"DELETE FROM {_SU} WHERE org_id = %s AND site_id {_in(gone)}"  # noqa: S608
                cursor.execute(sql, [org.pk, *gone])
        for site, groups in by_site.items():
            if sites is None or site in sites:
                _site_diff(cursor, org, site, groups, org_user)
        if accounts:
            ordered = sorted(accounts)
            for i in range(0, len(ordered), 500):
                _accounts_diff(cursor, org, ordered[i : i + 500], grant_rows, org_user)
        # AccessUser: the accounts with a SiteUser row. "+su.org_id" keeps SQLite on the
        # (account, site) index rather than walking the org's rows for every row.
        lost = f"DELETE FROM {_AU} WHERE org_id = %s "  # noqa: S608
        lost_params: list = [org.pk]
        if sites is not None and not sites and accounts:  # only these accounts' rows can have gone
            lost += f"AND account_id {_in(accounts)} "
            lost_params += sorted(accounts)
        cursor.execute(
            lost + f"AND NOT EXISTS (SELECT 1 FROM {_SU} su WHERE su.account_id = {_AU}.account_id "  # noqa: S608
            "AND +su.org_id = %s)",
            [*lost_params, org.pk],
        )
        # Only rows inserted above can bring an account in (this org's rows change under its lock).
        cursor.execute(
            f"INSERT INTO {_AU} (org_id, account_id, last_day) "  # noqa: S608
            f"SELECT %s, x.account_id, l.last_day FROM (SELECT DISTINCT account_id FROM {_SU} "
            f"WHERE id > %s AND +org_id = %s) x "
            f"LEFT JOIN {_ALA} l ON l.org_id = %s AND l.account_id = x.account_id "
            f"WHERE NOT EXISTS (SELECT 1 FROM {_AU} u WHERE u.org_id = %s AND u.account_id = x.account_id)",
            [org.pk, top, org.pk, org.pk, org.pk],
        )
        if sites is None or (accounts and _any_deleted(cursor, sorted(accounts))):
            _recount(cursor, org, None)
            return
        if accounts:
            moved = _held(cursor, org, sorted(accounts))
            for key, n in held_before.items():
                moved[key] = moved.get(key, 0) - n
            _move(cursor, org, {(site, day): n for (site, day), n in moved.items() if site not in sites})
        if sites:
            _recount(cursor, org, sorted(sites))


def _held(cursor, org: Organization, accounts: list[int]) -> dict[tuple, int]:
    """(site pk, last day) -> how many ``SiteUser`` rows of ``accounts`` it has (seeks of the
    (account, site) index, 500 accounts at a time)."""
    held: dict[tuple, int] = {}
    for i in range(0, len(accounts), 500):
        chunk = accounts[i : i + 500]
        cursor.execute(
            f"SELECT site_id, last_day, COUNT(*) FROM {_SU} WHERE account_id {_in(chunk)} "  # noqa: S608
            "AND +org_id = %s GROUP BY site_id, last_day",
            [*chunk, org.pk],
        )
        for site, day, n in cursor.fetchall():
            held[(site, day)] = held.get((site, day), 0) + n
    return held


def _move(cursor, org: Organization, moved: dict[tuple, int]) -> None:
    """Add ``moved`` ((site pk, last day) -> rows gained, or lost when negative) to ``SiteUserCount``.
    An update, else an insert: the org's rows change only under its lock (``current``, a refresh)."""
    for (site, day), n in moved.items():
        if not n:
            continue
        same_day = "last_day IS NULL" if day is None else "last_day = %s"
        cursor.execute(
            f"UPDATE {_COUNTS} SET users = users + %s WHERE org_id = %s AND site_id = %s AND {same_day}",  # noqa: S608
            [n, org.pk, site, *([] if day is None else [day])],
        )
        if cursor.rowcount == 0:
            cursor.execute(
                f"INSERT INTO {_COUNTS} (org_id, site_id, last_day, users) VALUES (%s, %s, %s, %s)",  # noqa: S608
                [org.pk, site, day, n],
            )


def _any_deleted(cursor, accounts: list[int]) -> bool:
    """Whether one of ``accounts`` no longer exists: its ``SiteUser`` rows went with it, uncounted."""
    found = 0
    for i in range(0, len(accounts), 500):
        chunk = accounts[i : i + 500]
        cursor.execute(f"SELECT COUNT(*) FROM {_ACCOUNTS} WHERE id {_in(chunk)}", chunk)  # noqa: S608
        found += cursor.fetchone()[0]
    return found < len(accounts)


def _recount(cursor, org: Organization, sites: list[int] | None) -> None:
    """Count the ``SiteUser`` rows of ``sites`` (None: every site of the org) into ``SiteUserCount``."""
    where, params = "org_id = %s", [org.pk]
    if sites is not None:
        where, params = f"org_id = %s AND site_id {_in(sites)}", [org.pk, *sites]
    cursor.execute(f"DELETE FROM {_COUNTS} WHERE {where}", params)  # noqa: S608
    cursor.execute(
        f"INSERT INTO {_COUNTS} (org_id, site_id, last_day, users) "  # noqa: S608
        f"SELECT org_id, site_id, last_day, COUNT(*) FROM {_SU} WHERE {where} "
        "GROUP BY org_id, site_id, last_day",
        params,
    )


def _site_diff(cursor, org: Organization, site: int, groups: list[int], org_user: str) -> None:
    # Rows without a membership of a granting group, or an org user, behind them any more.
    cursor.execute(
        f"DELETE FROM {_SU} WHERE org_id = %s AND site_id = %s AND NOT ("  # noqa: S608
        f"EXISTS (SELECT 1 FROM {_GROUP_MEMBERS} gm WHERE gm.account_id = {_SU}.account_id "
        f"AND gm.group_id {_in(groups)}) AND {org_user.format(f'{_SU}.account_id')})",
        [org.pk, site, *groups, org.pk],
    )
    # Rows that are missing. DISTINCT: a member of two groups granted the site has access once.
    cursor.execute(
        f"INSERT INTO {_SU} (org_id, site_id, account_id, last_day) "  # noqa: S608
        f"SELECT %s, %s, x.account_id, l.last_day FROM ("
        f"SELECT {'DISTINCT ' if len(groups) > 1 else ''}gm.account_id FROM {_GROUP_MEMBERS} gm "
        f"WHERE gm.group_id {_in(groups)} AND {org_user.format('gm.account_id')}"
        f") x LEFT JOIN {_SLA} l ON l.site_id = %s AND l.account_id = x.account_id "
        f"WHERE NOT EXISTS (SELECT 1 FROM {_SU} su "
        "WHERE su.account_id = x.account_id AND su.site_id = %s)",
        [org.pk, site, *groups, org.pk, site, site],
    )


def _accounts_diff(
    cursor, org: Organization, accounts: list[int], grant_rows: list[tuple[int, int]], org_user: str
) -> None:
    """The rows of ``accounts``, each from its own memberships of the org's granting groups."""
    sites = sorted({site for site, _group in grant_rows}) or [0]
    groups = sorted({group for _site, group in grant_rows}) or [0]
    granted = (
        f"SELECT 1 FROM {SiteAccess._meta.db_table} sa JOIN {_GROUP_MEMBERS} gm ON gm.group_id = sa.group_id "  # noqa: S608
        f"WHERE sa.site_id {_in(sites)} AND sa.group_id {_in(groups)}"
    )
    cursor.execute(
        f"DELETE FROM {_SU} WHERE org_id = %s AND account_id {_in(accounts)} AND NOT ("  # noqa: S608
        f"EXISTS ({granted} AND sa.site_id = {_SU}.site_id AND gm.account_id = {_SU}.account_id) "
        f"AND {org_user.format(f'{_SU}.account_id')})",
        [org.pk, *accounts, *sites, *groups, org.pk],
    )
    cursor.execute(
        f"INSERT INTO {_SU} (org_id, site_id, account_id, last_day) "  # noqa: S608
        f"SELECT %s, x.site_id, x.account_id, l.last_day FROM (SELECT DISTINCT sa.site_id, gm.account_id "
        f"FROM {_GROUP_MEMBERS} gm JOIN {SiteAccess._meta.db_table} sa ON sa.group_id = gm.group_id "
        f"WHERE gm.account_id {_in(accounts)} AND sa.site_id {_in(sites)} AND sa.group_id {_in(groups)} "
        f"AND {org_user.format('gm.account_id')}) x "
        f"LEFT JOIN {_SLA} l ON l.site_id = x.site_id AND l.account_id = x.account_id "
        f"WHERE NOT EXISTS (SELECT 1 FROM {_SU} su "
        "WHERE su.account_id = x.account_id AND su.site_id = x.site_id)",
        [org.pk, *accounts, *sites, *groups, org.pk],
    )


def discard(cursor, org: Organization) -> None:
    """Delete the org's rows (their last days may have moved back: built again at the next read)."""
    cursor.execute(f"DELETE FROM {_SU} WHERE org_id = %s", [org.pk])  # noqa: S608 — model tables
    cursor.execute(f"DELETE FROM {_COUNTS} WHERE org_id = %s", [org.pk])  # noqa: S608
    cursor.execute(f"DELETE FROM {_AU} WHERE org_id = %s", [org.pk])  # noqa: S608


def days_synced(cursor, org: Organization, mark: int) -> None:
    """Copy into ``SiteUser`` and ``AccessUser`` the last active days of the ``SiteLastActive`` and
    ``AccountLastActive`` rows the refresh ``mark`` added or moved (``moved = mark``): a few
    hundred a minute, looked up one by one, rather than all of the day's. ``SiteUserCount`` moves
    by the difference in those ``SiteUser`` rows' days."""
    # No "org_id =" on SiteUser here: SQLite would then seek the (org, site) range of every listed
    # row instead of the (account, site) row itself. The listed rows are all of the org's sites.
    listed = (
        f"WHERE (account_id, site_id) IN "  # noqa: S608 — model tables
        f"(SELECT account_id, site_id FROM {_SLA} WHERE org_id = %s AND moved = %s)"
    )
    count = f"SELECT site_id, last_day, COUNT(*) FROM {_SU} {listed} GROUP BY site_id, last_day"  # noqa: S608
    cursor.execute(count, [org.pk, mark])
    moved = {(site, day): -n for site, day, n in cursor.fetchall()}
    cursor.execute(
        f"UPDATE {_SU} SET last_day = (SELECT l.last_day FROM {_SLA} l "  # noqa: S608
        f"WHERE l.site_id = {_SU}.site_id AND l.account_id = {_SU}.account_id) {listed}",
        [org.pk, mark],
    )
    cursor.execute(count, [org.pk, mark])
    for site, day, n in cursor.fetchall():
        moved[(site, day)] = moved.get((site, day), 0) + n
    _move(cursor, org, moved)
    cursor.execute(
        f"UPDATE {_AU} SET last_day = (SELECT l.last_day FROM {_ALA} l "  # noqa: S608
        f"WHERE l.org_id = {_AU}.org_id AND l.account_id = {_AU}.account_id) "
        f"WHERE org_id = %s AND account_id IN "
        f"(SELECT account_id FROM {_ALA} WHERE org_id = %s AND moved = %s)",
        [org.pk, org.pk, mark],
    )
