"""The overview's "Get started" steps: a new organization's home was a row of zeros with no next
step. It lists what an admin does first, in order, says which is done, and goes away when all is."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.billing.tests.factories import SubscriptionFactory
from orgwarden.orgs.services import access as access_services
from orgwarden.orgs.services.claims import local_directory
from orgwarden.policies import services as policy_services
from orgwarden.policies.models import AuthenticationPolicy
from orgwarden.scim.tests.conftest import verified_domain
from orgwarden.sso import services as sso_services
from orgwarden.testing import browser

pytestmark = pytest.mark.django_db

STEPS = [
    ("Verify a domain", "console:domains"),
    ("Add your product sites", "console:products"),
    ("Give people access", "console:users_invite"),
    ("Connect your identity provider", "console:identity_providers"),
    ("Start the security subscription", "console:billing"),
    ("Require two-step verification or single sign-on", "console:policies"),
]


def home(client, org) -> str:
    response = client.get(reverse("console:org_home", args=[org.org_id]))
    assert response.status_code == 200
    return response.content.decode()


def done_steps(body: str) -> list[str]:
    return re.findall(r'<li class="done">.*?<a href="[^"]+">([^<]+)</a>', body, re.S)


def test_a_new_org_gets_every_step_with_its_link(admin_client, org):
    body = home(admin_client, org)
    assert "Get started" in body and "0 of 6 done" in body
    for title, url_name in STEPS:
        assert f'<a href="{reverse(url_name, args=[org.org_id])}">{title}</a>' in body
    assert done_steps(body) == []


def test_steps_done_are_marked(admin_client, org, org_admin):
    verified_domain(org, "acme.example")
    site = access_services.site_add(
        org=org, actor=org_admin.account, product="confluence", name="Wiki", url="https://wiki.acme.example"
    )
    body = home(admin_client, org)
    assert done_steps(body) == ["Verify a domain", "Add your product sites"] and "2 of 6 done" in body

    # A group with access but nobody in it gives nobody access; inviting someone does.
    group = access_services.group_create(org=org, actor=org_admin.account, name="Writers")
    access_services.access_grant(
        org=org, actor=org_admin.account, site_id=site.site_id, group_id=group.group_id, role="user"
    )
    assert "Give people access" not in done_steps(home(admin_client, org))
    access_services.user_invite(
        org=org, actor=org_admin.account, email="pat@acme.example", site_ids=[site.site_id]
    )
    assert "Give people access" in done_steps(home(admin_client, org))


def test_when_everything_is_done_the_steps_go(admin_client, org, org_admin):
    verified_domain(org, "acme.example")
    site = access_services.site_add(
        org=org, actor=org_admin.account, product="confluence", name="Wiki", url="https://wiki.acme.example"
    )
    access_services.user_invite(
        org=org, actor=org_admin.account, email="pat@acme.example", site_ids=[site.site_id]
    )
    sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    SubscriptionFactory(org=org)
    assert "5 of 6 done" in home(admin_client, org)
    policy = policy_services.default_policy_create(local_directory(org))
    AuthenticationPolicy.objects.filter(pk=policy.pk).update(two_step=AuthenticationPolicy.TwoStep.MANDATORY)
    assert "Get started" not in home(admin_client, org)


def test_another_orgs_progress_does_not_count(admin_client, org, other_org_admin):
    other = other_org_admin.org
    verified_domain(other, "other.example")
    access_services.site_add(
        org=other,
        actor=other_org_admin.account,
        product="confluence",
        name="Theirs",
        url="https://theirs.example",
    )
    sso_services.idp_add(org=other, actor=other_org_admin.account, vendor="okta", name="Okta")
    SubscriptionFactory(org=other)
    policy = policy_services.default_policy_create(local_directory(other))
    AuthenticationPolicy.objects.filter(pk=policy.pk).update(enforce_sso=True)
    body = home(admin_client, org)
    assert "0 of 6 done" in body and done_steps(body) == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_get_started_leads_to_each_page_in_a_browser(new_page, org_admin, width):
    from playwright.sync_api import expect

    page = new_page()
    page.set_viewport_size({"width": width, "height": 844})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:org_home", args=[org_admin.org.org_id]))
    steps = page.get_by_role("region", name="Get started")
    expect(steps).to_be_in_viewport()  # the first thing under the title, not below the numbers
    assert (
        page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        <= 0
    )
    steps.get_by_role("link", name="Verify a domain").click()
    expect(page.get_by_role("heading", name="Domains", level=1)).to_be_visible()
