"""Removals that cannot be undone ask first, in a real browser: the first click on "Remove …" opens
a confirmation saying what goes with it; only its own button removes.

Removing a domain releases every account claimed through it (for a company, thousands at once), and
removing an identity provider deletes its SAML configuration, certificates, provisioning key and
policies: both used to happen at the first click.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.orgs.models import Domain
from orgwarden.orgs.services import domains as domain_services
from orgwarden.sso import services as sso_services
from orgwarden.sso.models import SamlConnection
from orgwarden.sso.tests.conftest import verified_domain
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_removing_a_domain_asks_first(new_page, org_admin, width):
    org = org_admin.org
    domain = verified_domain(org, "example.com", automatic=False)
    person = AccountFactory(email="ada@example.com")
    domain_services.accounts_claim(
        org=org, actor=org_admin.account, domain_id=domain.domain_id, account_ids=[person.account_id]
    )
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:domain", args=[org.org_id, domain.domain_id]))

    page.get_by_text("Remove example.com…").click()
    confirm = page.get_by_role("button", name="Remove example.com", exact=True)
    expect(confirm).to_be_visible()
    expect(page.get_by_text("1 account stops being managed")).to_be_visible()
    assert Domain.objects.filter(pk=domain.pk).exists()  # the first click removed nothing

    confirm.click()
    expect(page.get_by_text("example.com removed.")).to_be_visible()
    assert not Domain.objects.filter(pk=domain.pk).exists()


@pytest.mark.parametrize("width", [1280, 390])
def test_removing_an_identity_provider_asks_first(new_page, org_admin, width):
    org = org_admin.org
    admin = org_admin.account
    connection = sso_services.idp_add(org=org, actor=admin, vendor="okta", name="Okta (employees)")
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:identity_provider", args=[org.org_id, connection.connection_id]))

    page.get_by_text("Remove Okta (employees)…").click()
    confirm = page.get_by_role("button", name="Remove Okta (employees)", exact=True)
    expect(confirm).to_be_visible()
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    assert SamlConnection.objects.filter(pk=connection.pk).exists()  # the first click removed nothing

    confirm.click()
    page.wait_for_url(f"**{reverse('console:identity_providers', args=[org.org_id])}")
    assert not SamlConnection.objects.filter(pk=connection.pk).exists()
