"""SCIM linking an existing account whose email was never verified (account pre-hijacking).

Someone signed up as ada@example.com before the org's identity provider provisioned her. The IdP
speaks for the org's verified domain, so the link takes the account over: whatever the sign-up set
(password, sessions, API tokens) stops working and the email counts as verified. A verified account
is linked as it is.
"""

from __future__ import annotations

import pytest
from django.test import Client

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.scim.tests.conftest import user_body
from orgwarden.tokens.models import UserApiToken
from orgwarden.tokens.user_services import user_token_create

pytestmark = pytest.mark.django_db


def signed_in(account) -> Client:
    browser = Client()
    browser.post("/login", {"email": account.email})
    assert browser.post("/login/step/password", {"password": PASSWORD}).status_code == 302
    assert browser.get("/account/").status_code == 200
    return browser


def test_provisioning_an_unverified_account_clears_what_its_sign_up_set(scim, directory):
    squatted = AccountFactory(email="ada@example.com", email_verified=False)
    browser = signed_in(squatted)
    user_token_create(account=squatted, label="squatter")
    created = scim.post("/Users", user_body())
    assert created.status_code == 201
    squatted.refresh_from_db()
    assert not squatted.has_usable_password() and squatted.email_verified is True
    assert browser.get("/account/").status_code == 302
    assert UserApiToken.objects.get(account=squatted).revoked_at is not None
    event = AuditEvent.objects.get(action="account:unverified:credentials_cleared")
    assert (event.actor_type, event.actor_id) == ("directory", directory.directory_id)
    assert event.details["via"] == "scim" and event.details["email_verified_by_caller"] is True
    assert event.details["sessions_ended"] == 1 and event.details["api_tokens_revoked"] == 1


def test_provisioning_a_verified_account_keeps_its_password_and_sessions(scim):
    known = AccountFactory(email="ada@example.com")
    browser = signed_in(known)
    assert scim.post("/Users", user_body()).status_code == 201
    known.refresh_from_db()
    assert known.check_password(PASSWORD) and browser.get("/account/").status_code == 200
    assert not AuditEvent.objects.filter(action="account:unverified:credentials_cleared").exists()
