"""Insights of an org: who is active on which product, who has access and has not used it, how
managed accounts sign in, which domains have access. Every function is scoped by ``org=``.

Activity charts read the rollups of ``orgs.models.Activity`` that ``insights.rollups`` keeps (per
account and site, per account, per day), refreshed at most a minute before. The per-site, domain
and managed vs external charts and the inactive list read who has access to which site from
``insights.access_rollup``, brought up to date at the read itself after any change of access (so
never stale). Status, email and management are read live.
``include_deactivated=False`` (the console's default) leaves the
accounts that are not active now out of every count — Atlassian's own insights count them
(AX-575). Only products whose catalogue entry has ``insights`` appear in the activity charts.

``chart(org=, key=, ...)`` is the one table behind each chart, its CSV and its REST endpoint.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from orgwarden.accounts.models import Account
from orgwarden.accounts.selectors import invited_account_keys
from orgwarden.insights import access_rollup, rollups
from orgwarden.insights.models import AccessUser, DailyActive, SiteLastActive, SiteUser, SiteUserCount
from orgwarden.insights.rollups import INSIGHT_PRODUCTS
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import (
    Activity,
    Directory,
    Organization,
    OrgUser,
    ProductSite,
)
from orgwarden.orgs.products import PRODUCTS

INACTIVE_DAYS = (30, 60, 90)
INVITED = "invited"  # a status of the inactive list beside the account's own (see ``inactive_users``)

_ACCOUNTS = Account._meta.db_table
_SU = SiteUser._meta.db_table
_COUNTS = SiteUserCount._meta.db_table
_SITES = ProductSite._meta.db_table
_AU = AccessUser._meta.db_table
_ORG_USERS = OrgUser._meta.db_table


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple]


def _today() -> date:
    return timezone.now().date()


def _not_active() -> QuerySet[Account]:
    """Accounts that are not active now (deactivated or closed), as ``pk``, read live: the readers
    leave them out with ``NOT IN`` (the list is read once from the ``account_not_active`` partial
    index, usually short, then a lookup per row) rather than joining every row to its account."""
    return Account.objects.exclude(status=Account.Status.ACTIVE).values("pk")


def _users_with_access(org: Organization, include_deactivated: bool, *, columns: str, group: str) -> list:
    """``SELECT columns ... GROUP BY group`` over the org's users with access to one of its sites: its
    ``AccessUser`` rows (``insights.access_rollup``, brought up to date first), each joined to its org
    user (``ou``) — less, unless ``include_deactivated``, the accounts not active now (a short list).

    The rollup rather than the access rows: testing each of 50,000 users against the memberships of
    every granting group hashed ~100,000 memberships on PostgreSQL, or sought each user's on SQLite.
    ``CROSS JOIN`` keeps SQLite on the org's rollup rows first, then the org user of each.
    """
    access_rollup.current(org=org, state=rollups.refreshed(org=org))
    not_active = f"AND au.account_id NOT IN (SELECT id FROM {_ACCOUNTS} WHERE NOT status = %s) "  # noqa: S608
    if include_deactivated:
        not_active = ""
    params = [org.pk, org.pk] + ([] if include_deactivated else [Account.Status.ACTIVE])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {_AU} au CROSS JOIN {_ORG_USERS} ou "  # noqa: S608 — model tables
            f"WHERE au.org_id = %s AND ou.org_id = %s AND ou.account_id = au.account_id {not_active}"
            f"GROUP BY {group}",
            params,
        )
        return cursor.fetchall()


def active_per_day(
    *, org: Organization, days: int, include_deactivated: bool = False, product: str | None = None
) -> list[tuple[date, int]]:
    """Distinct active accounts per day over the last ``days`` days (today included), zeros filled.

    Read from the daily counts (``DailyActive``, all accounts), less the accounts not active now.
    """
    state = rollups.refreshed(org=org)
    today = _today()
    start = today - timedelta(days=days - 1)
    if product is not None and product not in INSIGHT_PRODUCTS:
        return [(start + timedelta(days=i), 0) for i in range(days)]
    key = product or ""
    counts = _daily(org, start, today, key)
    if counts is None:  # days before the kept ones were asked for: count them once
        rollups.fill_days(org=org, start=start)
        counts = _daily(org, start, today, key) or {}
    if not include_deactivated:
        products = [product] if product else INSIGHT_PRODUCTS
        sites = ProductSite.objects.filter(org=org, product__in=products).values("pk")
        # The rows the counts were made from: none newer than the last refresh.
        rows = Activity.objects.filter(
            account__in=_not_active(),
            org=org,
            site__in=sites,
            day__gte=start,
            id__lte=state.seen_top,
        ).values_list("day", "account")
        gone: dict[date, set[int]] = defaultdict(set)
        for day, account_pk in rows:
            gone[day].add(account_pk)
        for day, accounts in gone.items():
            if day in counts:
                counts[day] = max(counts[day] - len(accounts), 0)
    return [(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(days)]


def _daily(org: Organization, start: date, end: date, key: str) -> dict[date, int] | None:
    """The stored counts of ``key`` from ``start`` to ``end``; None when a past day is not counted."""
    rows = DailyActive.objects.filter(org=org, day__gte=start, day__lte=end, product__in={"", key})
    counted, counts = set(), {}
    for day, product, accounts in rows.values_list("day", "product", "accounts"):
        if product == "":
            counted.add(day)
        if product == key:
            counts[day] = accounts
    last_past = rollups.live_from(timezone.now()) - timedelta(days=1)
    needed = (min(last_past, end) - start).days + 1
    if needed > 0 and len({d for d in counted if d <= last_past}) < needed:
        return None
    return counts


def active_per_product(*, org: Organization, days: int, include_deactivated: bool = False) -> dict[str, int]:
    """Distinct active accounts per product over the last ``days`` days (``SiteLastActive``)."""
    rollups.refreshed(org=org)
    start = _today() - timedelta(days=days - 1)
    rows = SiteLastActive.objects.filter(org=org, last_day__gte=start, site__product__in=INSIGHT_PRODUCTS)
    if not include_deactivated:
        rows = rows.exclude(account__in=_not_active())
    counts = rows.values("site__product").annotate(n=Count("account", distinct=True)).order_by()
    return {row["site__product"]: row["n"] for row in counts}


def site_activity(*, org: Organization, days: int = 30, include_deactivated: bool = False) -> list[tuple]:
    """Per site: (site, users with access, active on it in the last ``days`` days, inactive).

    Read from ``SiteUserCount`` (``insights.access_rollup`` keeps it with the ``SiteUser`` rows):
    each site's users per last active day, a few dozen rows a site — not its ``SiteUser`` rows, 50,000
    a site in a big org. Less — unless ``include_deactivated`` — the ``SiteUser`` rows of the
    accounts not active now (a lookup per such account).
    """
    access_rollup.current(org=org, state=rollups.refreshed(org=org))
    since = rollups._db_day(_today() - timedelta(days=days - 1))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT site_id, SUM(users), SUM(CASE WHEN last_day >= %s THEN users ELSE 0 END) "  # noqa: S608
            f"FROM {_COUNTS} WHERE org_id = %s GROUP BY site_id",
            [since, org.pk],
        )
        counts = {site_pk: (total, active) for site_pk, total, active in cursor.fetchall()}
        if not include_deactivated:  # less the rows of the accounts not active now
            cursor.execute(
                f"SELECT su.site_id, COUNT(*), COUNT(CASE WHEN su.last_day >= %s THEN 1 END) "  # noqa: S608
                f"FROM {_ACCOUNTS} a CROSS JOIN {_SU} su "
                "WHERE NOT (a.status = %s) AND su.account_id = a.id AND su.org_id = %s GROUP BY su.site_id",
                [since, Account.Status.ACTIVE, org.pk],
            )
            for site_pk, total, active in cursor.fetchall():
                all_total, all_active = counts.get(site_pk, (0, 0))
                counts[site_pk] = (all_total - total, all_active - active)
    rows = []
    for site in ProductSite.objects.filter(org=org).order_by("name"):
        total, active = counts.get(site.pk, (0, 0))
        rows.append((site, total, active, total - active))
    return rows


class InactiveUser(NamedTuple):
    """One row of the inactive list (a tuple: the chart builds up to 5,000 of them per call)."""

    account_id: str
    email: str
    status: str  # the account's, or "invited" as on the Users page (``orgs.selectors.users``)
    last_active_day: date | None  # None: never active in the org

    @property
    def status_label(self) -> str:
        return "Invited" if self.status == INVITED else Account.Status(self.status).label


def inactive_users(
    *, org: Organization, days: int, include_deactivated: bool = False, limit: int = 5000
) -> list[InactiveUser]:
    """Users with access who have not been active in ``org`` for ``days`` days (or ever), least
    recently active first (never active first), then by email; at most ``limit``. An active account
    not signed in since it was invited has the status ``"invited"``, as on the Users page (one more
    short read: the org's invited users).

    Read from ``AccessUser`` (``insights.access_rollup``) in two ranges of its ``(org, last_day)``
    index: the never active (no last day), by email; then the others, oldest first, each joined to
    its account. ``CROSS JOIN`` fixes SQLite's join order (the org's rows first, then the account of
    each); PostgreSQL reads it as a plain join.
    """
    access_rollup.current(org=org, state=rollups.refreshed(org=org))
    if limit <= 0:
        return []
    cutoff = _today() - timedelta(days=days)
    status = "" if include_deactivated else "AND a.status = %s"
    status_params = [] if include_deactivated else [Account.Status.ACTIVE]
    never_sql = (
        f"SELECT a.account_id, a.email, a.status FROM {_AU} u CROSS JOIN {_ACCOUNTS} a "  # noqa: S608
        f"WHERE u.org_id = %s AND u.last_day IS NULL AND a.id = u.account_id {status} ORDER BY a.email"
    )
    # On SQLite "|| ''" hands the day over as the stored text: date.fromisoformat reads it several
    # times faster than the converter the backend applies to a DATE column (5,000 rows).
    last_day = "u.last_day || ''" if connection.vendor == "sqlite" else "u.last_day"
    stale_sql = (
        f"SELECT a.account_id, a.email, a.status, {last_day} FROM {_AU} u CROSS JOIN {_ACCOUNTS} a "  # noqa: S608
        f"WHERE u.org_id = %s AND u.last_day <= %s AND a.id = u.account_id {status} "
        "ORDER BY u.last_day, a.email LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(never_sql, [org.pk, *status_params])
        found = [
            InactiveUser(account_id, email, st, None) for account_id, email, st in cursor.fetchmany(limit)
        ]
        if len(found) < limit:
            cursor.execute(stale_sql, [org.pk, rollups._db_day(cutoff), *status_params, limit - len(found)])
            found += [
                InactiveUser(account_id, email, st, rollups._as_date(day))
                for account_id, email, st, day in cursor.fetchall()
            ]
    if found:
        invited = set(
            OrgUser.objects.filter(org=org, account_id__in=invited_account_keys()).values_list(
                "account__account_id", flat=True
            )
        )
        found = [
            u._replace(status=INVITED) if u.status == Account.Status.ACTIVE and u.account_id in invited else u
            for u in found
        ]
    return found


def authentication(
    *, org: Organization, include_deactivated: bool = False, with_list: bool = True
) -> dict[str, object]:
    """Managed accounts: how many sign in with SSO (an identity-provider directory), how many have
    two-step verification, how many have neither, in one query; and (``with_list``) the first 200
    of those with neither, by email.

    Read from the org's managed users, each joined to its account; the accounts not active now are
    left out as a short list (``_not_active``), not by their status column, which made SQLite read
    every account of the installation first and sort the list's matches (PostgreSQL hashed them all).
    """
    managed = OrgUser.objects.filter(org=org, is_managed=True)
    if not include_deactivated:
        managed = managed.exclude(account__in=_not_active())
    sso = Q(directory__kind=Directory.Kind.IDP)
    not_sso = Q(directory__isnull=True) | Q(
        directory__kind__in=[kind for kind in Directory.Kind.values if kind != Directory.Kind.IDP]
    )
    no_two_step = Q(account__totp_enabled_at__isnull=True)
    counts = managed.aggregate(
        total=Count("pk"),
        sso=Count("pk", filter=sso),
        two_step=Count("pk", filter=~no_two_step),
        neither=Count("pk", filter=not_sso & no_two_step),
    )
    if with_list:
        neither = managed.filter(not_sso, no_two_step).select_related("account", "directory")
        counts["neither_list"] = list(neither.order_by("email")[:200])
    return counts


def domains_with_access(
    *, org: Organization, include_deactivated: bool = False
) -> list[tuple[str, int, int]]:
    """Per email domain of users with access: (domain, managed, external), largest first.

    The domain is what follows the last "@", lower-cased. The database groups by what follows the
    first one (``OrgUser.email`` is the account's email: the orgs services keep the copy in step);
    the rare address with another "@" in its quoted local part is split again here.
    """
    at = "INSTR(ou.email, '@')" if connection.vendor == "sqlite" else "STRPOS(ou.email, '@')"
    after_at = f"SUBSTR(ou.email, {at} + 1)"
    # The domain alone, managed counted inside: a shorter sort than both.
    rows = _users_with_access(
        org,
        include_deactivated,
        columns=f"{after_at}, COUNT(CASE WHEN ou.is_managed THEN 1 END), COUNT(*)",
        group=after_at,
    )
    counts: dict[str, Counter] = defaultdict(Counter)
    for after, managed, n in rows:
        domain = counts[after.rpartition("@")[2].lower()]
        domain["managed"] += managed
        domain["external"] += n - managed
    table = [(domain, c["managed"], c["external"]) for domain, c in counts.items()]
    return sorted(table, key=lambda row: (-(row[1] + row[2]), row[0]))


def managed_vs_external(*, org: Organization, include_deactivated: bool = False) -> dict[str, int]:
    """Users with access, managed by the org or not: external includes an account on a verified
    domain not claimed yet (``orgs.selectors.access.external_users`` says why)."""
    rows = _users_with_access(
        org, include_deactivated, columns="ou.is_managed, COUNT(*)", group="ou.is_managed"
    )
    counts = {bool(managed): n for managed, n in rows}
    return {"managed": counts.get(True, 0), "external": counts.get(False, 0)}


def last_active_dates(*, org: Organization, account: Account) -> list[tuple[ProductSite, date]]:
    """The last day ``account`` was active on each of ``org``'s sites, most recent first."""
    rollups.refreshed(org=org)
    rows = (
        SiteLastActive.objects.filter(org=org, account=account, site__org=org)
        .select_related("site")
        .order_by("-last_day", "site__name")
    )
    return [(row.site, row.last_day) for row in rows]


# --- the table behind each chart (console table, CSV, REST) -------------------------------------------

CHARTS: dict[str, str] = {
    "active-users-30": "Active users per day, last 30 days",
    "active-users-90": "Active users per day, last 90 days",
    "active-users-by-product": "Active users per product, last 30 days",
    "site-activity": "Active and inactive users per product site, last 30 days",
    "inactive-users": "Users with access inactive for 30 days or more",
    "authentication": "Authentication of managed accounts",
    "domains": "Domains with access to your products",
    "managed-vs-external": "Users with access: managed and external",
}


def chart(
    *, org: Organization, key: str, include_deactivated: bool = False, inactive_days: int = 30
) -> Chart:
    """The rows of chart ``key``; raises ``KeyError`` for an unknown chart."""
    title = CHARTS[key]
    kw = {"org": org, "include_deactivated": include_deactivated}
    if key in ("active-users-30", "active-users-90"):
        days = 30 if key.endswith("30") else 90
        rows = [(day.isoformat(), n) for day, n in active_per_day(days=days, **kw)]
        return Chart(key, title, ("day", "active_users"), rows)
    if key == "active-users-by-product":
        counts = active_per_product(days=30, **kw)
        rows = [(PRODUCTS[p].name, counts.get(p, 0)) for p in INSIGHT_PRODUCTS if p in counts]
        return Chart(key, title, ("product", "active_users"), rows)
    if key == "site-activity":
        rows = [(s.name, PRODUCTS[s.product].name, t, a, i) for s, t, a, i in site_activity(**kw)]
        return Chart(key, title, ("site", "product", "users_with_access", "active", "inactive"), rows)
    if key == "inactive-users":
        qs = inactive_users(days=inactive_days, **kw)
        rows = [
            (u.account_id, u.email, u.last_active_day.isoformat() if u.last_active_day else "", u.status)
            for u in qs
        ]
        return Chart(
            key,
            f"Users with access inactive for {inactive_days} days or more",
            ("account_id", "email", "last_active", "status"),
            rows,
        )
    if key == "authentication":
        return _authentication_chart(authentication(with_list=False, **kw))
    if key == "domains":
        return _domains_chart(domains_with_access(**kw))
    return _managed_vs_external_chart(managed_vs_external(**kw))


def _authentication_chart(mix: dict[str, object]) -> Chart:
    rows = [("SSO", mix["sso"]), ("Two-step verification", mix["two_step"]), ("Neither", mix["neither"])]
    return Chart("authentication", CHARTS["authentication"], ("method", "managed_accounts"), rows)


def _domains_chart(rows: list[tuple[str, int, int]]) -> Chart:
    return Chart("domains", CHARTS["domains"], ("domain", "managed", "external"), rows)


def _managed_vs_external_chart(mix: dict[str, int]) -> Chart:
    rows = [("Managed", mix["managed"]), ("External", mix["external"])]
    return Chart("managed-vs-external", CHARTS["managed-vs-external"], ("kind", "users"), rows)


# The charts the console page draws; the inactive users are a list of their own there (``Page``).
PAGE_CHARTS = tuple(key for key in CHARTS if key != "inactive-users")


@dataclass(frozen=True, slots=True)
class Page:
    """Everything the console's Insights page shows."""

    tables: dict[str, Chart]  # the charts of ``PAGE_CHARTS``, each as ``chart`` gives it
    authentication: dict[str, object]  # ``authentication`` with its list
    inactive: list[InactiveUser]  # the first ``limit`` of ``inactive_users``


def page(
    *, org: Organization, include_deactivated: bool = False, inactive_days: int = 30, limit: int = 200
) -> Page:
    """The console's Insights page: the same tables as ``chart`` and the same lists as
    ``authentication`` and ``inactive_users``, each computed once.

    The authentication counts and their list are one call (the page showed the counts twice over);
    the managed vs external counts are the sums of the domain rows, which count the same users
    (users with access, by domain and by managed or not); the 5,000 rows of the inactive chart are
    not read (the page lists its first ``limit`` only).
    """
    kw = {"org": org, "include_deactivated": include_deactivated}
    tables = {key: chart(key=key, **kw) for key in ("active-users-30", "active-users-90")}
    tables["active-users-by-product"] = chart(key="active-users-by-product", **kw)
    tables["site-activity"] = chart(key="site-activity", **kw)
    mix = authentication(**kw)
    tables["authentication"] = _authentication_chart(mix)
    domains = domains_with_access(**kw)
    tables["domains"] = _domains_chart(domains)
    tables["managed-vs-external"] = _managed_vs_external_chart(
        {"managed": sum(row[1] for row in domains), "external": sum(row[2] for row in domains)}
    )
    inactive = inactive_users(days=inactive_days, limit=limit, **kw)
    return Page({key: tables[key] for key in PAGE_CHARTS}, mix, inactive)


def users_chosen(*, org: Organization, account_ids: list[str]) -> list[OrgUser]:
    """The users of ``org`` that ``account_ids`` name (each once, in their order, with their
    accounts): whom removing product access would reach, for its confirmation. ``NotFound`` when
    any id is not a user of ``org``, as ``services.inactive_access_remove`` refuses them all then."""
    ids = list(dict.fromkeys(account_ids))
    if not ids or any("\x00" in i for i in ids):  # PostgreSQL refuses NUL in a query
        raise NotFound()
    users = {
        u.account.account_id: u
        for u in OrgUser.objects.filter(org=org, account__account_id__in=ids).select_related("account")
    }
    if set(ids) - set(users):
        raise NotFound()
    return [users[i] for i in ids]
