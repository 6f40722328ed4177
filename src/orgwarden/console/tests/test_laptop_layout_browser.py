"""The console on a laptop (1280 px), in a real browser: pages use the width they have.

Two cards side by side (a user's Profile and Account, an identity provider's details and its
attribute names, Billing's billable users and estimate) took a third of the width each, beside an
empty third column: a user's account id broke over three lines, an IdP's URLs were cut.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.services import Actor
from orgwarden.orgs.services.claims import account_claim
from orgwarden.scim.tests.conftest import verified_domain
from orgwarden.sso import services as sso_services
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
# The lines a piece of text is drawn on.
LINES = """(e) => { const range = document.createRange(); range.selectNodeContents(e);
  const drawn = [...range.getClientRects()].filter((r) => r.width > 1);
  return new Set(drawn.map((r) => Math.round(r.top))).size; }"""
# How much of a grid's width its cards leave empty at the right.
EMPTY_RIGHT = """(grid) => {
  const right = Math.max(...[...grid.children].map((card) => card.getBoundingClientRect().right));
  return grid.getBoundingClientRect().right - right; }"""


def test_two_cards_share_the_row(new_page, org_admin):
    org = org_admin.org
    domain = verified_domain(org, "acme.example")
    person = AccountFactory(email="pat@acme.example", display_name="Pat Lee")
    account_claim(org=org, account=person, domain=domain, actor=Actor.system())
    idp = sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta (employees)")
    page = new_page()
    page.set_viewport_size(LAPTOP)
    browser.sign_in(page, org_admin.account.email, PASSWORD)

    page.goto(reverse("console:user_detail", args=[org.org_id, person.account_id]))
    assert page.locator(".users-detail").evaluate(EMPTY_RIGHT) < 2
    assert page.locator(".users-detail dd.mono").evaluate(LINES) == 1  # the account id

    for path in (
        reverse("console:identity_provider", args=[org.org_id, idp.connection_id]),
        reverse("console:billing", args=[org.org_id]),
    ):
        page.goto(path)
        assert page.locator("main .grid").first.evaluate(EMPTY_RIGHT) < 2, path


# Where a paragraph's link ends and where the full stop after it is drawn (left, top of each).
LINK_AND_STOP = """(p) => {
  const link = p.querySelector("a"), last = p.lastChild, range = document.createRange();
  range.setStart(last, last.length - 1); range.setEnd(last, last.length);
  const end = [...link.getClientRects()].at(-1), stop = range.getBoundingClientRect();
  return [end.right, end.top, stop.left, stop.top]; }"""


def test_a_group_without_access_says_so_in_one_sentence(new_page, org_admin):
    """The sentence sat in a list row laid out as a flex line: its words, its link and its full
    stop became three columns, the link wrapped beside the text and the stop at the far right."""
    from orgwarden.orgs.services.access import group_create

    org = org_admin.org
    group = group_create(org=org, actor=org_admin.account, name="Writers")
    page = new_page()
    page.set_viewport_size(LAPTOP)
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:group", args=[org.org_id, group.group_id]))
    sentence = page.get_by_text("No product access. Grant it from a product site's page, in Product sites.")
    link_right, link_top, stop_left, stop_top = sentence.evaluate(LINK_AND_STOP)
    assert abs(stop_left - link_right) < 2 and abs(stop_top - link_top) < 2


# The space drawn between a button's first piece of visible text and its last (its "…").
ELLIPSIS_GAP = """(button) => {
  const texts = [...button.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  const box = (node) => {
    const range = document.createRange();
    range.selectNodeContents(node);
    return range.getBoundingClientRect(); };
  return box(texts.at(-1)).left - box(texts[0]).right; }"""


def test_an_ellipsis_follows_its_word(new_page, org_admin):
    """ "Revoke …", "Remove access …": a button whose name goes on in hidden text for screen readers
    had its ellipsis set apart by the button's flex gap."""
    from orgwarden.orgs.services import access

    org = org_admin.org
    site = access.site_add(
        org=org, actor=org_admin.account, product="confluence", name="Wiki", url="https://w.example"
    )
    group = access.group_create(org=org, actor=org_admin.account, name="Writers")
    access.access_grant(
        org=org, actor=org_admin.account, site_id=site.site_id, group_id=group.group_id, role="user"
    )
    page = new_page()
    page.set_viewport_size(LAPTOP)
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:product_site", args=[org.org_id, site.site_id]))
    revoke = page.get_by_role("link", name="Revoke access of Writers")
    assert revoke.evaluate(ELLIPSIS_GAP) < 1


@pytest.mark.parametrize("width", [1280, 390])
def test_a_checkbox_sits_before_its_label(new_page, org_admin, width):
    """The forms drawn by the shared form layout (an IdP's and a help center's SAML settings) put a
    checkbox on a line of its own under a bold label, unlike the policy page's checkboxes."""
    org = org_admin.org
    idp = sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta (employees)")
    page = new_page()
    page.set_viewport_size({"width": width, "height": 844})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:identity_provider", args=[org.org_id, idp.connection_id]))
    for name in ("Allow sign-in started at the identity provider", "Accept SHA-1 signatures"):
        box = page.get_by_role("checkbox", name=name)
        label = page.locator(f"label[for='{box.get_attribute('id')}']")
        box_at, label_at = box.bounding_box(), label.bounding_box()
        assert box_at["x"] + box_at["width"] <= label_at["x"], name  # the box comes first …
        assert label_at["y"] <= box_at["y"] + box_at["height"] / 2 <= label_at["y"] + label_at["height"], name


# The width of the text an element holds (not of its box).
TEXT_WIDTH = """(e) => { const range = document.createRange(); range.selectNodeContents(e);
  return range.getBoundingClientRect().width; }"""


@pytest.mark.parametrize("width", [1280, 390])
def test_insights_apply_is_as_wide_as_its_word(new_page, org_admin, width):
    """Insights' one checkbox and its Apply button sat in the filters' grid of 200-pixel columns:
    the button was stretched to a column's width, far wider than its word."""
    org = org_admin.org
    page = new_page()
    page.set_viewport_size({"width": width, "height": 844})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:insights", args=[org.org_id]))
    box = page.get_by_role("checkbox", name="Include deactivated accounts")
    apply = page.get_by_role("button", name="Apply")
    word = apply.evaluate(TEXT_WIDTH)
    assert apply.bounding_box()["width"] < word + 40  # its padding, not a column
    label_at = box.evaluate(
        "(b) => { const r = b.labels[0].getBoundingClientRect(); return {x: r.x, width: r.width}; }"
    )
    box_at, apply_at = box.bounding_box(), apply.bounding_box()
    assert box_at["x"] + box_at["width"] <= label_at["x"]  # the box, then its label …
    assert label_at["x"] + label_at["width"] <= apply_at["x"]  # … then the button, on one line
    assert abs((box_at["y"] + box_at["height"] / 2) - (apply_at["y"] + apply_at["height"] / 2)) < 4
    # Applying it keeps its meaning: the box stays ticked and the page says so.
    box.check()
    apply.click()
    page.wait_for_url("**deactivated=include**")
    assert page.get_by_role("checkbox", name="Include deactivated accounts").is_checked()
