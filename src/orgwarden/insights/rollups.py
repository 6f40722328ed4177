"""Keeps the insights rollups (``insights.models``) in step with ``orgs.Activity``.

Two callers keep them fresh:

- the background refresh (``orgwarden insights refresh --every 60``, which ``orgwarden serve``
  runs in a child process) calls ``refresh_all`` every minute: it refreshes each org whose rollups
  are older than ``FRESH`` (one minute), so what the charts show is about a minute behind the
  activity rows (which themselves lag product calls by the write-behind interval of
  ``tokens.usage``, seconds), and a chart never pays for a refresh;
- every insights read calls ``refreshed(org=)``, which refreshes first only when the org's rollups
  are older than ``STALE`` (five minutes): when the background refresh is turned off or has
  stopped, or for an org nobody has refreshed yet. Either way the charts are never more than a few
  minutes behind, as the issue asks.

A refresh, in one transaction:

1. notices what would make past counts wrong: a site removed or its product changed (the org's
   ``(site, product)`` pairs differ from the ones the counts were made with), or last-active rows
   gone with a deleted account (fewer ``SiteLastActive`` rows than the last refresh left): then
   every day is counted again and ``AccountLastActive`` is rebuilt from ``SiteLastActive``;
2. folds into ``SiteLastActive`` and ``AccountLastActive`` the activity rows of the days that were
   live at the last refresh or are live now (today; yesterday too during the first ``MARGIN`` after
   midnight, while writes for it may still arrive), and the rows added since the last refresh for
   any older day (a late write), which also has that day counted again. The first refresh of an
   org folds all of its activity;
3. counts those days again, and every past day of the last ``KEPT_DAYS`` that has no count yet
   (all of them the first time; afterwards, the day that just ended).

Only rows that add an (account, site, day) change what the rollups hold: a repeated call on the same
day updates its row's counters, never the set of days. Past days are counted once, deactivated
accounts included: the readers subtract, live, the accounts that are not active now, so
deactivating or reactivating someone shows at once. Who has access to which site is rolled up by
``insights.access_rollup``, brought up to date at the first read after a change of access; a
refresh copies the last days it moved into those rollups. An org's activity is the activity on
its sites: ``tokens.usage`` writes each row with its site's org.

What it does not see: activity rows deleted other than with their site or account (the app
deletes none), and, on PostgreSQL, a row for a day that is no longer live whose transaction
commits after a refresh that saw a higher id (a write both more than ``MARGIN`` late and out of
order); rows of live days are read again at every refresh, whatever their ids.

Bookkeeping, not a change anyone made: no audit event (like ``tokens.usage``). The statements are
plain SQL that SQLite (3.24+) and PostgreSQL both accept. The daily job (``orgwarden insights
daily``) also refreshes every org, for installations that run it from cron without the background
refresh.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from orgwarden.insights import access_rollup
from orgwarden.insights.models import (
    AccessChange,
    AccountLastActive,
    DailyActive,
    RollupState,
    SiteLastActive,
)
from orgwarden.orgs.models import Activity, Organization, ProductSite
from orgwarden.orgs.products import PRODUCTS

INSIGHT_PRODUCTS = tuple(key for key, product in PRODUCTS.items() if product.insights)
# How old an org's rollups may get before the background refresh refreshes them, and before a read
# refreshes them itself.
FRESH = timedelta(minutes=1)
STALE = timedelta(minutes=5)
# How long after the end of a UTC day its activity may still be written (the write-behind interval
# of tokens.usage is seconds): until then the day is counted again at every refresh.
MARGIN = timedelta(minutes=15)
KEPT_DAYS = 90

_ACTIVITY = Activity._meta.db_table
_SITES = ProductSite._meta.db_table
_SLA = SiteLastActive._meta.db_table
_ALA = AccountLastActive._meta.db_table
_DAILY = DailyActive._meta.db_table


def live_from(now: datetime) -> date:
    """The first day still counted at every refresh: today, or yesterday just after midnight."""
    return (now - MARGIN).date()


def refreshed(
    *, org: Organization, force: bool = False, now: datetime | None = None, within: timedelta = STALE
) -> RollupState:
    """``org``'s rollup state, refreshed first if it is older than ``within`` (or ``force``).

    Concurrent callers wait for one another (the state row is locked on PostgreSQL; SQLite has one
    writer) and the second finds the rollups fresh.
    """
    now = now or timezone.now()
    state = RollupState.objects.filter(org=org).first()
    if not force and _fresh(state, now, within):
        return state
    with transaction.atomic():
        state, _ = RollupState.objects.select_for_update().get_or_create(org=org)
        if force or not _fresh(state, now, within):
            _refresh(org, state, now)
    return state


def refresh_all(*, now: datetime | None = None) -> int:
    """Refresh every org's rollups that are older than ``FRESH``, and bring its access rollups up to
    date (the background refresh and the daily job); returns how many ran."""
    now = now or timezone.now()
    ran = 0
    # Changes recorded for orgs deleted since (the triggers fire while an org is being deleted).
    AccessChange.objects.exclude(org_id__in=Organization.objects.values("pk")).delete()
    fresh = RollupState.objects.filter(refreshed_at__gt=now - FRESH, refreshed_at__lte=now).values("org")
    for org in Organization.objects.exclude(pk__in=fresh).order_by("pk"):
        access_rollup.current(org=org, state=refreshed(org=org, now=now, within=FRESH))
        ran += 1
    return ran


def _fresh(state: RollupState | None, now: datetime, within: timedelta) -> bool:
    return bool(state and state.refreshed_at and timedelta(0) <= now - state.refreshed_at < within)


def _refresh(org: Organization, state: RollupState, now: datetime) -> None:
    today = now.date()
    kept_from = today - timedelta(days=KEPT_DAYS - 1)
    # The days live at the last refresh are folded and counted once more: rows may have arrived for
    # them since (a day counted at 23:59 gets its last writes just after midnight).
    redo_from = live_from(now)
    if state.refreshed_at is not None:
        redo_from = min(redo_from, live_from(state.refreshed_at))
    top = Activity.objects.aggregate(top=Max("id"))["top"] or 0
    sites = list(ProductSite.objects.filter(org=org).order_by("pk").values_list("pk", "product"))
    sites_key = hashlib.sha256(repr(sites).encode()).hexdigest()
    with connection.cursor() as cursor:
        rows_before = _sla_rows(cursor, org)
        recount_all = sites_key != state.sites_key or rows_before < state.last_active_rows
        cursor.execute(f"SELECT MAX(id) FROM {_SLA}")  # noqa: S608
        sla_top = cursor.fetchone()[0] or 0
        late_days: list[date] = []
        if state.refreshed_at is None:
            _fold_all(cursor, org, [pk for pk, _product in sites])
            if connection.vendor == "postgresql":  # its planner should know them before autovacuum does
                cursor.execute(f"ANALYZE {_SLA}, {_ALA}")
        else:
            if recount_all:
                _ala_rebuild(cursor, org)
            late_days = _late_days(cursor, org, after_id=state.seen_top, before=redo_from)
            _fold(cursor, org, "day >= %s", [_db_day(redo_from)], top)
            for day in late_days:
                _fold(cursor, org, "day = %s", [_db_day(day)], top)
        if recount_all:
            DailyActive.objects.filter(org=org).delete()
        if redo_from < kept_from:  # not refreshed for months: older days are counted when asked for
            DailyActive.objects.filter(org=org, day__gte=redo_from, day__lt=kept_from).delete()
        _count_days(cursor, org, max(redo_from, kept_from), today)
        for day in late_days:
            _count_days(cursor, org, day, day)
        _fill(cursor, org, kept_from, now)
        if recount_all:  # last days may have moved back: the access rollups are built again
            access_rollup.discard(cursor, org)
            state.access_built = False
        elif state.access_built:
            access_rollup.days_synced(cursor, org, top)
        # Rows are only added here (deleted only with their site or account): the new ones are
        # those past the highest id before the fold.
        cursor.execute(f"SELECT COUNT(*) FROM {_SLA} WHERE id > %s AND org_id = %s", [sla_top, org.pk])  # noqa: S608
        state.last_active_rows = rows_before + cursor.fetchone()[0]
    state.refreshed_at = now
    state.seen_top = max(top, state.seen_top)
    state.sites_key = sites_key
    state.save()


def fill_days(*, org: Organization, start: date, now: datetime | None = None) -> int:
    """Count every past day from ``start`` that has no count yet; returns how many were counted.

    For readers asking for days before the last ``KEPT_DAYS``; the counts are kept like the others.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        return _fill(cursor, org, start, now or timezone.now())


