"""The console on a phone, in a real browser: at 390 px wide no page is wider than the screen.

A table wider than the screen scrolls inside its own pane (``.table-wrap``); it must not widen the
page, which would push the top bar, the navigation and every form off to the side.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}

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
