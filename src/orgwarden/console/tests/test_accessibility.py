"""Accessibility guards, in a real browser, for what an axe-core audit of every page found.

Not axe itself (no npm at test time): the browser's own accessibility tree, through Playwright's
``to_have_accessible_name`` / ``to_have_accessible_description``, and computed styles.

- every form control on the key pages has an accessible name;
- a field with an error is ``aria-invalid`` and its error is part of its accessible description
  (Django points ``aria-describedby`` at ``<id>_error`` and ``<id>_helptext``: the templates must
  render elements with those ids), help text too;
- the skip link is the first stop and moves focus to ``main``;
- focus rings are drawn, with 3:1 contrast against white (WCAG 1.4.11), on links, buttons and
  fields (date fields included, whose focus sits in the browser's shadow tree);
- form fields' edges have 3:1 contrast, and links inside running text are underlined;
- Escape closes the organization switcher and gives focus back to its toggle.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UNNAMED_CONTROLS = """() => [...document.querySelectorAll(
    'input:not([type=hidden]):not([type=submit]), select, textarea, button, a[href], [tabindex="0"]')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim()
    && !(e.getAttribute('aria-labelledby') || '').split(/\\s+/).some(id => id && document.getElementById(id)))
  .map(e => e.outerHTML.slice(0, 120))"""

STYLE = """(e) => { const s = getComputedStyle(e);
  return {style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor,
          border: s.borderTopColor, underline: s.textDecorationLine}; }"""


def contrast(rgb: str, against: tuple[int, int, int] = (255, 255, 255)) -> float:
    def luminance(channels) -> float:
        srgb = [c / 255 for c in channels]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in srgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    a, b = luminance([int(n) for n in re.findall(r"\d+", rgb)[:3]]), luminance(against)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def assert_every_control_named(page) -> None:
    assert page.evaluate(UNNAMED_CONTROLS) == [], page.url


def assert_focus_ring(page, what: str) -> None:
    style = page.evaluate(f"() => ({STYLE})(document.activeElement)")
    assert style["style"] != "none" and style["width"] >= 2, (what, style)
    assert contrast(style["color"]) >= 3, (what, style)


def test_names_errors_skip_link_and_focus(new_page, org_admin):
    org = org_admin.org
    page = new_page()

    # Sign-up with nothing filled in: every field named, invalid, and described by its error.
    page.goto("/signup")
    assert_every_control_named(page)
    page.get_by_role("button", name="Sign up").click()
    for label in ("Email", "Password"):
        field = page.get_by_label(label, exact=True)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description(re.compile("required", re.I))
    assert_every_control_named(page)

    browser.sign_in(page, org_admin.account.email, PASSWORD)
    base = f"/admin/o/{org.org_id}/"

    # The skip link is the first Tab stop, visibly focused, and takes focus to the page's main.
    page.goto(base)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    assert_focus_ring(page, "skip link")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    assert_focus_ring(page, "first link in main")

    # Help text describes its field (Django's <id>_helptext); errors join it after a bad submit.
    page.goto(base + "identity-providers/")
    assert_every_control_named(page)
    name = page.locator("#id_name")
    expect(name).to_have_accessible_description(re.compile(r"\w"))
    page.get_by_role("button", name="Add identity provider").click()
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description(re.compile("required", re.I))

    # A form whose widget names its own description element: the error goes inside it.
    page.goto(base + "api-keys/")
    assert_every_control_named(page)
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#id_name")).to_have_accessible_description(re.compile("required|name", re.I))

    # Links in running text are underlined, not told apart by colour alone.
    in_text = page.locator("main p a:not(.button)").first
    assert "underline" in in_text.evaluate(STYLE)["underline"]

    # Focus rings on a field, a button, and a date field; field edges at 3:1.
    page.goto(base + "groups/")
    assert_every_control_named(page)
    field = page.locator("main form[method=post] input[type=text]").first
    assert contrast(field.evaluate(STYLE)["border"]) >= 3
    field.focus()
    assert_focus_ring(page, "text field")
    for _ in range(3):  # past the group's description, to its button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "BUTTON":
            break
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    assert_focus_ring(page, "button")

    page.goto(base + "audit-log/")
    assert_every_control_named(page)
    page.locator("#id_date_from").focus()
    for _ in range(4):  # day, month, year, then the calendar button inside the browser's shadow tree
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") != "id_date_from":
            break
        assert_focus_ring(page, "date field")
    expect(page.locator("#id_date_from")).to_have_accessible_description("UTC")


def test_escape_closes_the_org_switcher_and_returns_focus_to_its_toggle(new_page, org_admin):
    """WAI-ARIA's disclosure pattern: Escape closes the open switcher, from its toggle or from a
    link inside it, and focus goes back to the toggle (not to the page's start)."""
    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(f"/admin/o/{org_admin.org.org_id}/")

    switcher = page.locator("details.org-switcher")
    toggle = switcher.locator("summary")
    create = switcher.get_by_role("link", name="+ Create organization")

    # Focus inside the menu: open it with the keyboard, Tab to a link in it, press Escape.
    toggle.focus()
    page.keyboard.press("Enter")
    expect(switcher).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    expect(switcher.get_by_role("link").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(switcher).not_to_have_attribute("open", "")
    expect(create).to_be_hidden()
    expect(toggle).to_be_focused()

    # Focus on the toggle itself: Space opens, Escape closes, focus stays on the toggle.
    page.keyboard.press("Space")
    expect(switcher).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(switcher).not_to_have_attribute("open", "")
    expect(toggle).to_be_focused()
