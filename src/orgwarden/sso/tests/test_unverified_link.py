"""A SAML sign-in to an existing account whose email was never verified (account pre-hijacking).

Someone signed up as ada@example.com with a password before the org's identity provider signed
its owner in. The IdP speaks for the verified domain linked to it, so that sign-in takes the account
over: the sign-up's password and sessions stop working and the email counts as verified.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.sso.tests.conftest import enforce_sso

pytestmark = pytest.mark.django_db


def password_sign_in(client: Client, email: str) -> None:
    client.post(reverse("accounts:login"), {"email": email})
    assert client.post("/login/step/password", {"password": PASSWORD}).status_code == 302
    assert client.get("/account/").status_code == 200


def sso_sign_in(client: Client, connection, idp, email: str):
    start = client.get(reverse("sso:login", args=[connection.connection_id]))["Location"]
    idp_url = client.get(start)["Location"] if not start.startswith("http") else start
    request_id, acs_url, relay_state = idp.parse_redirect(idp_url)
    saml_response = idp.response(
        sp_entity_id=f"http://testserver/saml/{connection.connection_id}",
        acs_url=acs_url,
        email=email,
        in_response_to=request_id,
    )
    return client.post(
        acs_url.replace("http://testserver", ""), {"SAMLResponse": saml_response, "RelayState": relay_state}
    )


def test_the_idp_signing_its_owner_in_clears_what_the_sign_up_set(connection, idp):
    squatted = AccountFactory(email="ada@example.com", email_verified=False)
    squatter = Client()
    password_sign_in(squatter, squatted.email)
    enforce_sso(connection)
    owner = Client()
    answer = sso_sign_in(owner, connection, idp, "ada@example.com")
    assert answer.status_code == 302
    squatted.refresh_from_db()
    assert squatted.email_verified is True and not squatted.has_usable_password()
    assert squatter.get("/account/").status_code == 302
    event = AuditEvent.objects.get(action="account:unverified:credentials_cleared")
    assert event.details["via"] == "saml" and event.details["sessions_ended"] == 1
    assert event.org_id == connection.org.org_id


def test_the_owner_signed_in_with_their_own_sign_up_goes_through_sso_in_the_same_browser(connection, idp):
    mine = AccountFactory(email="ada@example.com", email_verified=False)
    browser = Client()
    password_sign_in(browser, mine.email)
    answer = sso_sign_in(browser, connection, idp, "ada@example.com")
    assert answer.status_code == 302
    assert browser.get("/account/").status_code == 200
    assert browser.session["_auth_user_id"] == str(mine.pk)


def test_a_verified_account_keeps_its_password_and_sessions(connection, idp):
    known = AccountFactory(email="ada@example.com")
    other = Client()
    password_sign_in(other, known.email)
    assert sso_sign_in(Client(), connection, idp, "ada@example.com").status_code == 302
    known.refresh_from_db()
    assert known.check_password(PASSWORD) and other.get("/account/").status_code == 200
    assert not AuditEvent.objects.filter(action="account:unverified:credentials_cleared").exists()
