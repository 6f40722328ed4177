"""The console on a phone, in a real browser: at 390 px wide no page is wider than the screen.

A table wider than the screen scrolls inside its own pane (``.table-wrap``); it must not widen the
page, which would push the top bar, the navigation and every form off to the side.

A button's label stays on one line, on a wide screen and on a phone: the buttons beside a page's
title, and those in a table's rows (the table scrolls instead). On a laptop a table beside a form
shows all its columns (Support's response targets).
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.orgs.services.access import group_create
from orgwarden.orgs.services.claims import local_directory
from orgwarden.policies import services as policy_services
from orgwarden.policies.models import AuthenticationPolicy
from orgwarden.sso import services as sso_services
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}

# The lines a button's text is drawn on (a visually hidden part, 1 px wide, does not count).
LINES = """(e) => { const range = document.createRange(); range.selectNodeContents(e);
  const drawn = [...range.getClientRects()].filter((r) => r.width > 1);
  return new Set(drawn.map((r) => Math.round(r.top))).size; }"""
PAGE_WIDER_THAN_SCREEN = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_no_page_is_wider_than_a_phone(new_page, org_admin):
    page = new_page()
    page.set_viewport_size(PHONE)
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    org_id = org_admin.org.org_id
    paths = [
        reverse("console:users", args=[org_id]),  # its table has a hidden "Select" header
        reverse("console:api_keys", args=[org_id]),
        reverse("console:audit_log", args=[org_id]),
        reverse("console:support", args=[org_id]),
        reverse("accounts:security"),
    ]
    for path in paths:
        page.goto(path)
        assert page.evaluate(PAGE_WIDER_THAN_SCREEN) <= 0, path

    # An event opened from the audit log sits beside the list on a wide screen, below it on a phone.
    page.goto(reverse("console:audit_log", args=[org_id]))
    page.locator(".audit-table tbody a").first.click()
    expect(page.locator(".audit-detail")).to_be_visible()
    assert page.evaluate(PAGE_WIDER_THAN_SCREEN) <= 0, page.url


@pytest.mark.parametrize("width", [1280, 390])
def test_button_labels_stay_on_one_line(new_page, org_admin, width):
    org = org_admin.org
    idp = sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta (employees)")
    page = new_page()
    page.set_viewport_size({"width": width, "height": 844})
    browser.sign_in(page, org_admin.account.email, PASSWORD)

    page.goto(reverse("console:identity_provider", args=[org.org_id, idp.connection_id]))
    assert page.get_by_role("button", name="Test single sign-on").evaluate(LINES) == 1
    page.goto(reverse("console:audit_log", args=[org.org_id]))
    assert page.get_by_role("link", name="Export CSV").evaluate(LINES) == 1
    page.goto(reverse("accounts:security"))  # this session's row: its device is a long user agent
    assert page.locator("main table").get_by_role("button", name="Sign out").evaluate(LINES) == 1
    assert page.evaluate(PAGE_WIDER_THAN_SCREEN) <= 0


def test_the_top_bar_fits_a_phone(new_page, org_admin):
    org_admin.org.name = "Acme Corporation International"
    org_admin.org.save(update_fields=["name"])
    page = new_page()
    page.set_viewport_size(PHONE)
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:org_home", args=[org_admin.org.org_id]))

    top_bar = page.locator("header.topbar")
    assert top_bar.get_by_role("button", name="Sign out").evaluate(LINES) == 1
    assert top_bar.get_by_role("link", name=org_admin.account.display_name).evaluate(LINES) == 1
    expect(top_bar.get_by_role("link", name="orgwarden")).to_be_visible()  # the logo, named
    box = top_bar.bounding_box()
    assert box["width"] <= PHONE["width"] and box["height"] <= 64
    assert page.evaluate(PAGE_WIDER_THAN_SCREEN) <= 0


def test_the_policies_table_scrolls_in_its_pane_on_a_phone(new_page, org_admin):
    """The policies table gained a Single sign-on column: on a phone the table scrolls inside its
    pane, which a keyboard can focus, and the page stays as wide as the screen."""
    org = org_admin.org
    policy_services.default_policy_create(local_directory(org))
    page = new_page()
    page.set_viewport_size(PHONE)
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:policies", args=[org.org_id]))
    assert page.evaluate(PAGE_WIDER_THAN_SCREEN) <= 0

    pane = page.get_by_role("region", name="Policies of Local directory")
    assert pane.evaluate("(e) => e.scrollWidth - e.clientWidth") > 0  # it scrolls, so it is a region
    assert pane.get_attribute("tabindex") == "0"
    sso = pane.get_by_role("columnheader", name="Single sign-on")
    sso.scroll_into_view_if_needed()
    expect(sso).to_be_in_viewport()
    expect(pane.locator("tbody tr").first.locator("td").nth(2)).to_have_text("Optional")  # its cell
    assert page.evaluate(PAGE_WIDER_THAN_SCREEN) <= 0


def test_the_policies_table_shows_every_column_on_a_laptop(new_page, org_admin):
    """Beside the create and check forms, the six columns fit a 1280 px screen without scrolling."""
    org = org_admin.org
    default = policy_services.default_policy_create(local_directory(org))
    strict = policy_services.policy_create(
        org=org, actor=org_admin.account, directory_id=default.directory.directory_id, name="Contractors"
    )
    AuthenticationPolicy.objects.filter(pk=strict.pk).update(enforce_sso=True, two_step="mandatory")
    page = new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:policies", args=[org.org_id]))
    table = page.get_by_role("table", name="Policies of Local directory")
    expect(table.get_by_role("columnheader", name="Billing")).to_be_visible()
    expect(table.get_by_role("row", name="Contractors")).to_contain_text("Enforced")
    assert page.locator(".table-wrap").first.evaluate("(e) => e.scrollWidth - e.clientWidth") <= 0


def test_support_response_targets_show_every_column_on_a_laptop(new_page, org_admin):
    page = new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:support", args=[org_admin.org.org_id]))
    targets = page.get_by_role("region", name="Response targets")
    expect(targets.get_by_role("columnheader", name="Coverage")).to_be_visible()
    assert targets.evaluate("(e) => e.scrollWidth - e.clientWidth") <= 0  # nothing hidden off to the side


def test_on_a_phone_a_page_starts_with_its_content_and_menu_opens_the_navigation(new_page, org_admin):
    """The sidebar's 19 links came before every page's content on a phone."""
    org = org_admin.org
    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.set_viewport_size(PHONE)
    page.goto(reverse("console:domains", args=[org.org_id]))
    assert page.locator("main h1").bounding_box()["y"] < 250
    expect(page.locator(".sidebar")).to_be_hidden()
    menu = page.locator(".nav-menu summary")
    expect(menu).to_be_visible()
    expect(page.get_by_role("link", name="Users", exact=True)).to_be_hidden()
    menu.click()
    page.get_by_role("link", name="Users", exact=True).click()
    page.wait_for_url(f"**{reverse('console:users', args=[org.org_id])}")

    page.set_viewport_size({"width": 1280, "height": 900})
    expect(page.locator(".sidebar")).to_be_visible()
    expect(menu).to_be_hidden()
    expect(page.get_by_role("link", name="Domains", exact=True)).to_be_visible()


def test_on_a_phone_a_short_page_starts_with_its_content_too(new_page, org_admin):
    """The layout's minimum height went to the grid's rows: on a page shorter than the screen (a
    confirmation) the "Menu" row took the spare height, and the content began half-way down."""
    org = org_admin.org
    group = group_create(org=org, actor=org_admin.account, name="Writers")
    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.set_viewport_size(PHONE)
    page.goto(reverse("console:group_delete", args=[org.org_id, group.group_id]))
    expect(page.get_by_role("heading", name="Delete Writers?")).to_be_visible()
    assert page.locator("main h1").bounding_box()["y"] < 250


def test_on_a_phone_menu_reaches_every_account_settings_page(new_page, account):
    """The account pages' sidebar was hidden on a phone with no "Menu" in its place: from Profile, a
    person had no way to reach two-step verification, sessions or API tokens without typing URLs."""
    page = new_page()
    page.set_viewport_size(PHONE)
    browser.sign_in(page, account.email, PASSWORD)
    page.goto(reverse("accounts:account"))
    expect(page.locator(".sidebar")).to_be_hidden()
    menu = page.locator(".nav-menu summary")
    expect(menu).to_be_visible()
    for name, url_name in [
        ("Two-step verification", "accounts:two_step"),
        ("Security and sessions", "accounts:security"),
        ("API tokens", "tokens:account_tokens"),
    ]:
        page.locator(".nav-menu summary").click()
        page.locator(".nav-menu").get_by_role("link", name=name, exact=True).click()
        page.wait_for_url(f"**{reverse(url_name)}")
    assert page.evaluate(PAGE_WIDER_THAN_SCREEN) <= 0


# Whether all of an element is drawn on the screen: within the viewport, and neither cut nor hidden
# at its left and right ends (a pane that scrolls sideways clips what lies past its edge).
DRAWN_WHOLE = """(e) => { const r = e.getBoundingClientRect(), y = r.top + Math.min(r.height / 2, 8);
  const shows = (x) => { const hit = document.elementFromPoint(x, y); return !!hit && e.contains(hit); };
  const onScreen = r.left >= 0 && r.right <= document.documentElement.clientWidth;
  return onScreen && shows(r.left + 1) && shows(r.right - 1); }"""


def test_confirmations_in_tables_are_readable_on_a_phone(new_page, org_admin):
    """A confirmation opened in a table's row (merging a clashing synced group, removing an admin,
    revoking an API key) sat in the table's sideways-scrolling pane on a phone, its text cut at the
    pane's right edge. Opened, its text and its button are drawn whole on the screen."""
    from orgwarden.billing.tests.factories import SubscriptionFactory
    from orgwarden.orgs.models import Group
    from orgwarden.orgs.tests.factories import OrgAdminFactory
    from orgwarden.scim import services as scim_services
    from orgwarden.scim.tests.conftest import verified_domain
    from orgwarden.tokens import services as token_services

    org = org_admin.org
    verified_domain(org, "example.com")
    SubscriptionFactory(org=org)
    directory = sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta").directory
    Group.objects.create(org=org, name="Engineering")
    scim_services.scim_group_create(directory=directory, data={"displayName": "engineering"})
    OrgAdminFactory(org=org)
    token_services.api_key_create(org=org, actor=org_admin.account, name="Nightly export")
    page = new_page()
    page.set_viewport_size(PHONE)
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    for path, opener, says, confirm in [
        (
            reverse("console:provisioning", args=[org.org_id, directory.directory_id]),
            "Merge…",
            "members are replaced by the identity provider's at once",
            "Merge into Engineering",
        ),
        (
            reverse("console:admins", args=[org.org_id]),
            "Leave",
            "You stop being an admin of",
            f"Leave {org.name}",
        ),
        (
            reverse("console:api_keys", args=[org.org_id]),
            "Revoke",
            "stop working at once",
            "Revoke “Nightly export”",
        ),
    ]:
        page.goto(path)
        page.locator("details.confirm summary").filter(has_text=opener).click()
        text = page.get_by_text(says)
        button = page.get_by_role("button", name=confirm)
        for drawn in (text, button):
            expect(drawn).to_be_visible()
            assert drawn.evaluate(DRAWN_WHOLE), (path, drawn)
        assert page.evaluate(PAGE_WIDER_THAN_SCREEN) <= 0, path
