"""Reads of the subscription and of who is billable.

Billable = ``orgs.selectors.billing.billable_users`` (unique active users of the org with a billed
grant) minus managed accounts whose authentication policy is marked non-billable. A policy applies
by membership (``PolicyMember``), otherwise as the default policy of the account's directory — the
same resolution as ``policies.selectors.policy_for``, written as ``EXISTS`` subqueries so the list
stays one query. ``billable_count`` counts the same set from the org's users, the way that stays
cheap for 50,000 of them (see its docstring).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from orgwarden.accounts.models import Account
from orgwarden.billing import pricing
from orgwarden.billing.models import BillableSnapshot, Subscription
from orgwarden.orgs.models import Domain, Organization, OrgUser, SiteAccess
from orgwarden.orgs.products import BILLED_AGENTS, BILLED_ALL, PRODUCTS
from orgwarden.orgs.selectors.access import in_any_group
from orgwarden.orgs.selectors.billing import billable_org_users as directory_billable_org_users
from orgwarden.orgs.selectors.billing import billable_users as directory_billable_users
from orgwarden.policies import hooks
from orgwarden.policies.models import AuthenticationPolicy, PolicyMember


def subscription_of(*, org: Organization) -> Subscription | None:
    return Subscription.objects.filter(org=org).first()


def has_verified_domain(*, org: Organization) -> bool:
    return Domain.objects.filter(org=org, status=Domain.Status.VERIFIED).exists()


def _non_billable_policy(org: Organization) -> Q:
    """Accounts (as ``pk``) whose policy in ``org`` is non-billable."""
    member_of_any = PolicyMember.objects.filter(account=OuterRef("pk"), policy__org=org)
    member_non_billable = member_of_any.filter(policy__billable=False)
    default_non_billable = OrgUser.objects.filter(
        org=org,
        account=OuterRef("pk"),
        is_managed=True,
        directory__policies__is_default=True,
        directory__policies__billable=False,
    )
    return Q(Exists(member_non_billable)) | (~Q(Exists(member_of_any)) & Q(Exists(default_non_billable)))


def billable_users(*, org: Organization) -> QuerySet[Account]:
    """The accounts the subscription bills for ``org``, each once, by email."""
    return directory_billable_users(org=org).exclude(_non_billable_policy(org))


def _billable_org_users(org: Organization) -> QuerySet[OrgUser]:
    """The org's users whose accounts ``billable_users`` holds, one row each, read for counting.

    The same rules, written for a count over a big org. The policy exclusions are looked up first,
    in two short reads: the org's non-billable policies, and the directories of the org's users whose
    default policy is non-billable. Only those that exist become conditions of the count, and then
    as lists read once, not as three subqueries per account.
    """
    users = directory_billable_org_users(org=org)
    in_org_policy = PolicyMember.objects.filter(policy__org=org).values("account")
    if AuthenticationPolicy.objects.filter(org=org, billable=False).exists():
        users = users.exclude(account__in=in_org_policy.filter(policy__billable=False))
    non_billable_defaults = list(
        AuthenticationPolicy.objects.filter(is_default=True, billable=False)
        .filter(Exists(OrgUser.objects.filter(org=org, directory=OuterRef("directory"))))
        .values_list("directory", flat=True)
    )
    if non_billable_defaults:
        under_non_billable_default = (
            OrgUser.objects.filter(org=org, is_managed=True, directory__in=non_billable_defaults)
            .exclude(account__in=in_org_policy)
            .values("account")
        )
        users = users.exclude(account__in=under_non_billable_default)
    return users


def billable_count(*, org: Organization) -> int:
    """How many accounts ``billable_users`` holds, counted from the org's users (``_billable_org_users``)."""
    return _billable_org_users(org).count()


def billable_by_product(*, org: Organization) -> dict[str, int]:
    """Billable users per product key the org uses (a person on two products counts in both).

    Counted over the org's billable users as ``billable_count`` reads them, keeping the members of
    the groups that grant each product (agents only for agent-billed products), those groups read
    first as short lists. SQLite counts every product in one pass (a conditional count each);
    PostgreSQL cannot turn an EXISTS inside an aggregate's FILTER into a join and ran it once per
    user per product (7-10 s at 50,000 people), so there each product is its own count, whose
    EXISTS is a semi-join.
    """
    used = set(org.sites.values_list("product", flat=True))
    groups = {}
    for key in [k for k in BILLED_ALL + BILLED_AGENTS if k in used]:
        grants = SiteAccess.objects.filter(site__org=org, site__product=key, group__org=org)
        if key in BILLED_AGENTS:
            grants = grants.filter(role=SiteAccess.Role.ADMIN)
        groups[key] = list(grants.values_list("group", flat=True).distinct())
    granting = {key: in_any_group(pks, account_ref="account_id") for key, pks in groups.items() if pks}
    users = _billable_org_users(org)
    if connection.vendor == "postgresql":
        counted = {key: users.filter(member).count() for key, member in granting.items()}
    else:
        aliases = {f"product_{index}": key for index, key in enumerate(granting)}
        row = users.aggregate(
            **{alias: Count("pk", filter=Q(granting[key])) for alias, key in aliases.items()}
        )
        counted = {key: row[alias] for alias, key in aliases.items()}
    return {key: counted.get(key, 0) for key in groups}


