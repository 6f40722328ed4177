"""The Billing page's numbers against their definition, on a random org: who is billable
(``billable_users``: one ``EXISTS`` per rule, obviously right), how many per product, and the first
users who are not billable, by email.

The org has people in several groups or none, managed (local and identity-provider directories)
and external, active, deactivated and closed, in a non-billable policy or under a directory's
non-billable default, members of a billed group without being users of the org, and users of
another org with its own groups, sites and policies; products billed for every user, for agents
only, separately, and one with a site nobody has access to.
"""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.billing import selectors
from orgwarden.orgs.models import Directory, Group, GroupMember, OrgUser, ProductSite, SiteAccess
from orgwarden.orgs.products import BILLED_AGENTS, BILLED_ALL
from orgwarden.policies.models import AuthenticationPolicy, PolicyMember

pytestmark = pytest.mark.django_db


def _default_policy(org, directory) -> AuthenticationPolicy:
    found = AuthenticationPolicy.objects.filter(directory=directory, is_default=True).first()
    return found or AuthenticationPolicy.objects.create(
        org=org, directory=directory, name=f"{directory.name} default", is_default=True
    )


@pytest.fixture
def world(org_admin, other_org_admin):
    org, other = org_admin.org, other_org_admin.org
    rng = random.Random(45)
    sites = [
        ProductSite.objects.create(
            org=org, product=product, name=f"{product} {n}", url=f"https://{n}.example"
        )
        for n, product in enumerate(
            [
                "jira-software",
                "jira-software",
                "confluence",
                "jira-service-management",
                "jira-service-management",
                "trello",
                "statuspage",
                "bitbucket",  # nobody has access to it: counted at zero
            ]
        )
    ]
    groups = [Group.objects.create(org=org, name=f"g{n}") for n in range(7)]
    for site in sites[:-1]:
        for group in rng.sample(groups, 3):
            role = rng.choice([SiteAccess.Role.USER, SiteAccess.Role.ADMIN])
            SiteAccess.objects.create(site=site, group=group, role=role)
    their_site = ProductSite.objects.create(
        org=other, product="confluence", name="theirs", url="https://theirs.example"
    )
    their_group = Group.objects.create(org=other, name="theirs")
    SiteAccess.objects.create(site=their_site, group=their_group)
    local = Directory.objects.get(org=org, kind=Directory.Kind.LOCAL)
    idp = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name="Okta")
    policies = {
        "local default": _default_policy(org, local),
        "idp default": _default_policy(org, idp),
        "contractors": AuthenticationPolicy.objects.create(
            org=org, directory=local, name="Contractors", billable=False
        ),
        "staff": AuthenticationPolicy.objects.create(org=org, directory=idp, name="Staff"),
    }
    theirs = AuthenticationPolicy.objects.create(
        org=other, directory=Directory.objects.get(org=other, kind=Directory.Kind.LOCAL), name="Theirs"
    )
    for i in range(60):
        kind = rng.choice(["local", "idp", "external", "nobody"])
        status = rng.choice([Account.Status.ACTIVE] * 4 + [Account.Status.DEACTIVATED, Account.Status.CLOSED])
        domain = "partner.example" if kind == "external" else "acme.example"
        account = AccountFactory(email=f"p{rng.randrange(10**6):06d}.{i}@{domain}", status=status)
        if kind != "nobody":  # "nobody": in groups of the org without being one of its users
            OrgUser.objects.create(
                org=org,
                account=account,
                email=account.email,
                is_managed=kind != "external",
                directory={"local": local, "idp": idp}.get(kind),
            )
        for group in rng.sample(groups, rng.choice([0, 1, 1, 2, 3])):
            GroupMember.objects.create(group=group, account=account)
        if rng.random() < 0.2:  # a user of the other org too, with access there
            OrgUser.objects.create(org=other, account=account, email=account.email)
            GroupMember.objects.create(group=their_group, account=account)
        policy = rng.choice([None, None, "contractors", "staff", "theirs"])
        if policy:
            PolicyMember.objects.create(
                policy=theirs if policy == "theirs" else policies[policy], account=account
            )
    # One person with Statuspage alone, one a Jira Service Management customer alone (not an agent).
    for product, role in (
        ("statuspage", SiteAccess.Role.ADMIN),
        ("jira-service-management", SiteAccess.Role.USER),
    ):
        only = Group.objects.create(org=org, name=f"{product} only")
        SiteAccess.objects.create(site=next(s for s in sites if s.product == product), group=only, role=role)
        account = AccountFactory(email=f"{product}@acme.example")
        OrgUser.objects.create(
            org=org, account=account, email=account.email, is_managed=True, directory=local
        )
        GroupMember.objects.create(group=only, account=account)
    return org, policies


