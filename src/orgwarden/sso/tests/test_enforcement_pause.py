"""Enforced SSO pauses while the org's security subscription is missing or lapsed, and resumes
when it is paid again: the email-first sign-in keeps the password, just-in-time creation stops.
The policy's setting is kept throughout."""

from __future__ import annotations

import pytest
from django.test import Client

from orgwarden.accounts.models import Account
from orgwarden.billing import services as billing
from orgwarden.billing.models import Subscription
from orgwarden.orgs.models import OrgUser
from orgwarden.sso.tests.conftest import enforce_sso
from orgwarden.sso.tests.test_acs import acs, sp, sso_failures
from orgwarden.sso.tests.test_signin import enter_email, managed_in_idp

pytestmark = pytest.mark.django_db


def test_a_lapsed_subscription_keeps_members_on_their_password_until_paid(connection, password):
    policy = enforce_sso(connection)
    ada = managed_in_idp(connection, "ada@example.com")
    OrgUser.objects.filter(account=ada).update(managed_notice_seen_at="2026-01-01T00:00:00Z")
    assert enter_email(Client(), "ada@example.com") == "/login/step/sso"

    billing.subscription_lapse(org=connection.org, operator=None)
    client = Client()
    assert enter_email(client, "ada@example.com") == "/login/step/password"
    assert enter_email(Client(), "new@example.com") == "/login/step/password"  # no account yet
    response = client.post("/login/step/password", {"password": password})
    assert response.status_code == 302 and not response["Location"].startswith("/login")
    assert client.session["_auth_user_id"] == str(ada.pk)
    policy.refresh_from_db()
    assert policy.enforce_sso  # the configuration is kept

    billing.subscription_mark_paid(org=connection.org, operator=None)
    assert enter_email(Client(), "ada@example.com") == "/login/step/sso"


def test_without_a_subscription_nobody_is_created_just_in_time(connection, idp):
    enforce_sso(connection)
    Subscription.objects.filter(org=connection.org).delete()
    response = Client().post(
        acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="new@example.com")}
    )
    assert response.status_code == 400 and sso_failures("no_account").exists()
    assert not Account.objects.filter(email="new@example.com").exists()