@dataclass(frozen=True, slots=True)
class NotBillable:
    account: Account
    reason: str


def not_billable(*, org: Organization, limit: int = 500) -> list[NotBillable]:
    """Users of the org who are not billed, and why (first ``limit``, by email).

    A few queries however many users it lists: the page of users that ``billable_users`` leaves out
    (a subquery in the form ``billable_count`` reads), which of them a non-billable policy holds,
    and their grants (one query for the page, not one per user).
    """
    billable = _billable_org_users(org).values("pk")
    users = OrgUser.objects.filter(org=org).exclude(pk__in=billable).select_related("account")
    page = list(users.order_by("email")[:limit])
    pks = [org_user.account_id for org_user in page]
    non_billable_policy = set(
        Account.objects.filter(pk__in=pks).filter(_non_billable_policy(org)).values_list("pk", flat=True)
    )
    grants: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for account_pk, product, role in SiteAccess.objects.filter(
        site__org=org, group__org=org, group__memberships__account__in=pks
    ).values_list("group__memberships__account", "site__product", "role"):
        grants[account_pk].add((product, role))
    rows = []
    for org_user in page:
        account = org_user.account
        granted = grants[account.pk]
        if account.status != Account.Status.ACTIVE:
            reason = "Deactivated"
        elif account.pk in non_billable_policy:
            reason = "In a non-billable authentication policy"
        elif not granted:
            reason = "No product access"
        elif all(PRODUCTS[p].billing == "separate" for p, _ in granted if p in PRODUCTS):
            reason = "Statuspage only (billed separately)"
        else:
            reason = "Jira Service Management customer only (not an agent)"
        rows.append(NotBillable(account, reason))
    return rows


def snapshots(*, org: Organization, since: date) -> list[BillableSnapshot]:
    return list(BillableSnapshot.objects.filter(org=org, day__gte=since))


def price_estimate(*, users: int) -> pricing.Estimate:
    return pricing.estimate(users=users, tiers=settings.BILLING_TIERS, minimum=settings.BILLING_MINIMUM)


def days_left(subscription: Subscription, *, now: datetime) -> int:
    """Days until the trial ends, a day begun counted whole: 30 the moment a 30-day trial starts,
    1 on its last day, 0 once it has ended (it said 29 on the first day and 0 on the last)."""
    remaining = (subscription.trial_ends_at - now).total_seconds()
    return max(0, math.ceil(remaining / 86400))


ENFORCED = (Subscription.Status.TRIAL, Subscription.Status.PAID)


def security_enforced(*, org: Organization) -> bool:
    """Whether enforced SSO, mandatory 2SV and provisioning apply: during the trial and while paid."""
    sub = subscription_of(org=org)
    return sub is not None and sub.status in ENFORCED


def _loaded_subscription(org: Organization) -> Subscription | None:
    """``org``'s subscription: the one read with it (``policies.hooks.pause_relations_attach``),
    else one query."""
    loaded, subscription = hooks.pause_relation_loaded(org, "subscription")
    return subscription if loaded else subscription_of(org=org)


def enforcement_pause(org: Organization) -> str | None:
    """Why ``org``'s security features are paused (a clause), or ``None`` while they are enforced.

    Registered into ``policies.hooks.enforcement_pause`` by ``BillingConfig.ready()``: the policies
    domain decides enforcement in one place (``policies.selectors.enforcement_paused``) and asks this.
    The subscription is the one read with the org when a hot path attached it (it is listed in
    ``policies.hooks.enforcement_pause_relations``), else queried.
    """
    sub = _loaded_subscription(org)
    if sub is None:
        return f"{org.name} has not started the security subscription"
    if sub.status in ENFORCED:
        return None
    when = sub.lapsed_at or sub.trial_ends_at
    return f"the security subscription of {org.name} lapsed on {when.day} {when:%b %Y}"
