"""orgs.selectors.billing: who an org pays for, on a seeded org with every product rule."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import OrgUser
from orgwarden.orgs.selectors import billing
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services.claims import account_claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(org_admin, other_org_admin):
    """An org with one site of each billing kind, a group per role, and people in every situation."""
    org, admin = org_admin.org, org_admin.account

    def site(product, name):
        return s.site_add(org=org, actor=admin, product=product, name=name, url=f"https://{name}.example")

    jira, wiki, jsm, status = (
        site("jira-software", "jira"),
        site("confluence", "wiki"),
        site("jira-service-management", "help"),
        site("statuspage", "status"),
    )

    def group(name, *grants):
        g = s.group_create(org=org, actor=admin, name=name)
        for target, role in grants:
            s.access_grant(org=org, actor=admin, site_id=target.site_id, group_id=g.group_id, role=role)
        return g

    groups = {
        "jira": group("Jira users", (jira, "user")),
        "all3": group("Everything", (jira, "user"), (wiki, "user"), (jsm, "admin")),
        "wiki": group("Wiki users", (wiki, "user")),
        "jsm_user": group("JSM users", (jsm, "user")),
        "jsm_admin": group("JSM agents", (jsm, "admin")),
        "status": group("Status", (status, "admin")),
        "none": group("No access"),
    }

    def person(email, *group_keys, managed=True, status=Account.Status.ACTIVE):
        account = AccountFactory(email=email, status=status)
        if managed:
            account_claim(org=org, account=account, domain=None, actor=Actor.system())
        else:
            OrgUser.objects.create(org=org, account=account, email=account.email)
        for key in group_keys:
            s.group_members_add(
                org=org, actor=admin, group_id=groups[key].group_id, account_ids=[account.account_id]
            )
        return account

    people = {
        "jira": person("jira@acme.example", "jira"),
        "three_products": person("three@acme.example", "all3", "jira", "wiki"),
        "jsm_user": person("jsm-user@acme.example", "jsm_user"),
        "jsm_admin": person("jsm-admin@acme.example", "jsm_admin"),
        "statuspage_only": person("status@acme.example", "status"),
        "no_access": person("nothing@acme.example", "none"),
        "no_groups": person("nogroups@acme.example"),
        "deactivated": person("gone@acme.example", "jira", status=Account.Status.DEACTIVATED),
        "external": person("partner@partner.example", "wiki", managed=False),
        "external_jsm_user": person("customer@partner.example", "jsm_user", managed=False),
    }
    # Someone with access through a group but no longer a user of the org (row removed) is not billed.
    ghost = person("ghost@acme.example", "jira", managed=False)
    OrgUser.objects.filter(org=org, account=ghost).delete()
    # Another org's billable person does not count here, nor do ours there.
    other, other_admin = other_org_admin.org, other_org_admin.account
    their_site = s.site_add(
        org=other, actor=other_admin, product="jira-software", name="T", url="https://t.ex"
    )
    their_group = s.group_create(org=other, actor=other_admin, name="T users")
    s.access_grant(
        org=other, actor=other_admin, site_id=their_site.site_id, group_id=their_group.group_id, role="user"
    )
    stranger = AccountFactory(email="stranger@other.example")
    OrgUser.objects.create(org=other, account=stranger, email=stranger.email)
    s.group_members_add(
        org=other, actor=other_admin, group_id=their_group.group_id, account_ids=[stranger.account_id]
    )
    return org, people


def test_billable_users_follow_the_product_rules(seeded):
    org, people = seeded
    billable = list(billing.billable_users(org=org))
    assert billable == sorted(
        [people["jira"], people["three_products"], people["jsm_admin"], people["external"]],
        key=lambda a: a.email,
    )
    assert billing.billable_count(org=org) == 4


def test_billable_by_product(seeded):
    org, _ = seeded
    assert billing.billable_by_product(org=org) == {
        "jira-software": 2,  # jira, three_products (the deactivated one does not count)
        "confluence": 2,  # three_products, external
        "jira-service-management": 2,  # the agents: jsm_admin, three_products
    }


def test_billable_users_is_one_query(seeded):
    org, _ = seeded
    with CaptureQueriesContext(connection) as queries:
        billing.billable_count(org=org)
        list(billing.billable_users(org=org))
        billing.billable_by_product(org=org)
    assert len(queries) == 3


def test_an_org_without_sites_bills_nobody(org):
    assert billing.billable_count(org=org) == 0 and billing.billable_by_product(org=org) == {}
