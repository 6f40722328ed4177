"""Reads of the subscription and of who is billable.

Billable = ``orgs.selectors.billing.billable_users`` (unique active users of the org with a billed
grant) minus managed accounts whose authentication policy is marked non-billable. A policy applies
by membership (``PolicyMember``), otherwise as the default policy of the account's directory — the
same resolution as ``policies.selectors.policy_for``, written as ``EXISTS`` subqueries so the list
stays one query. ``billable_count`` counts the same set from the org's users, the way that stays
cheap for 50,000 of them (see its docstring); ``billable_summary`` gives the Billing page that
count, the count per product and the users who are not billable from one pass over them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from orgwarden import humanize
from orgwarden.accounts.models import Account
from orgwarden.billing import pricing
from orgwarden.billing.models import BillableSnapshot, Subscription
from orgwarden.orgs.models import Domain, GroupMember, Organization, OrgUser, SiteAccess
from orgwarden.orgs.products import BILLED_AGENTS, BILLED_ALL, PRODUCTS
from orgwarden.orgs.selectors.billing import billable_org_users as directory_billable_org_users
from orgwarden.orgs.selectors.billing import billable_users as directory_billable_users
from orgwarden.policies import hooks
from orgwarden.policies.models import AuthenticationPolicy, PolicyMember

_GROUP_MEMBERS = GroupMember._meta.db_table
_ORG_USERS = OrgUser._meta.db_table


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


def _policy_exclusions(org: Organization) -> list[QuerySet]:
    """The accounts (as ``account`` values) a non-billable policy takes out of ``org``'s bill, as
    the short lists that apply: members of the org's non-billable policies, and managed users of a
    directory whose default policy is non-billable and who are in none of the org's policies.

    Looked up first, in two short reads (the org's non-billable policies, the directories of the
    org's users whose default policy is non-billable): only those that exist become conditions of
    a count, and then as lists read once, not as three subqueries per account.
    """
    exclusions = []
    in_org_policy = PolicyMember.objects.filter(policy__org=org).values("account")
    if AuthenticationPolicy.objects.filter(org=org, billable=False).exists():
        exclusions.append(in_org_policy.filter(policy__billable=False))
    non_billable_defaults = list(
        AuthenticationPolicy.objects.filter(is_default=True, billable=False)
        .filter(Exists(OrgUser.objects.filter(org=org, directory=OuterRef("directory"))))
        .values_list("directory", flat=True)
    )
    if non_billable_defaults:
        exclusions.append(
            OrgUser.objects.filter(org=org, is_managed=True, directory__in=non_billable_defaults)
            .exclude(account__in=in_org_policy)
            .values("account")
        )
    return exclusions


def _billable_org_users(org: Organization, exclusions: list[QuerySet] | None = None) -> QuerySet[OrgUser]:
    """The org's users whose accounts ``billable_users`` holds, one row each, read for counting:
    the same rules, written for a count over a big org (``_policy_exclusions``)."""
    users = directory_billable_org_users(org=org)
    for excluded in _policy_exclusions(org) if exclusions is None else exclusions:
        users = users.exclude(account__in=excluded)
    return users


def billable_count(*, org: Organization) -> int:
    """How many accounts ``billable_users`` holds, counted from the org's users (``_billable_org_users``)."""
    return _billable_org_users(org).count()


@dataclass(frozen=True, slots=True)
class NotBillable:
    account: Account
    reason: str


@dataclass(frozen=True, slots=True)
class Billable:
    """Who the subscription bills, as the Billing page shows it."""

    count: int  # = billable_count
    by_product: dict[str, int]  # = billable_by_product
    not_billable: list[NotBillable]  # = not_billable: the first ``limit`` of them
    not_billable_count: int = 0  # how many users are not billable, all of them


def billable_summary(*, org: Organization, limit: int = 500) -> Billable:
    """The billable count, the count per product and the first ``limit`` users who are not billable
    (by email, with why), from one pass over the org's users.

    The pass (``_tally``) gives every user of the org the set of billed groups it is in, and
    whether its account is left out (not active now, or a non-billable policy); the database counts
    the users per (set, left out), a few dozen rows, and each set says which products it bills.
    The users who are not billable are then read only if the pass counted some: those left out
    alone from their short lists when every user has a billed grant, else by walking the org's
    users by email (``_not_billable_page``).
    """
    groups = _billed_groups(org)
    exclusions = _policy_exclusions(org)
    count, by_product, no_access, left_out = 0, dict.fromkeys(groups, 0), 0, 0
    bills = {key: set(pks) for key, pks in groups.items()}
    for signature, out, n in _tally(org, sorted(set().union(*bills.values())), exclusions):
        if out:
            left_out += n
        elif signature is None:
            no_access += n
        else:
            member_of = {int(pk) for pk in signature.split(",")}
            count += n
            for key, pks in bills.items():
                if member_of & pks:
                    by_product[key] += n
    page = []
    if limit > 0 and (no_access or left_out):
        page = _not_billable_page(org, exclusions, limit, only_left_out=not no_access)
    return Billable(count, by_product, page, no_access + left_out)


def _billed_groups(org: Organization) -> dict[str, list[int]]:
    """Product key -> the org's groups with a billed grant of it (any role, or the admin role where
    agents alone are billed), for every billed product the org has a site of, in catalogue order."""
    used = set(org.sites.values_list("product", flat=True))
    grants = SiteAccess.objects.filter(site__org=org, group__org=org).values_list(
        "site__product", "group", "role"
    )
    rows = list(grants)
    return {
        key: sorted(
            {
                group
                for product, group, role in rows
                if product == key and (key not in BILLED_AGENTS or role == SiteAccess.Role.ADMIN)
            }
        )
        for key in BILLED_ALL + BILLED_AGENTS
        if key in used
    }


def _tally(org: Organization, billed: list[int], exclusions: list[QuerySet]) -> list[tuple]:
    """(billed groups the user is in as "pk,pk,..." or None, left out, users) over the org's users.

    One statement. A user's set: on SQLite its memberships, sought by account, kept when in
    ``billed`` (``group_id + 0``: the account's few memberships, not one seek per billed group); on
    PostgreSQL the memberships of every account, read in account order from the (account, group)
    index and aggregated, joined to the org's users (a per-user subquery ran ~50,000 times there).
    Left out: the account is not active now, or in one of ``exclusions``.
    """
    left_out = [Account.objects.exclude(status=Account.Status.ACTIVE).values("pk"), *exclusions]
    out_sql, out_params = [], []
    for accounts in left_out:
        sql, params = accounts.query.sql_with_params()
        out_sql.append(f"ou.account_id IN ({sql})")
        out_params.extend(params)
    out = " OR ".join(out_sql)
    billed_in = ", ".join(["%s"] * len(billed)) or "NULL"
    if connection.vendor == "sqlite":
        sql = (
            f"SELECT signature, left_out, COUNT(*) FROM (SELECT (SELECT group_concat(gm.group_id) "  # noqa: S608
            f"FROM {_GROUP_MEMBERS} gm WHERE gm.account_id = ou.account_id "
            f"AND gm.group_id + 0 IN ({billed_in})) "
            f"AS signature, ({out}) AS left_out FROM {_ORG_USERS} ou WHERE ou.org_id = %s) "
            "GROUP BY signature, left_out"
        )
        params = [*billed, *out_params, org.pk]
    else:
        sql = (
            f"SELECT x.signature, ({out}) AS left_out, COUNT(*) FROM {_ORG_USERS} ou LEFT JOIN ("  # noqa: S608
            f"SELECT gm.account_id, string_agg(gm.group_id::text, ',') AS signature FROM {_GROUP_MEMBERS} gm "
            f"WHERE gm.group_id IN ({billed_in}) GROUP BY gm.account_id) x ON x.account_id = ou.account_id "
            "WHERE ou.org_id = %s GROUP BY 1, 2"
        )
        params = [*out_params, *billed, org.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(signature, bool(left_out), n) for signature, left_out, n in cursor.fetchall()]


def _not_billable_page(
    org: Organization, exclusions: list[QuerySet], limit: int, *, only_left_out: bool
) -> list[NotBillable]:
    """The first ``limit`` of the org's users who are not billable, by email, each with why.

    ``only_left_out``: every user of the org has a billed grant, so these are the users whose
    accounts are not active now or whom a non-billable policy takes out — read from those short
    lists. Otherwise the org's users are walked by email, each tested against the billable set.
    A few queries however many users it lists: the page, which of them a non-billable policy
    holds, and their grants (one query for the page, not one per user).
    """
    users = OrgUser.objects.filter(org=org)
    if only_left_out:
        left_out = Q(account__in=Account.objects.exclude(status=Account.Status.ACTIVE).values("pk"))
        for excluded in exclusions:
            left_out |= Q(account__in=excluded)
        users = users.filter(left_out)
    else:
        users = users.exclude(pk__in=_billable_org_users(org, exclusions).values("pk"))
    page = list(users.select_related("account").order_by("email")[:limit])
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


def billable_by_product(*, org: Organization) -> dict[str, int]:
    """Billable users per product key the org uses (a person on two products counts in both), in
    catalogue order (``billable_summary``)."""
    return billable_summary(org=org, limit=0).by_product


def not_billable(*, org: Organization, limit: int = 500) -> list[NotBillable]:
    """Users of the org who are not billed, and why (first ``limit``, by email; ``billable_summary``)."""
    return billable_summary(org=org, limit=limit).not_billable


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
    return f"the security subscription of {org.name} lapsed on {humanize.day(when)}"
