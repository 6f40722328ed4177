"""The pause: without a security subscription in its trial or paid, mandatory two-step verification
(and the break-glass rule) and enforced SSO stop being enforced; the policies keep their settings,
"Check a user" says why, and enforcement resumes when the subscription is paid again.

The ``org`` fixture has a paid subscription; these tests take it away.
"""

from __future__ import annotations

import pyotp
import pytest
from django.test import Client

from orgwarden.accounts import otp, two_step
from orgwarden.billing import services as billing
from orgwarden.billing.models import Subscription
from orgwarden.policies import selectors, services
from orgwarden.policies.models import AuthenticationPolicy

pytestmark = pytest.mark.django_db


def _mandatory(org, admin, policy) -> None:
    services.policy_update(
        org=org, actor=admin, policy_id=policy.policy_id, settings={"two_step": "mandatory"}
    )


def test_lapsing_pauses_mandatory_two_step_and_paying_resumes_it(
    org, org_admin, manage, default_policy, sign_in
):
    person = manage()
    _mandatory(org, org_admin.account, default_policy)
    assert sign_in(Client(), person.email)["Location"] == "/login/step/two_step_enrol"

    billing.subscription_lapse(org=org, operator=None)
    client = Client()
    response = sign_in(client, person.email)
    assert response.status_code == 302 and not response["Location"].startswith("/login")
    assert client.get("/account/").status_code == 200
    assert selectors.two_step_requirement(person) is None
    default_policy.refresh_from_db()
    assert default_policy.two_step == AuthenticationPolicy.TwoStep.MANDATORY  # kept

    billing.subscription_mark_paid(org=org, operator=None)
    assert sign_in(Client(), person.email)["Location"] == "/login/step/two_step_enrol"


def test_without_a_subscription_two_step_can_be_turned_off(org, org_admin, manage, default_policy, password):
    person = manage()
    Subscription.objects.filter(org=org).delete()
    secret = otp.new_secret()
    two_step.two_step_enable(
        account=person, secret=secret, code=pyotp.TOTP(secret).now(), current_proof=password
    )
    _mandatory(org, org_admin.account, default_policy)
    two_step.two_step_disable(account=person, password=password)
    person.refresh_from_db()
    assert not person.has_two_step


def test_the_break_glass_rule_pauses_with_the_subscription(org, org_admin):
    admin = org_admin.account
    services.break_glass_add(org=org, actor=admin, account_id=admin.account_id)
    assert "break-glass" in selectors.two_step_requirement(admin)
    billing.subscription_lapse(org=org, operator=None)
    assert selectors.two_step_requirement(admin) is None
    billing.subscription_mark_paid(org=org, operator=None)
    assert "break-glass" in selectors.two_step_requirement(admin)


def test_check_a_user_explains_the_pause(admin_client, org, org_admin, manage, default_policy):
    person = manage()
    _mandatory(org, org_admin.account, default_policy)
    AuthenticationPolicy.objects.filter(pk=default_policy.pk).update(enforce_sso=True)
    by_topic = {r.topic: r for r in selectors.explain_sign_in(person).requirements}
    assert by_topic["Single sign-on"].summary.startswith("Enforced")
    assert by_topic["Two-step verification"].summary.startswith("Required")

    Subscription.objects.filter(org=org).delete()
    by_topic = {r.topic: r for r in selectors.explain_sign_in(person).requirements}
    sso, second = by_topic["Single sign-on"], by_topic["Two-step verification"]
    assert sso.summary == "Paused: signs in with a password" and not sso.applies
    assert f"{org.name} has not started the security subscription" in sso.why
    assert second.summary == "Paused: not required" and "enforcement is paused" in second.why
    assert by_topic["Password"].applies  # the password is used again while SSO is paused
    page = admin_client.get(f"/admin/o/{org.org_id}/policies/check", {"email": person.email})
    assert page.status_code == 200
    assert b"Paused: signs in with a password" in page.content and b"Paused: not required" in page.content
