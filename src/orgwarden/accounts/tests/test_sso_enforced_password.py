"""Sign-up and password reset for addresses whose org enforces single sign-on.

The email step sends such people to the identity provider. Sign-up used to create a password
account for the address instead — in the org's local directory, under a policy that enforces no
SSO — so anyone with a mailbox on the domain that the IdP never admitted (or had offboarded) could
sign in with a password beside it. A password reset used to set a password the sign-in never asks
for, end every session and say "Sign in with the new one".
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from orgwarden.accounts import emails
from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import OrgUser
from orgwarden.sso.tests.conftest import connection, domain, enforce_sso, idp_keys  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
STRONG = "quartz lantern orbit mossy pelican 47"


def _signup(client: Client, email: str):
    return client.post("/signup", {"email": email, "display_name": "Newcomer", "password": STRONG})


def _member_of_the_idp(connection, email: str) -> Account:  # noqa: F811 (the fixture's value)
    account = AccountFactory(email=email)
    OrgUser.objects.create(
        org=connection.org, account=account, email=email, is_managed=True, directory=connection.directory
    )
    return account


def _reset_link(mailoutbox) -> str:
    found = re.search(r"http://testserver(/password-reset/\S+)", mailoutbox[-1].body)
    assert found, mailoutbox[-1].body
    return found.group(1)


def test_sign_up_on_a_domain_that_enforces_sso_goes_to_the_idp_and_creates_nothing(
    connection,  # noqa: F811
    settings,
):
    settings.SIGNUP_ENABLED = True
    enforce_sso(connection)
    client = Client()
    response = _signup(client, "newcomer@example.com")
    assert response.status_code == 302 and response["Location"] == "/login/step/sso"
    assert not Account.objects.filter(email="newcomer@example.com").exists()
    assert "_auth_user_id" not in client.session
    assert not AuditEvent.objects.filter(action="account:created").exists()
    # The step it lands on is the one the email step gives a new person on the domain.
    page = client.get("/login/step/sso")
    assert page.status_code == 200 and b"identity provider" in page.content


def test_sign_up_on_the_same_domain_without_enforced_sso_still_creates_the_account(
    connection,  # noqa: F811
    settings,
):
    settings.SIGNUP_ENABLED = True
    response = _signup(Client(), "newcomer@example.com")
    assert response.status_code == 302 and not response["Location"].startswith("/login/step/sso")
    assert Account.objects.get(email="newcomer@example.com").check_password(STRONG)


def test_a_reset_for_an_account_that_signs_in_through_the_idp_sends_no_link(
    connection,  # noqa: F811
    mailoutbox,
    django_capture_on_commit_callbacks,
    password,
):
    enforce_sso(connection)
    account = _member_of_the_idp(connection, "sam@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/password-reset", {"email": "Sam@Example.com "})
    emails.background_drain()  # the notice leaves in the background
    # The page says what it says for any address: nothing tells who has an account.
    assert response.status_code == 200 and b"If an account exists" in response.content
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["sam@example.com"]
    assert "/password-reset/" not in mailoutbox[0].body
    assert "identity provider" in mailoutbox[0].body and "http://testserver/login" in mailoutbox[0].body
    event = AuditEvent.objects.get(action="account:password:reset_requested")
    assert event.details == {"link_sent": False, "reason": "sso_enforced"}
    account.refresh_from_db()
    assert account.check_password(password)


def test_a_reset_link_sent_before_sso_was_enforced_no_longer_sets_a_password(
    connection,  # noqa: F811
    mailoutbox,
    django_capture_on_commit_callbacks,
    password,
):
    account = _member_of_the_idp(connection, "sam@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/password-reset", {"email": "sam@example.com"})
    emails.background_drain()  # the reset email leaves in the background
    link = _reset_link(mailoutbox)
    assert Client().get(link).status_code == 200  # a working link while SSO is not enforced
    enforce_sso(connection)
    client = Client()
    page = client.get(link)
    assert page.status_code == 400 and b"identity provider" in page.content
    posted = client.post(link, {"new_password": STRONG, "confirm_password": STRONG})
    assert posted.status_code == 400 and b"identity provider" in posted.content
    account.refresh_from_db()
    assert account.check_password(password) and not account.check_password(STRONG)
    assert not AuditEvent.objects.filter(action="account:password:reset").exists()
