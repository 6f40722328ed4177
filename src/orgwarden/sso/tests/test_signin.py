"""Sign-in routing: the email-first flow sends people whose IdP enforces SSO to it (step ``sso``),
and brings them back signed in; break-glass admins and unmanaged accounts keep their password."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.orgs.models import OrgAdmin, OrgUser
from orgwarden.policies.models import BreakGlassAdmin
from orgwarden.sso.tests.conftest import enforce_sso
from orgwarden.sso.tests.idp import IDP_SSO_URL

pytestmark = pytest.mark.django_db


def managed_in_idp(connection, email: str):
    account = AccountFactory(email=email)
    OrgUser.objects.create(
        org=connection.org, account=account, email=email, is_managed=True, directory=connection.directory
    )
    return account


def continue_url(response) -> str:
    """The page that takes the person on to the IdP (meta refresh and a link), and its target."""
    assert response.status_code == 200
    html = response.content.decode()
    href = re.search(r'href="([^"]+)" id="sso-continue"', html).group(1)
    assert f'content="0;url={href}"' in html
    url = unescape(href)
    return url


def enter_email(client: Client, email: str, next_url: str = "") -> str:
    data = {"email": email}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("accounts:login"), data)["Location"]


def test_new_person_on_a_linked_domain_goes_to_the_idp(connection):
    enforce_sso(connection)
    client = Client()
    assert enter_email(client, "new@example.com") == "/login/step/sso"
    login_url = continue_url(client.get("/login/step/sso"))
    assert login_url.startswith(reverse("sso:login", args=[connection.connection_id]))
    assert client.get(login_url)["Location"].startswith(IDP_SSO_URL)


def test_member_goes_to_the_idp_and_comes_back_signed_in(connection, idp):
    enforce_sso(connection)
    account = managed_in_idp(connection, "ada@example.com")
    OrgUser.objects.filter(account=account).update(managed_notice_seen_at="2026-01-01T00:00:00Z")
    client = Client()
    assert enter_email(client, "ada@example.com", next_url="/account/security/") == "/login/step/sso"
    start = continue_url(client.get("/login/step/sso"))
    idp_url = client.get(start)["Location"]
    request_id, acs_url, relay_state = idp.parse_redirect(idp_url)
    saml_response = idp.response(
        sp_entity_id=f"http://testserver/saml/{connection.connection_id}",
        acs_url=acs_url,
        email="ada@example.com",
        in_response_to=request_id,
    )
    response = client.post(
        acs_url.replace("http://testserver", ""), {"SAMLResponse": saml_response, "RelayState": relay_state}
    )
    assert response.status_code == 302 and response["Location"] == "/account/security/"
    assert client.session["_auth_user_id"] == str(account.pk)


def test_member_cannot_use_the_password_step(connection, password):
    enforce_sso(connection)
    managed_in_idp(connection, "ada@example.com")
    client = Client()
    enter_email(client, "ada@example.com")
    # Asking for the password step directly lands on the step the flow requires.
    response = client.post("/login/step/password", {"password": password})
    assert response["Location"] == "/login/step/sso"
    assert "_auth_user_id" not in client.session


def test_break_glass_admin_keeps_the_password(connection):
    enforce_sso(connection)
    account = managed_in_idp(connection, "admin@example.com")
    OrgAdmin.objects.create(org=connection.org, account=account)
    BreakGlassAdmin.objects.create(org=connection.org, account=account)
    assert enter_email(Client(), "admin@example.com") == "/login/step/password"


def test_break_glass_in_an_org_of_ones_own_does_not_escape_the_managing_orgs_sso(connection, password):
    """Anyone can create an organization and make themselves its break-glass admin; that used to
    exempt them from every org's enforced SSO, their managing org's included."""
    from orgwarden.oidc.checks import sso_connection_to_prove
    from orgwarden.orgs.models import Organization

    enforce_sso(connection)
    ada = managed_in_idp(connection, "ada@example.com")
    OrgUser.objects.filter(account=ada).update(managed_notice_seen_at="2026-01-01T00:00:00Z")
    console = Client()
    console.force_login(ada)  # signed in through the IdP
    assert console.post("/admin/new", {"name": "Ada's own org"}).status_code == 302
    own = Organization.objects.get(name="Ada's own org")
    response = console.post(f"/admin/o/{own.org_id}/policies/break-glass", {"account_id": ada.account_id})
    assert response.status_code == 302 and BreakGlassAdmin.objects.filter(org=own, account=ada).exists()

    client = Client()
    assert enter_email(client, "ada@example.com") == "/login/step/sso"
    assert client.post("/login/step/password", {"password": password})["Location"] == "/login/step/sso"
    assert "_auth_user_id" not in client.session
    assert sso_connection_to_prove(account=ada, proofs=frozenset({"password"})) == connection


def test_unmanaged_account_and_unenforced_policy_keep_the_password(connection):
    AccountFactory(email="free@example.com")
    enforce_sso(connection)
    assert enter_email(Client(), "free@example.com") == "/login/step/password"
    connection.directory.policies.update(enforce_sso=False)
    managed_in_idp(connection, "ada@example.com")
    assert enter_email(Client(), "ada@example.com") == "/login/step/password"
    assert enter_email(Client(), "new@example.com") == "/login/step/password"


def test_unlinked_domain_keeps_the_password(connection):
    enforce_sso(connection)
    assert enter_email(Client(), "someone@elsewhere.com") == "/login/step/password"


def test_after_sso_two_step_and_password_expiry_are_the_idps_job(connection, idp):
    """A member with orgwarden 2SV on, under a policy that makes it mandatory and expires passwords,
    signing in through the IdP is not asked for a code or a new password here."""
    policy = enforce_sso(connection)
    policy.two_step = "mandatory"
    policy.password_expiry_days = 30
    policy.save()
    account = managed_in_idp(connection, "ada@example.com")
    account.totp_secret, account.totp_last_step = "not-used", 0
    account.totp_enabled_at = account.created_at
    account.password_changed_at = account.created_at.replace(year=2020)
    account.save()
    OrgUser.objects.filter(account=account).update(managed_notice_seen_at="2026-01-01T00:00:00Z")
    client = Client()
    enter_email(client, "ada@example.com")
    idp_url = client.get(continue_url(client.get("/login/step/sso")))["Location"]
    request_id, acs_url, relay_state = idp.parse_redirect(idp_url)
    saml_response = idp.response(
        sp_entity_id=f"http://testserver/saml/{connection.connection_id}",
        acs_url=acs_url,
        email="ada@example.com",
        in_response_to=request_id,
    )
    response = client.post(
        acs_url.replace("http://testserver", ""), {"SAMLResponse": saml_response, "RelayState": relay_state}
    )
    assert response.status_code == 302 and "/login/step/" not in response["Location"]
    assert client.session["_auth_user_id"] == str(account.pk)
