"""Keeps ``SiteUser`` and ``AccessUser`` (who has access to which site, with their last active day)
exact: brought up to date at the first read after the org's access rows change, never a read later.

Who has access is a function of three sets of rows, written by many service paths: the org's
grants (site, group), the memberships of the granting groups and the org's users. Database
triggers (``insights.triggers``) write an ``AccessChange`` row for the org in the same transaction
as any insert, delete or relevant update of one of them. ``current(org=)`` — called by every reader
of these rollups — looks for such a row (one index probe) and, when there is one or the rollups
were never built, under the org's ``RollupState`` lock:

1. deletes the org's ``AccessChange`` rows, first: a change that commits later keeps its row (on
   PostgreSQL the delete only sees rows committed before it), and any change committed before it
   is seen by the statements below, which start after it;
2. brings the org's rows of both tables to what the access rows give now, writing only the
   difference (a few people, usually): the rows without a grant, membership or org user behind
   them are deleted, the missing ones inserted with their last active days from
   ``SiteLastActive`` and ``AccountLastActive``.

Between rebuilds ``insights.rollups`` brings ``last_day`` up to date at each refresh
(``days_synced``) for the last-active rows it may have changed; a refresh that rebuilt the
last-active rows (a site removed, an account deleted) deletes the org's rows, to be built again
from nothing at the next read.

Account status is not rolled up: readers leave out the accounts not active now, live, so
deactivating or reactivating someone shows at once. Not tracked (the app never does it): a group or
a site moved to another org. Bookkeeping, not a change anyone made: no audit event. Plain SQL that
SQLite and PostgreSQL both accept.
"""

from __future__ import annotations

from datetime import date

from django.db import connection, transaction

from orgwarden.insights.models import (
    AccessChange,
    AccessUser,
    AccountLastActive,
    RollupState,
    SiteLastActive,
    SiteUser,
)
from orgwarden.orgs.models import GroupMember, Organization, OrgUser, SiteAccess

_SU = SiteUser._meta.db_table
_AU = AccessUser._meta.db_table
_SLA = SiteLastActive._meta.db_table
_ALA = AccountLastActive._meta.db_table
_GROUP_MEMBERS = GroupMember._meta.db_table
_ORG_USERS = OrgUser._meta.db_table


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
        if not _up_to_date(org, state):  # another reader may have done it meanwhile
            AccessChange.objects.filter(org_id=org.pk).delete()
            _rebuild(org, grants(org=org))
            state.access_built = True
            RollupState.objects.filter(pk=state.pk).update(access_built=True)
    return state


def _rebuild(org: Organization, grant_rows: list[tuple[int, int]]) -> None:
    """Bring the org's rows to what its access rows give now, writing only the difference: a
    change of access is usually a few people, and rewriting 100,000 rows costs seconds on SQLite.

    Site by site, with the site's granting groups listed: every row is checked with lookups of
    its own (account, group) memberships and its org user, never against the whole org.
    """
    by_site: dict[int, list[int]] = {}
    for site, group in grant_rows:
        by_site.setdefault(site, []).append(group)
    org_user = f"EXISTS (SELECT 1 FROM {_ORG_USERS} ou WHERE ou.org_id = %s AND ou.account_id = {{}})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {_SU}")  # noqa: S608 — model tables
        top = cursor.fetchone()[0] or 0
        sites = list(by_site) or [0]
        cursor.execute(
            f"DELETE FROM {_SU} WHERE org_id = %s AND site_id NOT IN ({', '.join(['%s'] * len(sites))})",  # noqa: S608
            [org.pk, *sites],
        )
        for site, groups in by_site.items():
            in_groups = f"IN ({', '.join(['%s'] * len(groups))})"
            # Rows without a membership of a granting group, or an org user, behind them any more.
            cursor.execute(
                f"DELETE FROM {_SU} WHERE org_id = %s AND site_id = %s AND NOT ("  # noqa: S608
                f"EXISTS (SELECT 1 FROM {_GROUP_MEMBERS} gm WHERE gm.account_id = {_SU}.account_id "
                f"AND gm.group_id {in_groups}) AND {org_user.format(f'{_SU}.account_id')})",
                [org.pk, site, *groups, org.pk],
            )
            # Rows that are missing. DISTINCT: a member of two groups granted the site has access once.
            cursor.execute(
                f"INSERT INTO {_SU} (org_id, site_id, account_id, last_day) "  # noqa: S608
                f"SELECT %s, %s, x.account_id, l.last_day FROM ("
                f"SELECT {'DISTINCT ' if len(groups) > 1 else ''}gm.account_id FROM {_GROUP_MEMBERS} gm "
                f"WHERE gm.group_id {in_groups} AND {org_user.format('gm.account_id')}"
                f") x LEFT JOIN {_SLA} l ON l.site_id = %s AND l.account_id = x.account_id "
                f"WHERE NOT EXISTS (SELECT 1 FROM {_SU} su "
                "WHERE su.account_id = x.account_id AND su.site_id = %s)",
                [org.pk, site, *groups, org.pk, site, site],
            )
        # AccessUser: the accounts with a SiteUser row. "+su.org_id" keeps SQLite on the
        # (account, site) index rather than walking the org's rows for every row.
        cursor.execute(
            f"DELETE FROM {_AU} WHERE org_id = %s AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {_SU} su WHERE su.account_id = {_AU}.account_id AND +su.org_id = %s)",
            [org.pk, org.pk],
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


def discard(cursor, org: Organization) -> None:
    """Delete the org's rows (their last days may have moved back: built again at the next read)."""
    cursor.execute(f"DELETE FROM {_SU} WHERE org_id = %s", [org.pk])  # noqa: S608 — model tables
    cursor.execute(f"DELETE FROM {_AU} WHERE org_id = %s", [org.pk])  # noqa: S608


def days_synced(cursor, org: Organization, since: date) -> None:
    """Copy into ``SiteUser`` and ``AccessUser`` the last active days of ``SiteLastActive`` and
    ``AccountLastActive`` rows from ``since`` on: after a fold, every row it added or moved is one
    of them (a fold only moves a last day later, to a day it folded, none before ``since``)."""
    day = connection.ops.adapt_datefield_value(since)
    cursor.execute(
        f"UPDATE {_SU} SET last_day = (SELECT l.last_day FROM {_SLA} l "  # noqa: S608
        f"WHERE l.site_id = {_SU}.site_id AND l.account_id = {_SU}.account_id) "
        f"WHERE org_id = %s AND (account_id, site_id) IN "
        f"(SELECT account_id, site_id FROM {_SLA} WHERE org_id = %s AND last_day >= %s)",
        [org.pk, org.pk, day],
    )
    cursor.execute(
        f"UPDATE {_AU} SET last_day = (SELECT l.last_day FROM {_ALA} l "  # noqa: S608
        f"WHERE l.org_id = {_AU}.org_id AND l.account_id = {_AU}.account_id) "
        f"WHERE org_id = %s AND account_id IN "
        f"(SELECT account_id FROM {_ALA} WHERE org_id = %s AND last_day >= %s)",
        [org.pk, org.pk, day],
    )
