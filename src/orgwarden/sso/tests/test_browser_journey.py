"""The SAML journey in a real browser, with a real IdP (pysaml2 behind HTTPS on loopback).

An admin adds an Okta identity provider, configures it (entity ID, SSO URL, certificate), links the
verified domain, tests the connection (the received attributes are shown, nobody is signed in),
then enforces SSO in its default policy and starts the 30-day free trial from the Security page's
banner (SSO is enforced only under the security subscription). A new person on the domain is sent
to the IdP from the email-first sign-in and comes back with an account created just in time;
signing in again, the now-member is sent to the IdP and back.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import Domain, OrgUser
from orgwarden.orgs.tests.factories import OrgAdminFactory, OrganizationFactory
from orgwarden.sso.models import SamlConnection
from orgwarden.sso.selectors import default_policy
from orgwarden.sso.tests.idp import IDP_ENTITY_ID, IdpHttpsServer, make_key_pair

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
URN = "urn:mace:dir:attribute-def:"


@pytest.fixture
def idp_server():
    server = IdpHttpsServer(make_key_pair())
    yield server
    server.stop()


def idp_browser(chromium_browser, live_server):
    """A person's browser: the test IdP's certificate comes from a throw-away CA."""
    context = chromium_browser.new_context(base_url=live_server.url, ignore_https_errors=True)
    context.set_default_timeout(10_000)
    return context


def enter_email(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()


def test_connect_test_enforce_jit_and_member_sign_in(
    new_page, chromium_browser, live_server, settings, idp_server
):
    settings.BASE_URL = live_server.url
    org = OrganizationFactory(name="Acme Corp")
    OrgAdminFactory(org=org, account=AccountFactory(email="ann@acme.test", display_name="Ann Admin"))
    Domain.objects.create(
        org=org, name="acme.test", token="t" * 32, status=Domain.Status.VERIFIED, method=Domain.Method.DNS,
        claim=Domain.Claim.AUTOMATIC, verified_at=timezone.now(),
    )  # fmt: skip

    ann = new_page()
    enter_email(ann, "ann@acme.test")
    ann.get_by_label("Password").fill(PASSWORD)
    ann.get_by_role("button", name="Sign in").click()
    expect(ann.get_by_role("heading", name="Acme Corp", level=1)).to_be_visible()

    # Add the identity provider: its directory and default policy come with it.
    ann.get_by_role("link", name="Identity providers").click()
    ann.get_by_label("Identity provider").select_option("okta")
    ann.get_by_label("Name", exact=True).fill("Acme Okta")
    ann.get_by_role("button", name="Add identity provider").click()
    expect(ann.get_by_text("Acme Okta added.")).to_be_visible()
    connection = SamlConnection.objects.get()
    sp_entity_id = ann.locator("#sp-entity").input_value()
    acs_url = ann.locator("#sp-acs").input_value()
    assert sp_entity_id == f"{live_server.url}/saml/{connection.connection_id}"
    idp_server.serve(sp_entity_id=sp_entity_id, acs_url=acs_url)

    # Configure SAML: entity ID, SSO URL, attribute names (pysaml2's), and the certificate.
    ann.get_by_label("IdP entity ID (Issuer)").fill(IDP_ENTITY_ID)
    ann.get_by_label("IdP single sign-on URL").fill(idp_server.sso_url)
    ann.get_by_label("First name attribute").fill(URN + "givenName")
    ann.get_by_label("Last name attribute").fill(URN + "sn")
    ann.get_by_label("Stable user ID attribute").fill(URN + "uid")
    ann.get_by_role("button", name="Save configuration").click()
    expect(ann.get_by_text("SAML configuration saved.")).to_be_visible()
    ann.get_by_label("Signing certificate (PEM)").fill(idp_server.keys.cert_pem)
    ann.get_by_role("button", name="Add certificate").click()
    expect(ann.get_by_text("Certificate added.")).to_be_visible()
    ann.get_by_label("Verified domain").select_option(label="acme.test")
    ann.get_by_role("button", name="Link domain").click()
    expect(ann.get_by_text("acme.test now signs in through Acme Okta.")).to_be_visible()

    # Test single sign-on: the IdP (signed in as Ada) answers; the attributes are shown.
    idp_server.user = "ada@acme.test"
    tester = idp_browser(chromium_browser, live_server)
    admin_page = tester.new_page()
    tester.add_cookies(ann.context.cookies())
    admin_page.goto(ann.url)
    admin_page.get_by_role("button", name="Test single sign-on").click()
    admin_page.get_by_role("button", name="Continue as ada@acme.test").click()
    expect(admin_page.get_by_role("heading", name="Single sign-on works")).to_be_visible()
    expect(admin_page.get_by_role("definition").filter(has_text="00u-ada")).to_be_visible()
    # Ada has no account and SSO is not enforced yet: the page says a real sign-in would be refused.
    expect(admin_page.get_by_role("alert")).to_contain_text("would be refused (no_account)")
    assert AuditEvent.objects.filter(action="org:idp:tested", details__outcome="ok").exists()
    assert not Account.objects.filter(email="ada@acme.test").exists()

    # Enforce SSO in the IdP directory's default policy (the Policies page).
    policy = default_policy(connection)
    ann.goto(f"/admin/o/{org.org_id}/policies/{policy.policy_id}/")
    ann.get_by_label("Enforce single sign-on").check()
    ann.get_by_role("button", name="Save settings").click()
    policy.refresh_from_db()
    assert policy.enforce_sso
    # Saved, but not enforced before the security subscription starts: the Security page says so
    # and starts the free trial right there (the domain is verified), coming back to this page.
    banner = ann.locator("#security-subscription")
    expect(banner).to_contain_text("Not enforced")
    banner.get_by_role("button", name="Start your 30-day free trial").click()
    expect(ann.get_by_text("Your 30-day free trial has started")).to_be_visible()
    expect(ann.locator("#security-subscription")).to_contain_text("free trial, 30 days left")
    assert ann.url.endswith(f"/policies/{policy.policy_id}/")
    assert AuditEvent.objects.filter(action="org:subscription:trial_started").count() == 1

    # A new person: email-first sign-in sends her to the IdP; she comes back with a new account.
    nina_context = idp_browser(chromium_browser, live_server)
    nina = nina_context.new_page()
    idp_server.user = "nina@acme.test"
    enter_email(nina, "nina@acme.test")
    nina.get_by_role("button", name="Continue as nina@acme.test").click()
    nina.get_by_role("button", name="Continue").click()  # "your account is managed by Acme Corp"
    account = Account.objects.get(email="nina@acme.test")
    assert OrgUser.objects.get(account=account).directory == connection.directory
    assert AuditEvent.objects.filter(action="account:created_jit").exists()
    expect(nina.get_by_role("link", name="Ada Lovelace")).to_be_visible()  # the IdP's name for her

    # Signed out, she signs in again: straight to the IdP, never a password page.
    nina_context.clear_cookies()
    enter_email(nina, "nina@acme.test")
    expect(nina.get_by_role("heading", name="Test IdP")).to_be_visible()
    nina.get_by_role("button", name="Continue as nina@acme.test").click()
    expect(nina.get_by_role("link", name="Ada Lovelace")).to_be_visible()  # the IdP's name for her
    signins = AuditEvent.objects.filter(action="account:signin:succeeded")
    sso_signins = signins.filter(details__method__startswith="sso")
    assert sso_signins.count() == 2
    tester.close()
    nina_context.close()
