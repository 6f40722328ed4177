"""Form fields in a real browser: every kind of field looks like a field.

A URL field (an identity provider's single sign-on URL) and a number field (billing's "what would
this many users cost?") get the same box as a text field — not the browser's bare default, a
narrow box without the console's padding and border. Fields one under another, and the button
under the last one, have room between them, in a form or as values to copy on a card; so do the
sections of a page. A page's headline figures (billing's billable users and monthly estimate) are
drawn large. A filter shows its whole choice and hint ("Managed and external", "Name or start of
email") on a laptop's screen.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.orgs.services.domains import domain_add
from orgwarden.sso import services as sso_services
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BOX = """(e) => { const s = getComputedStyle(e);
  return {padding: s.paddingLeft, radius: s.borderTopLeftRadius,
          border: s.borderTopColor, font: s.fontSize}; }"""


def test_url_and_number_fields_are_drawn_like_text_fields(new_page, org_admin):
    org = org_admin.org
    idp = sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)

    page.goto(reverse("console:identity_provider", args=[org.org_id, idp.connection_id]))
    sso_url = page.get_by_label("IdP single sign-on URL")
    entity_id = page.get_by_label("IdP entity ID (Issuer)")
    assert sso_url.get_attribute("type") == "url"
    text_box = entity_id.evaluate(BOX)
    assert sso_url.evaluate(BOX) == text_box
    assert sso_url.bounding_box()["width"] == entity_id.bounding_box()["width"]

    page.goto(reverse("console:billing", args=[org.org_id]))
    users = page.get_by_label("What would this many users cost?")
    assert users.get_attribute("type") == "number"
    assert users.evaluate(BOX) == text_box
    assert users.bounding_box()["width"] >= 150


SIDE_BY_SIDE = ("Raise a request", "Response targets")


def gap_above(page, label: str) -> float:
    """Pixels between the field, button, or section (a card, by its heading) named ``label`` and the
    element just above it."""
    return page.evaluate(
        """(label) => {
        const named = [...document.querySelectorAll('main label, main button, main h2')]
          .find((e) => e.textContent.trim() === label);
        const box = {LABEL: () => named.closest('.inline-form') || named.closest('.field'),
          H2: () => named.closest('.card') || named}[named.tagName]?.() || named;
        const above = box.previousElementSibling.getBoundingClientRect();
        return box.getBoundingClientRect().top - above.bottom; }""",
        label,
    )


def test_stacked_fields_and_their_button_have_room_between_them(new_page, org_admin):
    org = org_admin.org
    idp = sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    domain = domain_add(org=org, actor=org_admin.account, name="acme.test")
    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)

    page.goto(reverse("console:support", args=[org.org_id]))
    for label in ("Summary", "Description", "Raise request", "Your requests"):
        assert gap_above(page, label) >= 8, label
    note = page.get_by_text("Business hours are")  # under the table of response targets
    assert (
        note.evaluate(
            "(e) => e.getBoundingClientRect().top - e.previousElementSibling.getBoundingClientRect().bottom"
        )
        >= 8
    )
    cards = [page.locator(".card", has=page.get_by_role("heading", name=name)) for name in SIDE_BY_SIDE]
    assert cards[0].bounding_box()["y"] == cards[1].bounding_box()["y"]  # the tops line up
    page.get_by_label("Summary").fill("SAML sign-in fails")
    page.get_by_label("Description").fill("Since 9:00.")
    page.get_by_role("button", name="Raise request").click()
    page.wait_for_url("**/support/*/")
    page.wait_for_load_state()  # its stylesheet applied
    assert gap_above(page, "Send") >= 8
    assert gap_above(page, "Conversation") >= 8

    page.goto(reverse("console:identity_provider", args=[org.org_id, idp.connection_id]))
    assert gap_above(page, "Assertion consumer service (ACS) URL") >= 8
    page.goto(reverse("console:domain", args=[org.org_id, domain.domain_id]))
    assert gap_above(page, "File content") >= 8


def test_billing_headline_figures_stand_out_and_the_calculator_has_room(new_page, org_admin):
    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:billing", args=[org_admin.org.org_id]))

    body_size = float(page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)"))
    for figure in (page.locator("#billable-count"), page.locator("#estimate .big-number")):
        assert float(figure.evaluate("(e) => parseFloat(getComputedStyle(e).fontSize)")) >= 1.5 * body_size
    assert gap_above(page, "What would this many users cost?") >= 8


# The filters whose chosen option (a select) or hint (an empty field) is wider than the field.
CUT_OFF = """() => [...document.querySelectorAll('main .filters input, main .filters select')].map((e) => {
  const pen = document.createElement('canvas').getContext('2d');
  const s = getComputedStyle(e); pen.font = s.font;
  const text = e.tagName === 'SELECT' ? e.options[e.selectedIndex].text : (e.value || e.placeholder);
  const arrow = e.tagName === 'SELECT' ? 20 : 0;
  const room = e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight) - arrow;
  return pen.measureText(text).width > room ? `${e.name}: ${text}` : null; }).filter(Boolean)"""


def test_filters_show_their_whole_choice_on_a_laptop(new_page, org_admin):
    page = new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    for name in ("console:users", "console:managed_accounts", "console:audit_log"):
        page.goto(reverse(name, args=[org_admin.org.org_id]))
        assert page.evaluate(CUT_OFF) == [], name
