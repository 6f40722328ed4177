"""Actions that break something live ask first, in a real browser, on a laptop and on a phone: the
first click opens a confirmation page saying what will happen; only its own button does it.

Regenerating a directory's SCIM key stops the IdP's provisioning until the new key is pasted into
it, and revoking a group's product access takes the product away from everyone who has it only
through that group: both used to happen at the first click.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.orgs.models import OrgUser, SiteAccess
from orgwarden.orgs.services import access as access_services
from orgwarden.scim import selectors as scim_selectors
from orgwarden.scim import services as scim_services
from orgwarden.scim.models import ScimKey
from orgwarden.sso import services as sso_services
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDER_THAN_SCREEN = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _signed_in(new_page, org_admin, width: int):
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    return page


@pytest.mark.parametrize("width", [1280, 390])
def test_regenerating_a_scim_key_asks_first(new_page, org_admin, width):
    org, admin = org_admin.org, org_admin.account
    directory = sso_services.idp_add(org=org, actor=admin, vendor="okta", name="Okta (employees)").directory
    old = scim_services.scim_key_generate(org=org, actor=admin, directory_id=directory.directory_id)
    page = _signed_in(new_page, org_admin, width)
    page.goto(reverse("console:provisioning", args=[org.org_id, directory.directory_id]))

    page.get_by_role("link", name="Regenerate API key…").click()
    expect(page.get_by_role("heading", name="Regenerate the SCIM key of Okta (employees)?")).to_be_visible()
    expect(page.get_by_text(f"The current key ({old[:10]}…) stops working at once")).to_be_visible()
    confirm = page.get_by_role("button", name="Regenerate API key", exact=True)
    expect(confirm).to_be_visible()
    assert page.evaluate(WIDER_THAN_SCREEN) <= 0
    assert scim_selectors.directory_for_key(directory_id=directory.directory_id, key=old) == directory

    confirm.click()
    expect(page.get_by_text("Copy this API key now.")).to_be_visible()
    new = page.get_by_label("Directory API key (Bearer token)").input_value()
    assert new.startswith("scim_") and new != old
    assert ScimKey.objects.get(directory=directory).prefix == new[:10]


@pytest.mark.parametrize("width", [1280, 390])
def test_revoking_a_groups_product_access_asks_first(new_page, org_admin, width):
    org, admin = org_admin.org, org_admin.account
    site = access_services.site_add(
        org=org, actor=admin, product="confluence", name="Acme Wiki", url="https://wiki.acme.test"
    )
    writers = access_services.group_create(org=org, actor=admin, name="Writers")
    access_services.access_grant(
        org=org, actor=admin, site_id=site.site_id, group_id=writers.group_id, role="user"
    )
    people = [AccountFactory(email=f"writer{i}@acme.test") for i in range(2)]
    for person in people:
        OrgUser.objects.create(org=org, account=person, email=person.email)
    access_services.group_members_add(
        org=org, actor=admin, group_id=writers.group_id, account_ids=[p.account_id for p in people]
    )
    page = _signed_in(new_page, org_admin, width)
    page.goto(reverse("console:product_site", args=[org.org_id, site.site_id]))

    page.get_by_role("link", name="Revoke access of Writers").click()  # "Revoke…" to the eye
    expect(page.get_by_role("heading", name="Revoke Writers's access to Acme Wiki?")).to_be_visible()
    expect(
        page.get_by_text("2 people lose Acme Wiki at once: they have it only through Writers.")
    ).to_be_visible()
    confirm = page.get_by_role("button", name="Revoke access", exact=True)
    expect(confirm).to_be_visible()
    assert page.evaluate(WIDER_THAN_SCREEN) <= 0
    assert SiteAccess.objects.filter(site=site, group=writers).exists()  # the first click revoked nothing

    confirm.click()
    expect(page.get_by_text("Access revoked.")).to_be_visible()
    expect(page.get_by_role("heading", name="Acme Wiki")).to_be_visible()
    assert not SiteAccess.objects.filter(site=site, group=writers).exists()
