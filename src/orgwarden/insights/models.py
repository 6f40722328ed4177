"""The rollups that make insights cheap to read, kept by ``insights.rollups`` from ``orgs.Activity``.

Nothing here is a source of truth: every row can be rebuilt from ``Activity`` (one row per account
× site × UTC day), the org's sites and its accounts. What each table holds:

- ``SiteLastActive``: the last day an account was active on a site (all of the org's sites);
- ``AccountLastActive``: the last day an account was active on any site of the org;
- ``DailyActive``: distinct active accounts of one past (or current) day, per insights product and
  overall (``product=""``), deactivated accounts included — the live status is applied at read time;
- ``SiteUser``: the org's users with access to a site (through any of its groups), with the last day
  they were active on it (``None``: never) — deactivated accounts included;
- ``SiteUserCount``: how many ``SiteUser`` rows each site has with each last day, kept with them
  (the per-site chart reads it instead of counting every user of every site at each view);
- ``AccessUser``: the org's users with access to any of its sites, with the last day they were active
  in the org (``None``: never) — deactivated accounts included;
- ``RollupState``: per org, where the fold of ``Activity`` stands and when it last ran, and whether
  ``SiteUser`` and ``AccessUser`` are built;
- ``AccessChange``: one row per change of an access row of the org (a group membership, a grant, an
  org user) since its access rollups were last brought up to date, written by database triggers
  (``insights.triggers``).

``SiteUser``, ``SiteUserCount`` and ``AccessUser`` are kept by ``insights.access_rollup``: brought up
to date at the first read after the org's access rows change, their ``last_day`` at every refresh.

The foreign keys of the rollup rows have no database constraint: the first build of a big org
writes some 100,000 of them at once, and checking three keys per row doubled its time on
PostgreSQL. Deleting an org, a site or an account still deletes its rollup rows (Django's
collector cascades; it does for ``Activity`` too).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgwarden.orgs.models import Organization, ProductSite


class RollupState(models.Model):
    """Per org: how far ``Activity`` has been folded into the rollups (see ``insights.rollups``)."""

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    refreshed_at = models.DateTimeField(null=True, blank=True)
    # The highest Activity id at the last refresh: a newer row for a frozen day re-counts that day.
    seen_top = models.BigIntegerField(default=0)
    # The org's (site, product) pairs the day counts were made with, and how many SiteLastActive
    # rows the last refresh left: a removed site (or a deleted account) shows in one or the other.
    sites_key = models.CharField(max_length=64, blank=True, default="")
    last_active_rows = models.BigIntegerField(default=0)
    # SiteUser and AccessUser are built (for the access rows as they were then; AccessChange rows
    # say what changed since); False: to be built again. See insights.access_rollup.
    access_built = models.BooleanField(default=False)


class SiteLastActive(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    site = models.ForeignKey(ProductSite, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    last_day = models.DateField()
    # The refresh that last moved last_day (its Activity top): insights.access_rollup copies the
    # rows of the latest one.
    moved = models.BigIntegerField(db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "site"], name="insights_site_last_active_unique")
        ]
        indexes = [
            models.Index(fields=["org", "moved"], name="insights_sla_org_moved"),
            models.Index(fields=["org", "last_day", "site", "account"], name="insights_sla_org_day"),
            # Covers the "was this member active on this site since …" probe of the site chart.
            models.Index(fields=["site", "account", "last_day"], name="insights_sla_site_account"),
        ]


class AccountLastActive(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    last_day = models.DateField()
    moved = models.BigIntegerField(db_default=0)  # as SiteLastActive.moved

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "account"], name="insights_account_last_active_unique")
        ]
        indexes = [
            models.Index(fields=["org", "last_day", "account"], name="insights_ala_org_day"),
            models.Index(fields=["org", "moved"], name="insights_ala_org_moved"),
        ]


class DailyActive(models.Model):
    """Distinct active accounts on ``day``: per insights product, and across them (``product=""``).

    The ``""`` row exists (zero included) once the day is counted; a product without a row had none.
    """

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    day = models.DateField()
    product = models.CharField(max_length=40, blank=True, default="")
    accounts = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "day", "product"], name="insights_daily_active_unique")
        ]


class SiteUser(models.Model):
    """A user of the org with access to ``site`` through one of its groups, and the last day they
    were active on it (``None``: never). Deactivated accounts included: readers subtract them live."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    site = models.ForeignKey(ProductSite, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    last_day = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "site"], name="insights_site_user_unique")]
        # The per-site counts of the site chart read this index alone.
        indexes = [
            models.Index(fields=["org", "site", "last_day", "account"], name="insights_site_user_org_site")
        ]


class SiteUserCount(models.Model):
    """How many ``SiteUser`` rows ``site`` has with ``last_day`` (``None``: never active; no row:
    none), written with them by ``insights.access_rollup`` under the org's lock, so it is exactly
    their count whenever they are read. Deactivated accounts included: readers subtract them live,
    as from ``SiteUser``."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    site = models.ForeignKey(ProductSite, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    last_day = models.DateField(null=True, blank=True)
    users = models.IntegerField()

    class Meta:
        # One row per (site, last day) — kept so by its writer, which updates before it inserts
        # (a unique constraint would not hold the never-active row: NULLs are distinct in one).
        indexes = [models.Index(fields=["org", "site", "last_day"], name="insights_site_user_count")]


class AccessUser(models.Model):
    """A user of the org with access to one of its sites, and the last day they were active on any
    site of the org (``None``: never). Deactivated accounts included."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    last_day = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "account"], name="insights_access_user_unique")]
        # The inactive list: the never active, then the others oldest first.
        indexes = [models.Index(fields=["org", "last_day", "account"], name="insights_access_user_day")]


class AccessChange(models.Model):
    """An access row of org ``org_id`` changed (written by the triggers of ``insights.triggers``).

    A plain column, not a foreign key: the triggers also fire while an org is being deleted, and a
    constraint would then fail the deletion; ``rollups.refresh_all`` drops the rows of deleted orgs.
    """

    org_id = models.BigIntegerField(db_index=True)
    # What changed: an account's memberships or org user (account_id), or a site's grants (site_id).
    account_id = models.BigIntegerField(null=True)
    site_id = models.BigIntegerField(null=True)
