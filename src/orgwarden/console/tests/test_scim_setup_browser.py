"""An identity provider's SCIM set-up page in a real browser, on a laptop (1280 px): the base URL and
the key shown once are read whole in their boxes (they wrap rather than scroll out of sight), and the
key's box keeps its distance from the field above it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.sso import services as sso_services
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How much of a box's value is out of sight, across and down (0, 0 when all of it shows).
HIDDEN = "(e) => [e.scrollWidth - e.clientWidth, e.scrollHeight - e.clientHeight]"


def test_scim_base_url_and_new_key_are_read_whole_at_1280(new_page, org_admin):
    org = org_admin.org
    idp = sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta (employees)")
    directory_id = idp.directory.directory_id
    page = new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:provisioning", args=[org.org_id, directory_id]))
    page.get_by_role("button", name="Generate API key").click()
    expect(page.get_by_text("Copy this API key now.")).to_be_visible()

    base = page.get_by_label("SCIM base URL")
    key = page.get_by_label("Directory API key (Bearer token)")
    # The whole values are there to copy …
    assert base.input_value().endswith(f"/scim/directory/{directory_id}")
    assert key.input_value().startswith("scim_")
    # … and all of each is in sight.
    assert base.evaluate(HIDDEN) == [0, 0]
    assert key.evaluate(HIDDEN) == [0, 0]
    # The notice that holds the key starts clear of the base URL's box.
    notice = page.get_by_role("status").filter(has=key).bounding_box()
    assert notice["y"] - (base.bounding_box()["y"] + base.bounding_box()["height"]) >= 12