def _fill(cursor, org: Organization, start: date, now: datetime) -> int:
    end = live_from(now) - timedelta(days=1)
    if start > end:
        return 0
    have = set(
        DailyActive.objects.filter(org=org, product="", day__gte=start, day__lte=end).values_list(
            "day", flat=True
        )
    )
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    missing = [day for day in days if day not in have]
    for first, last in _runs(missing):
        _count_days(cursor, org, first, last)
    return len(missing)


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _db_day(day: date):
    return connection.ops.adapt_datefield_value(day)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _sla_rows(cursor, org: Organization) -> int:
    cursor.execute(f"SELECT COUNT(*) FROM {_SLA} WHERE org_id = %s", [org.pk])  # noqa: S608 — model tables
    return cursor.fetchone()[0]


def _late_days(cursor, org: Organization, *, after_id: int, before: date) -> list[date]:
    """Days before ``before`` that got an activity row after the last refresh.

    ``+org_id`` keeps the (org, day) index out of it: the newest rows are found by their id.
    """
    cursor.execute(
        f"SELECT DISTINCT day FROM {_ACTIVITY} WHERE +org_id = %s AND id > %s AND day < %s",  # noqa: S608
        [org.pk, after_id, _db_day(before)],
    )
    return sorted(_as_date(row[0]) for row in cursor.fetchall())


