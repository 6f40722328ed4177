"""The help-center journeys in a real browser, with a real customer IdP (pysaml2 behind HTTPS).

A customer signs up with a password and lands in the portal signed in. The admin then connects the
help center's own IdP from the console (entity ID, SSO URL, certificate), runs "Test single
sign-on" (nobody is signed in), and turns SSO on. A customer who opens the help center continues
with single sign-on and lands signed in, created at first sign-in; another arrives from an intranet
link already signed in at the IdP (IdP-initiated) and lands signed in with no login screen.
"""

from __future__ import annotations

import html

import pytest
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.helpcenter.models import Customer
from orgwarden.orgs.services.access import site_add
from orgwarden.orgs.tests.factories import OrgAdminFactory, OrganizationFactory
from orgwarden.sso.tests.idp import IDP_ENTITY_ID, IdpHttpsServer, make_key_pair
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def idp_server():
    server = IdpHttpsServer(make_key_pair("customers-idp.example.test"))
    yield server
    server.stop()


def browser_context(chromium_browser, live_server):
    context = chromium_browser.new_context(base_url=live_server.url, ignore_https_errors=True)
    context.set_default_timeout(10_000)
    return context


def test_password_then_sso_both_directions(new_page, chromium_browser, live_server, settings, idp_server):
    settings.BASE_URL = live_server.url
    org = OrganizationFactory(name="Acme Corp")
    admin = AccountFactory(email="ann@acme.test", display_name="Ann Admin")
    OrgAdminFactory(org=org, account=admin)
    site = site_add(
        org=org,
        actor=admin,
        product="jira-service-management",
        name="Acme Support",
        url="https://support.acme.test",
    )
    portal = f"/helpcenter/{site.site_id}/"

    # A customer signs up with a password: signed in to the portal, and no account exists for her.
    pat = new_page()
    pat.goto(portal)
    pat.get_by_role("link", name="Create an account").click()
    pat.get_by_label("Your name").fill("Pat Customer")
    pat.get_by_label("Email").fill("pat@customer.test")
    pat.get_by_label("Password").fill("correct horse battery staple 42")
    pat.get_by_role("button", name="Sign up").click()
    expect(pat.locator("#signed-in-as")).to_contain_text("Pat Customer")
    expect(pat.get_by_role("link", name="Raise a request")).to_be_visible()

    # The admin connects the help center's IdP in the console.
    ann = new_page()
    browser.sign_in(ann, "ann@acme.test", PASSWORD)
    ann.get_by_role("link", name="Help centers").click()
    ann.get_by_role("link", name="Acme Support").click()
    expect(ann.get_by_role("cell", name="Pat Customer pat@customer.test")).to_be_visible()
    sp_entity_id = ann.locator("#sp-entity").input_value()
    acs_url = ann.locator("#sp-acs").input_value()
    assert acs_url == f"{live_server.url}/helpcenter/{site.site_id}/saml/acs"
    idp_server.serve(sp_entity_id=sp_entity_id, acs_url=acs_url)
    ann.get_by_label("IdP entity ID (Issuer)").fill(IDP_ENTITY_ID)
    ann.get_by_label("IdP single sign-on URL").fill(idp_server.sso_url)
    ann.get_by_role("button", name="Save identity provider").click()
    expect(ann.get_by_text("Identity provider saved.")).to_be_visible()
    ann.get_by_label("Signing certificate (PEM)").fill(idp_server.keys.cert_pem)
    ann.get_by_role("button", name="Add certificate").click()
    expect(ann.get_by_text("Certificate added.")).to_be_visible()

    # SSO can't be turned on before a test.
    ann.get_by_label("Single sign-on through the help center's identity provider").check()
    ann.get_by_role("button", name="Save authentication").click()
    expect(ann.get_by_text("before turning SSO on")).to_be_visible()

    # "Test single sign-on" (in a context that trusts the IdP's throw-away CA).
    idp_server.user = "tester@customer.test"
    tester = browser_context(chromium_browser, live_server)
    admin_page = tester.new_page()
    tester.add_cookies(ann.context.cookies())
    admin_page.goto(f"/admin/o/{org.org_id}/help-centers/{site.site_id}/")
    admin_page.get_by_role("button", name="Test single sign-on").click()
    admin_page.get_by_role("button", name="Continue as tester@customer.test").click()
    expect(admin_page.get_by_role("heading", name="Single sign-on works")).to_be_visible()
    assert not Customer.objects.filter(email="tester@customer.test").exists()

    ann.goto(f"/admin/o/{org.org_id}/help-centers/{site.site_id}/")
    ann.get_by_label("Single sign-on through the help center's identity provider").check()
    ann.get_by_role("button", name="Save authentication").click()
    expect(ann.get_by_text("Authentication saved.")).to_be_visible()

    # SP-initiated: a new customer opens the help center and continues with single sign-on.
    cleo_context = browser_context(chromium_browser, live_server)
    cleo = cleo_context.new_page()
    idp_server.user = "cleo@customer.test"
    cleo.goto(portal)
    cleo.get_by_role("link", name="Continue with single sign-on").click()
    cleo.get_by_role("button", name="Continue as cleo@customer.test").click()
    expect(cleo.locator("#signed-in-as")).to_contain_text("cleo@customer.test")
    assert Customer.objects.get(email="cleo@customer.test").password == ""

    # IdP-initiated: a link on the intranet posts the IdP's response; no login screen.
    dan_context = browser_context(chromium_browser, live_server)
    dan = dan_context.new_page()
    saml_response = idp_server.idp.response(
        sp_entity_id=sp_entity_id, acs_url=acs_url, email="dan@customer.test"
    )
    dan.set_content(
        f'<form method="post" action="{html.escape(acs_url)}">'
        f'<input type="hidden" name="SAMLResponse" value="{saml_response}">'
        '<button type="submit">Open the help center</button></form>'
    )
    dan.get_by_role("button", name="Open the help center").click()
    expect(dan.locator("#signed-in-as")).to_contain_text("dan@customer.test")
    assert dan.url == f"{live_server.url}{portal}"
    signed_in = AuditEvent.objects.filter(action="helpcenter:customer:signed_in", details__method="sso")
    assert signed_in.count() == 2 and all(e.org_id == org.org_id for e in signed_in)
    tester.close()
    cleo_context.close()
    dan_context.close()
