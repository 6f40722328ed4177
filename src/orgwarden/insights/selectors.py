"""Insights, computed live from ``orgs.models.Activity`` (one row per account × site × day) and the
org's access rows: never stale. Every function is scoped by ``org=``.

``include_deactivated=False`` (the console's default) leaves deactivated accounts out of every
count — Atlassian's own insights count them (AX-575). Only products whose catalogue entry has
``insights`` appear in the activity charts.

``chart(org=, key=, ...)`` is the one table behind each chart, its CSV and its REST endpoint.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from orgwarden.accounts.models import Account
from orgwarden.orgs.models import Activity, Directory, Organization, OrgUser, ProductSite, SiteAccess
from orgwarden.orgs.products import PRODUCTS

INSIGHT_PRODUCTS = tuple(key for key, product in PRODUCTS.items() if product.insights)
INACTIVE_DAYS = (30, 60, 90)


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple]


def _today() -> date:
    return timezone.now().date()


def _activity(org: Organization, include_deactivated: bool) -> QuerySet[Activity]:
    qs = Activity.objects.filter(org=org, site__product__in=INSIGHT_PRODUCTS)
    return qs if include_deactivated else qs.filter(account__status=Account.Status.ACTIVE)


def active_per_day(
    *, org: Organization, days: int, include_deactivated: bool = False, product: str | None = None
) -> list[tuple[date, int]]:
    """Distinct active accounts per day over the last ``days`` days (today included), zeros filled."""
    start = _today() - timedelta(days=days - 1)
    qs = _activity(org, include_deactivated).filter(day__gte=start)
    if product:
        qs = qs.filter(site__product=product)
    counts = dict(
        qs.values("day").annotate(n=Count("account", distinct=True)).values_list("day", "n").order_by()
    )
    return [(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(days)]


def active_per_product(*, org: Organization, days: int, include_deactivated: bool = False) -> dict[str, int]:
    """Distinct active accounts per product over the last ``days`` days."""
    start = _today() - timedelta(days=days - 1)
    rows = (
        _activity(org, include_deactivated)
        .filter(day__gte=start)
        .values("site__product")
        .annotate(n=Count("account", distinct=True))
        .order_by()
    )
    return {row["site__product"]: row["n"] for row in rows}


def _with_access(
    org: Organization, include_deactivated: bool, site: ProductSite | None = None
) -> QuerySet[Account]:
    """Users of the org with access to one of its sites (or to ``site``), each once."""
    grant = SiteAccess.objects.filter(
        site__org=org, group__org=org, group__memberships__account=OuterRef("pk")
    )
    if site is not None:
        grant = grant.filter(site=site)
    qs = Account.objects.filter(
        Exists(OrgUser.objects.filter(org=org, account=OuterRef("pk"))), Exists(grant)
    )
    return qs if include_deactivated else qs.filter(status=Account.Status.ACTIVE)


def site_activity(*, org: Organization, days: int = 30, include_deactivated: bool = False) -> list[tuple]:
    """Per site: (site, users with access, active in the last ``days`` days, inactive)."""
    since = _today() - timedelta(days=days - 1)
    rows = []
    for site in ProductSite.objects.filter(org=org).order_by("name"):
        users = _with_access(org, include_deactivated, site)
        total = users.count()
        active = users.filter(
            Exists(Activity.objects.filter(site=site, account=OuterRef("pk"), day__gte=since))
        ).count()
        rows.append((site, total, active, total - active))
    return rows


def inactive_users(*, org: Organization, days: int, include_deactivated: bool = False) -> QuerySet[Account]:
    """Users with access who have not been active in ``org`` for ``days`` days (or ever), annotated
    with ``last_active_day`` (None: never), least recently active first."""
    last = Activity.objects.filter(org=org, account=OuterRef("pk")).order_by("-day").values("day")[:1]
    cutoff = _today() - timedelta(days=days)
    return (
        _with_access(org, include_deactivated)
        .annotate(last_active_day=Subquery(last))
        .filter(Q(last_active_day__lte=cutoff) | Q(last_active_day__isnull=True))
        .order_by(F("last_active_day").asc(nulls_first=True), "email")
    )


def authentication(*, org: Organization, include_deactivated: bool = False) -> dict[str, object]:
    """Managed accounts: how many sign in with SSO (an identity-provider directory), how many have
    two-step verification, and the list of those with neither."""
    managed = OrgUser.objects.filter(org=org, is_managed=True).select_related("account", "directory")
    if not include_deactivated:
        managed = managed.filter(account__status=Account.Status.ACTIVE)
    sso = managed.filter(directory__kind=Directory.Kind.IDP)
    two_step = managed.filter(account__totp_enabled_at__isnull=False)
    neither = managed.exclude(directory__kind=Directory.Kind.IDP).filter(
        account__totp_enabled_at__isnull=True
    )
    return {
        "total": managed.count(),
        "sso": sso.count(),
        "two_step": two_step.count(),
        "neither": neither.count(),
        "neither_list": list(neither.order_by("email")[:200]),
    }


def domains_with_access(
    *, org: Organization, include_deactivated: bool = False
) -> list[tuple[str, int, int]]:
    """Per email domain of users with access: (domain, managed, external), largest first."""
    managed_ids = OrgUser.objects.filter(org=org, is_managed=True, account=OuterRef("pk"))
    rows = (
        _with_access(org, include_deactivated)
        .annotate(managed=Exists(managed_ids))
        .values_list("email", "managed")
    )
    counts: dict[str, Counter] = defaultdict(Counter)
    for email, managed in rows:
        counts[email.rpartition("@")[2].lower()]["managed" if managed else "external"] += 1
    table = [(domain, c["managed"], c["external"]) for domain, c in counts.items()]
    return sorted(table, key=lambda row: (-(row[1] + row[2]), row[0]))


def managed_vs_external(*, org: Organization, include_deactivated: bool = False) -> dict[str, int]:
    users = _with_access(org, include_deactivated)
    managed = users.filter(
        Exists(OrgUser.objects.filter(org=org, is_managed=True, account=OuterRef("pk")))
    ).count()
    return {"managed": managed, "external": users.count() - managed}


def last_active_dates(*, org: Organization, account: Account) -> list[tuple[ProductSite, date]]:
    """The last day ``account`` was active on each of ``org``'s sites, most recent first."""
    rows = (
        Activity.objects.filter(org=org, account=account)
        .values("site")
        .annotate(last=Max("day"))
        .order_by("-last")
    )
    sites = {site.pk: site for site in ProductSite.objects.filter(org=org)}
    return [(sites[row["site"]], row["last"]) for row in rows if row["site"] in sites]


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
            for u in qs[:5000]
        ]
        return Chart(
            key,
            f"Users with access inactive for {inactive_days} days or more",
            ("account_id", "email", "last_active", "status"),
            rows,
        )
    if key == "authentication":
        mix = authentication(**kw)
        rows = [("SSO", mix["sso"]), ("Two-step verification", mix["two_step"]), ("Neither", mix["neither"])]
        return Chart(key, title, ("method", "managed_accounts"), rows)
    if key == "domains":
        return Chart(key, title, ("domain", "managed", "external"), domains_with_access(**kw))
    mix = managed_vs_external(**kw)
    return Chart(key, title, ("kind", "users"), [("Managed", mix["managed"]), ("External", mix["external"])])
