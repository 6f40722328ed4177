"""Who is billable: the unique users an org pays for under its subscription.

A user of the org (managed or external, with an active account) is billable when, through any of
the org's groups, it has

- any role on a site of a product that bills every user (``products.BILLED_ALL``), or
- the admin role on a site of a product that bills agents only (``products.BILLED_AGENTS``:
  Jira Service Management, where its agents are the admins).

Products billed separately (Statuspage) never count, and each person counts once however many
products they use. It is all SQL (``EXISTS`` subqueries), one query per answer.

Once authentication policies exist (the Policies issue), members of a policy marked non-billable
will be excluded here too.
"""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from orgwarden.accounts.models import Account
from orgwarden.orgs.models import GroupMember, Organization, OrgUser, SiteAccess
from orgwarden.orgs.products import BILLED_AGENTS, BILLED_ALL
from orgwarden.orgs.selectors.access import in_any_group

_BILLED_GRANT = Q(site__product__in=BILLED_ALL) | Q(
    role=SiteAccess.Role.ADMIN, site__product__in=BILLED_AGENTS
)


def billable_users(*, org: Organization) -> QuerySet[Account]:
    """The org's billable accounts, each once, by email. See the module docstring for the rules."""
    is_user = OrgUser.objects.filter(org=org, account=OuterRef("pk"))
    billed_grant = SiteAccess.objects.filter(
        _BILLED_GRANT,
        site__org=org,
        group__org=org,
        group__memberships__account=OuterRef("pk"),
    )
    return Account.objects.filter(
        Exists(is_user), Exists(billed_grant), status=Account.Status.ACTIVE
    ).order_by("email")


def billable_org_users(*, org: Organization) -> QuerySet[OrgUser]:
    """The org's users whose accounts are billable: the accounts of ``billable_users``, one row each
    (``OrgUser`` is unique per org and account), for counting.

    Read from the org's own users rather than from every account: the groups with a billed grant
    are listed once and each user is tested against that list (``in_any_group``: one seek of its
    memberships on SQLite, a hash of those groups' members on PostgreSQL); the accounts not active
    now come from their own short index, not from every account row.
    """
    billed_groups = SiteAccess.objects.filter(_BILLED_GRANT, site__org=org, group__org=org).values("group")
    not_active = Account.objects.exclude(status=Account.Status.ACTIVE).values("pk")
    return (
        OrgUser.objects.filter(org=org)
        .filter(in_any_group(billed_groups, account_ref="account_id"))
        .exclude(account__in=not_active)
    )


def billable_count(*, org: Organization) -> int:
    """How many unique billable users the org has."""
    return billable_org_users(org=org).count()


def billable_by_product(*, org: Organization) -> dict[str, int]:
    """Billable users per product key (a person on two products counts in both; keys without any
    billable user are left out). The sum may exceed ``billable_count``: that one counts people once."""
    is_user = OrgUser.objects.filter(org=org, account=OuterRef("account"))
    rows = (
        GroupMember.objects.filter(
            Q(group__site_access__site__product__in=BILLED_ALL)
            | Q(
                group__site_access__role=SiteAccess.Role.ADMIN,
                group__site_access__site__product__in=BILLED_AGENTS,
            ),
            Exists(is_user),
            group__org=org,
            group__site_access__site__org=org,
            account__status=Account.Status.ACTIVE,
        )
        .values("group__site_access__site__product")
        .annotate(n=Count("account", distinct=True))
        .order_by()
    )
    return {row["group__site_access__site__product"]: row["n"] for row in rows}