def _by_product(org, billable: set[int]) -> dict[str, int]:
    """Per product key the org has a site of (catalogue order): its billable users with a billed
    grant of it, each once."""
    used = set(ProductSite.objects.filter(org=org).values_list("product", flat=True))
    counts = {}
    for key in [k for k in BILLED_ALL + BILLED_AGENTS if k in used]:
        grants = SiteAccess.objects.filter(site__org=org, site__product=key, group__org=org)
        if key in BILLED_AGENTS:
            grants = grants.filter(role=SiteAccess.Role.ADMIN)
        members = set(
            GroupMember.objects.filter(group__in=grants.values("group")).values_list("account", flat=True)
        )
        counts[key] = len(members & billable)
    return counts


def _not_billable(org, billable: set[int]) -> list[int]:
    users = OrgUser.objects.filter(org=org).order_by("email").values_list("account", flat=True)
    return [pk for pk in users if pk not in billable]


def assert_definition(org) -> list:
    """The billing numbers equal their definition; returns the not-billable rows."""
    billable = set(selectors.billable_users(org=org).values_list("pk", flat=True))
    expected_by_product = _by_product(org, billable)
    expected_not_billable = _not_billable(org, billable)
    assert selectors.billable_count(org=org) == len(billable)
    assert list(selectors.billable_by_product(org=org).items()) == list(expected_by_product.items())
    for limit in (500, 7):
        rows = selectors.not_billable(org=org, limit=limit)
        assert [row.account.pk for row in rows] == expected_not_billable[:limit]
    summary = selectors.billable_summary(org=org)
    assert summary.count == len(billable) and summary.by_product == expected_by_product
    assert [row.account.pk for row in summary.not_billable] == expected_not_billable
    return summary.not_billable


@pytest.mark.parametrize("idp_default_billable", [True, False])
@pytest.mark.parametrize("contractors_billable", [True, False])
def test_billing_numbers_are_their_definition(world, idp_default_billable, contractors_billable):
    org, policies = world
    AuthenticationPolicy.objects.filter(pk=policies["idp default"].pk).update(billable=idp_default_billable)
    AuthenticationPolicy.objects.filter(pk=policies["contractors"].pk).update(billable=contractors_billable)
    billable = set(selectors.billable_users(org=org).values_list("pk", flat=True))
    assert 0 < len(billable) < OrgUser.objects.filter(org=org).count()  # both kinds in the world
    assert 0 in _by_product(org, billable).values() and any(_by_product(org, billable).values())
    reasons = {row.reason for row in assert_definition(org)}
    assert {
        "Deactivated",
        "No product access",
        "Statuspage only (billed separately)",
        "Jira Service Management customer only (not an agent)",
    } <= reasons
    if not (contractors_billable and idp_default_billable):
        assert "In a non-billable authentication policy" in reasons


def _page_reads(org) -> list[str]:
    """The statements of the not-billable list's page (the org's users by email)."""
    with CaptureQueriesContext(connection) as ctx:
        selectors.billable_summary(org=org)
    return [q["sql"] for q in ctx.captured_queries if 'ORDER BY "orgs_orguser"."email"' in q["sql"]]


def test_with_everyone_granted_the_page_reads_the_left_out_alone(world):
    """When the pass finds every user of the org with a billed grant, the users not billable are
    those it left out (deactivated, closed, non-billable policy): read from their short lists, not
    by testing each of the org's users again; with nobody left out, nothing is read."""
    org, _policies = world
    everyone = Group.objects.create(org=org, name="everyone")
    SiteAccess.objects.create(
        site=ProductSite.objects.filter(org=org, product="trello").first(), group=everyone
    )
    GroupMember.objects.bulk_create(
        [
            GroupMember(group=everyone, account_id=pk)
            for pk in OrgUser.objects.filter(org=org).values_list("account", flat=True)
        ]
    )
    reasons = {row.reason for row in assert_definition(org)}
    assert reasons == {"Deactivated", "In a non-billable authentication policy"}
    (page,) = _page_reads(org)
    assert "orgs_groupmember" not in page

    Account.objects.exclude(status=Account.Status.ACTIVE).update(status=Account.Status.ACTIVE)
    AuthenticationPolicy.objects.filter(org=org).update(billable=True)
    assert assert_definition(org) == []
    assert _page_reads(org) == []
