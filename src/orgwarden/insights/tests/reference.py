"""The insights as they were computed before the rollups: straight from ``orgs.Activity`` and the
access rows, on every call. Slow on a big org, obviously right: the oracle the rollup tests compare
``insights.selectors`` with."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from orgwarden.accounts.models import Account
from orgwarden.insights.rollups import INSIGHT_PRODUCTS
from orgwarden.orgs.models import Activity, Directory, Organization, OrgUser, ProductSite, SiteAccess


def _today() -> date:
    return timezone.now().date()


def _activity(org: Organization, include_deactivated: bool) -> QuerySet[Activity]:
    qs = Activity.objects.filter(org=org, site__product__in=INSIGHT_PRODUCTS)
    return qs if include_deactivated else qs.filter(account__status=Account.Status.ACTIVE)


def active_per_day(*, org, days, include_deactivated=False, product=None) -> list[tuple[date, int]]:
    start = _today() - timedelta(days=days - 1)
    qs = _activity(org, include_deactivated).filter(day__gte=start)
    if product:
        qs = qs.filter(site__product=product)
    counts = dict(
        qs.values("day").annotate(n=Count("account", distinct=True)).values_list("day", "n").order_by()
    )
    return [(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(days)]


def active_per_product(*, org, days, include_deactivated=False) -> dict[str, int]:
    start = _today() - timedelta(days=days - 1)
    rows = (
        _activity(org, include_deactivated)
        .filter(day__gte=start)
        .values("site__product")
        .annotate(n=Count("account", distinct=True))
        .order_by()
    )
    return {row["site__product"]: row["n"] for row in rows}


def _with_access(org, include_deactivated, site=None) -> QuerySet[Account]:
    grant = SiteAccess.objects.filter(
        site__org=org, group__org=org, group__memberships__account=OuterRef("pk")
    )
    if site is not None:
        grant = grant.filter(site=site)
    qs = Account.objects.filter(
        Exists(OrgUser.objects.filter(org=org, account=OuterRef("pk"))), Exists(grant)
    )
    return qs if include_deactivated else qs.filter(status=Account.Status.ACTIVE)


def site_activity(*, org, days=30, include_deactivated=False) -> list[tuple]:
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


def inactive_users(*, org, days, include_deactivated=False) -> QuerySet[Account]:
    last = Activity.objects.filter(org=org, account=OuterRef("pk")).order_by("-day").values("day")[:1]
    cutoff = _today() - timedelta(days=days)
    return (
        _with_access(org, include_deactivated)
        .annotate(last_active_day=Subquery(last))
        .filter(Q(last_active_day__lte=cutoff) | Q(last_active_day__isnull=True))
        .order_by(F("last_active_day").asc(nulls_first=True), "email")
    )


def authentication(*, org, include_deactivated=False) -> dict[str, object]:
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


def domains_with_access(*, org, include_deactivated=False) -> list[tuple[str, int, int]]:
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


def managed_vs_external(*, org, include_deactivated=False) -> dict[str, int]:
    users = _with_access(org, include_deactivated)
    managed = users.filter(
        Exists(OrgUser.objects.filter(org=org, is_managed=True, account=OuterRef("pk")))
    ).count()
    return {"managed": managed, "external": users.count() - managed}


def last_active_dates(*, org, account) -> list[tuple[ProductSite, date]]:
    rows = (
        Activity.objects.filter(org=org, account=account)
        .values("site")
        .annotate(last=Max("day"))
        .order_by("-last")
    )
    sites = {site.pk: site for site in ProductSite.objects.filter(org=org)}
    return [(sites[row["site"]], row["last"]) for row in rows if row["site"] in sites]