# In the statements below "site_id + 0" and "account_id + 0" are the columns themselves: written so,
# SQLite cannot answer the GROUP BY by walking the whole (account, site, day) unique index, and reads
# the few rows of the (org, day) range instead.


def _fold(cursor, org: Organization, where: str, params: list, mark: int) -> None:
    """Upsert the last-active days of ``org``'s activity rows that match ``where``; the rows added
    or moved get ``moved = mark``."""
    cursor.execute(
        f"INSERT INTO {_SLA} (org_id, site_id, account_id, last_day, moved) "  # noqa: S608
        f"SELECT org_id, site_id + 0, account_id + 0, MAX(day), %s FROM {_ACTIVITY} "
        f"WHERE org_id = %s AND {where} GROUP BY org_id, site_id + 0, account_id + 0 "
        "ON CONFLICT (account_id, site_id) DO UPDATE "
        "SET last_day = excluded.last_day, moved = excluded.moved "
        f"WHERE excluded.last_day > {_SLA}.last_day",
        [mark, org.pk, *params],
    )
    cursor.execute(
        f"INSERT INTO {_ALA} (org_id, account_id, last_day, moved) "  # noqa: S608
        f"SELECT org_id, account_id + 0, MAX(day), %s FROM {_ACTIVITY} "
        f"WHERE org_id = %s AND {where} GROUP BY org_id, account_id + 0 "
        "ON CONFLICT (org_id, account_id) DO UPDATE "
        "SET last_day = excluded.last_day, moved = excluded.moved "
        f"WHERE excluded.last_day > {_ALA}.last_day",
        [mark, org.pk, *params],
    )


def _fold_all(cursor, org: Organization, site_pks: list[int]) -> None:
    """The first fold of an org: its whole history, read from the (account, site, day) unique index
    alone, in order — much cheaper than sorting a year of rows."""
    if site_pks:
        cursor.execute(
            f"INSERT INTO {_SLA} (org_id, site_id, account_id, last_day) "  # noqa: S608
            f"SELECT %s, site_id, account_id, MAX(day) FROM {_ACTIVITY} "
            f"WHERE site_id IN ({', '.join(['%s'] * len(site_pks))}) GROUP BY account_id, site_id "
            "ON CONFLICT (account_id, site_id) DO UPDATE SET last_day = excluded.last_day "
            f"WHERE excluded.last_day > {_SLA}.last_day",
            [org.pk, *site_pks],
        )
    _ala_rebuild(cursor, org)


def _ala_rebuild(cursor, org: Organization) -> None:
    """``AccountLastActive`` from ``SiteLastActive`` (first fold; a site removed with its activity)."""
    cursor.execute(f"DELETE FROM {_ALA} WHERE org_id = %s", [org.pk])  # noqa: S608
    cursor.execute(
        f"INSERT INTO {_ALA} (org_id, account_id, last_day) "  # noqa: S608
        f"SELECT org_id, account_id, MAX(last_day) FROM {_SLA} WHERE org_id = %s GROUP BY org_id, account_id",
        [org.pk],
    )


def _count_days(cursor, org: Organization, first: date, last: date) -> None:
    """(Re)count the distinct active accounts of each day from ``first`` to ``last``, per insights
    product and across them; a day without activity gets its zero row."""
    span = [org.pk, _db_day(first), _db_day(last)]
    cursor.execute(f"DELETE FROM {_DAILY} WHERE org_id = %s AND day >= %s AND day <= %s", span)  # noqa: S608
    source = (
        f"FROM {_ACTIVITY} a JOIN {_SITES} s ON s.id = a.site_id "
        "WHERE a.org_id = %s AND a.day >= %s AND a.day <= %s "
        f"AND s.product IN ({', '.join(['%s'] * len(INSIGHT_PRODUCTS))})"
    )
    for product, group in (("s.product", ", s.product"), ("''", "")):
        cursor.execute(
            f"INSERT INTO {_DAILY} (org_id, day, product, accounts) "
            f"SELECT a.org_id, a.day, {product}, COUNT(DISTINCT a.account_id) {source} "
            f"GROUP BY a.org_id, a.day{group}",
            [*span, *INSIGHT_PRODUCTS],
        )
    counted = set(
        DailyActive.objects.filter(org=org, product="", day__gte=first, day__lte=last).values_list(
            "day", flat=True
        )
    )
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    DailyActive.objects.bulk_create(
        [DailyActive(org=org, day=day, product="", accounts=0) for day in days if day not in counted]
    )
