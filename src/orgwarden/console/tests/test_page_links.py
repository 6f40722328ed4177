"""Pages lead where an admin goes next: back to their list the same way everywhere, and between a
person and their groups.

Four pages (a group, a product site, a policy, "Check a user") had a plain link back to their list
where every other page has "← List"; a user's page named their groups as plain text, and a group's
page its members, so neither led to the other.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.services import Actor
from orgwarden.orgs.services import access
from orgwarden.orgs.services.claims import account_claim, local_directory
from orgwarden.policies import services as policy_services

pytestmark = pytest.mark.django_db


def back_link(url: str, label: str) -> str:
    return f'<p class="small back"><a href="{url}">← {label}</a></p>'


def test_detail_pages_lead_back_to_their_list_alike(admin_client, org, org_admin):
    admin = org_admin.account
    group = access.group_create(org=org, actor=admin, name="Writers")
    site = access.site_add(
        org=org, actor=admin, product="confluence", name="Wiki", url="https://wiki.acme.example"
    )
    policy = policy_services.default_policy_create(local_directory(org))
    o = org.org_id
    policies = reverse("console:policies", args=[o])
    for page, list_url, label in [
        (reverse("console:group", args=[o, group.group_id]), reverse("console:groups", args=[o]), "Groups"),
        (
            reverse("console:product_site", args=[o, site.site_id]),
            reverse("console:products", args=[o]),
            "Product sites",
        ),
        (reverse("console:policy", args=[o, policy.policy_id]), policies, "Authentication policies"),
        (reverse("console:policy_check", args=[o]), policies, "Authentication policies"),
    ]:
        response = admin_client.get(page)
        assert response.status_code == 200 and back_link(list_url, label) in response.content.decode(), page


def test_a_person_and_their_groups_lead_to_each_other(admin_client, org, org_admin):
    person = AccountFactory(email="pat@acme.example", display_name="Pat Lee")
    account_claim(org=org, account=person, domain=None, actor=Actor.system("test"))
    o = org.org_id
    user_page = reverse("console:user_detail", args=[o, person.account_id])
    alone = admin_client.get(user_page).content.decode()
    groups = reverse("console:groups", args=[o])
    assert f'Not in any group. To add Pat Lee to one, open it in <a href="{groups}">Groups</a>.' in alone

    group = access.group_create(org=org, actor=org_admin.account, name="Writers")
    access.group_members_add(
        org=org, actor=org_admin.account, group_id=group.group_id, account_ids=[person.account_id]
    )
    assert (
        f'<a href="{reverse("console:group", args=[o, group.group_id])}">Writers</a>'
        in admin_client.get(user_page).content.decode()
    )
    group_page = admin_client.get(reverse("console:group", args=[o, group.group_id])).content.decode()
    assert f'<a href="{user_page}">Pat Lee</a>' in group_page
