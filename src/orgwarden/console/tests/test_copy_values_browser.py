"""Values an admin pastes elsewhere, in a real browser: shown whole, with a Copy button.

A domain's TXT value, an identity provider's SP entity ID and ACS URL sat in one-line fields that
cut them off (the TXT value at about 40 of its 65 characters, on a laptop too), and nothing copied
them: an admin had to select a value they could not see the end of. Each is now drawn whole and has
a "Copy" button, reachable by keyboard, that says when it copied; so do the keys shown only once.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.orgs.services import domains as domain_services
from orgwarden.sso import services as sso_services
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Whether a field shows all of its value: nothing scrolled out of sight, either way.
SHOWN_WHOLE = "(e) => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight"


def signed_in(new_page, org_admin, width: int):
    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.set_viewport_size({"width": width, "height": 844})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


@pytest.mark.parametrize("width", [1280, 390])
def test_a_domains_proof_is_shown_whole_and_copied(new_page, org_admin, width):
    org = org_admin.org
    domain = domain_services.domain_add(org=org, actor=org_admin.account, name="acme-corporation.example")
    page = signed_in(new_page, org_admin, width)
    page.goto(reverse("console:domain", args=[org.org_id, domain.domain_id]))

    txt = page.get_by_label("TXT value")
    assert txt.input_value() == f"orgwarden-domain-verification={domain.token}"
    for label in ("TXT value", "File address", "File content"):
        assert page.get_by_label(label).evaluate(SHOWN_WHOLE), label

    copy = page.get_by_role("button", name="Copy TXT value")
    copy.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Copied TXT value")).to_be_visible()  # says it did
    expect(page.get_by_role("status").filter(has_text="TXT value copied")).to_have_count(1)
    assert page.evaluate("() => navigator.clipboard.readText()") == txt.input_value()
    page.get_by_role("button", name="Copy File address").click()
    assert page.evaluate("() => navigator.clipboard.readText()").endswith(
        "/orgwarden-domain-verification.html"
    )
    assert (
        page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        <= 0
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_an_identity_providers_urls_are_shown_whole_and_copied(new_page, org_admin, width):
    org = org_admin.org
    idp = sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta (employees)")
    page = signed_in(new_page, org_admin, width)
    page.goto(reverse("console:identity_provider", args=[org.org_id, idp.connection_id]))
    acs = page.get_by_label("Assertion consumer service (ACS) URL")
    assert acs.evaluate(SHOWN_WHOLE) and page.get_by_label("SP entity ID (Audience)").evaluate(SHOWN_WHOLE)
    page.get_by_role("button", name="Copy Assertion consumer service (ACS) URL").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == acs.input_value()


def test_an_api_key_shown_once_is_copied(new_page, org_admin):
    page = signed_in(new_page, org_admin, 1280)
    page.goto(reverse("console:api_keys", args=[org_admin.org.org_id]))
    page.get_by_label("Name").fill("Offboarding script")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-api-key").inner_text()
    page.get_by_role("button", name="Copy Key").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == key and key.startswith("owk_")


def test_only_values_with_a_name_get_a_copy_button(new_page, org_admin):
    """An authenticator's key on the two-step set-up page has no label to name a button after (a
    "Copy value" button says nothing), and is read into an app rather than pasted: it gets none."""
    page = signed_in(new_page, org_admin, 1280)
    page.goto(reverse("accounts:two_step_setup"))
    expect(page.locator("#totp-secret")).to_be_visible()
    expect(page.get_by_role("button", name="Copy")).to_have_count(0)
