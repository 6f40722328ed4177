"""Enforcement through the real views: mandatory 2SV, expired passwords, strength, session limits,
break-glass sign-ins, the admin's 2SV reset, and what the session-limit middleware costs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orgwarden.accounts import crypto, otp, two_step
from orgwarden.accounts.exceptions import InvalidPassword
from orgwarden.accounts.models import Account, Session
from orgwarden.accounts.services import password_change
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.tests.factories import OrgAdminFactory
from orgwarden.policies import services

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC)
STRONG = "quartz lantern orbit mossy pelican 47"
MIDDLEWARE = "orgwarden.policies.middleware.SessionLimitMiddleware"


def _set(org, admin, policy, **settings):
    services.policy_update(org=org, actor=admin, policy_id=policy.policy_id, settings=settings)


def _enrol_at_sign_in(client: Client, response) -> str:
    assert response.status_code == 302 and response["Location"] == "/login/step/two_step_enrol"
    page = client.get("/login/step/two_step_enrol")
    assert page.status_code == 200 and b"data:image/svg+xml" in page.content
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.content.decode()).group(1).replace(" ", "")
    wrong = client.post("/login/step/two_step_enrol", {"code": "000000"})
    assert wrong.status_code == 400
    codes = client.post("/login/step/two_step_enrol", {"code": pyotp.TOTP(secret).now()})
    assert codes.status_code == 200 and b"recovery" in codes.content
    assert len(re.findall(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>", codes.content.decode())) >= 8
    done = client.post("/login/step/two_step_enrol", {"continue": "1"})
    assert done.status_code == 302 and not done["Location"].startswith("/login"), done
    return secret


# --- mandatory two-step verification ----------------------------------------------------------------


def test_mandatory_two_step_forces_enrolment_at_the_next_sign_in(
    org, org_admin, manage, default_policy, sign_in
):
    person = manage()
    _set(org, org_admin.account, default_policy, two_step="mandatory")
    client = Client()
    secret = _enrol_at_sign_in(client, sign_in(client, person.email))
    person.refresh_from_db()
    assert person.has_two_step and crypto.decrypt(person.totp_secret) == secret
    assert client.get("/account/").status_code == 200
    assert AuditEvent.objects.filter(action="account:2sv:enabled").count() == 1
    assert AuditEvent.objects.get(action="account:signin:succeeded").details["method"] == "password+totp"
    # Next time: the ordinary code step, no enrolment.
    again = Client()
    response = sign_in(again, person.email)
    assert response["Location"] == "/login/step/two_step"


def test_an_unmanaged_account_is_not_asked_to_enrol(org, org_admin, default_policy, sign_in):
    _set(org, org_admin.account, default_policy, two_step="mandatory")
    person = AccountFactory()
    response = sign_in(Client(), person.email)
    assert response.status_code == 302 and not response["Location"].startswith("/login")


def test_an_existing_session_is_not_cut_when_two_step_becomes_mandatory(
    org, org_admin, manage, default_policy, sign_in
):
    person = manage()
    client = Client()
    assert not sign_in(client, person.email)["Location"].startswith("/login")
    _set(org, org_admin.account, default_policy, two_step="mandatory")
    assert client.get("/account/").status_code == 200


def test_two_step_cannot_be_turned_off_while_mandatory(org, org_admin, manage, default_policy, password):
    person = manage()
    secret = otp.new_secret()
    two_step.two_step_enable(
        account=person, secret=secret, code=pyotp.TOTP(secret).now(), current_proof=password
    )
    _set(org, org_admin.account, default_policy, two_step="mandatory")
    with pytest.raises(two_step.TwoStepRequired) as caught:
        two_step.two_step_disable(account=person, password=password)
    assert f"Default policy of {org.name} requires two-step verification" in caught.value.message
    person.refresh_from_db()
    assert person.has_two_step
    assert not AuditEvent.objects.filter(action="account:2sv:disabled").exists()


# --- passwords -----------------------------------------------------------------------------------------


def test_an_expired_password_must_be_changed_at_sign_in(
    org, org_admin, manage, default_policy, sign_in, password
):
    with time_machine.travel(T0, tick=False):
        person = manage()
        Account.objects.filter(pk=person.pk).update(password_changed_at=T0)
        _set(org, org_admin.account, default_policy, password_expiry_days=30, password_min_strength=3)
    with time_machine.travel(T0 + timedelta(days=29), tick=False):
        assert not sign_in(Client(), person.email)["Location"].startswith("/login")
    with time_machine.travel(T0 + timedelta(days=31), tick=False):
        client = Client()
        response = sign_in(client, person.email)
        assert response["Location"] == "/login/step/password_expired"
        assert client.get("/account/").status_code == 302  # not signed in yet
        same = client.post(
            "/login/step/password_expired", {"new_password": password, "confirm_password": password}
        )
        assert same.status_code == 400
        weak = client.post(
            "/login/step/password_expired",
            {"new_password": "password1234", "confirm_password": "password1234"},
        )
        assert weak.status_code == 400 and b"too easy to guess" in weak.content
        done = client.post(
            "/login/step/password_expired", {"new_password": STRONG, "confirm_password": STRONG}
        )
        assert done.status_code == 302 and not done["Location"].startswith("/login")
        assert client.get("/account/").status_code == 200
        person.refresh_from_db()
        assert person.check_password(STRONG)
        event = AuditEvent.objects.get(action="account:password:changed")
        assert event.details["reason"] == "expired"


def test_policy_strength_and_length_are_checked_when_a_password_is_set(
    org, org_admin, manage, default_policy, password
):
    person = manage()
    _set(org, org_admin.account, default_policy, password_min_length=20, password_min_strength=4)
    with pytest.raises(InvalidPassword) as caught:
        password_change(
            account=person, current_password=password, new_password="Welcome2026x", keep_session_key=None
        )
    text = " ".join(caught.value.messages)
    assert "at least 20 characters" in text and "too easy to guess" in text
    person.refresh_from_db()
    assert person.check_password(password)
    assert not AuditEvent.objects.filter(action="account:password:changed").exists()
    password_change(account=person, current_password=password, new_password=STRONG, keep_session_key=None)
    # The same weak password is fine for an unmanaged account (Django's validators only).
    other = AccountFactory()
    password_change(
        account=other, current_password=password, new_password="Welcome2026x", keep_session_key=None
    )


# --- session limits ---------------------------------------------------------------------------------


def _signed_in(client, sign_in, person):
    response = sign_in(client, person.email)
    assert response.status_code == 302 and not response["Location"].startswith("/login"), response
    assert client.get("/account/").status_code == 200


def test_the_idle_limit_signs_a_session_out(org, org_admin, manage, default_policy, sign_in):
    person = manage()
    _set(org, org_admin.account, default_policy, idle_session_minutes=15, absolute_session_minutes=600)
    client = Client()
    with time_machine.travel(T0, tick=False):
        _signed_in(client, sign_in, person)
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        response = client.get("/account/")
        assert response.status_code == 302 and response["Location"].startswith("/login")
        assert not Session.objects.filter(account=person).exists()
        event = AuditEvent.objects.get(action="account:session:expired")
        assert event.details == {"reason": "idle_timeout", "limit_minutes": 15}
        assert event.org_id == org.org_id
        page = client.get(response["Location"])
        assert b"You were signed out after 15 minutes without activity" in page.content
        assert client.get("/account/").status_code == 302


def test_activity_within_the_idle_window_keeps_the_session(org, org_admin, manage, default_policy, sign_in):
    person = manage()
    _set(org, org_admin.account, default_policy, idle_session_minutes=15, absolute_session_minutes=600)
    client = Client()
    with time_machine.travel(T0, tick=False):
        _signed_in(client, sign_in, person)
    for minutes in (10, 20, 30, 40):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            assert client.get("/account/").status_code == 200
    assert not AuditEvent.objects.filter(action="account:session:expired").exists()


def test_the_absolute_limit_signs_a_session_out_whatever_the_activity(
    org, org_admin, manage, default_policy, sign_in
):
    person = manage()
    _set(org, org_admin.account, default_policy, idle_session_minutes=15, absolute_session_minutes=60)
    client = Client()
    with time_machine.travel(T0, tick=False):
        _signed_in(client, sign_in, person)
    for minutes in (10, 20, 30, 40, 50):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            assert client.get("/account/").status_code == 200
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        response = client.get("/account/")
        assert response.status_code == 302 and response["Location"].startswith("/login")
        assert (
            AuditEvent.objects.get(action="account:session:expired").details["reason"] == "absolute_timeout"
        )
        assert not Session.objects.filter(account=person).exists()


def test_a_stricter_limit_applies_to_a_session_already_open(
    org, org_admin, manage, default_policy, sign_in, django_capture_on_commit_callbacks
):
    person = manage()
    client = Client()
    with time_machine.travel(T0, tick=False):
        _signed_in(client, sign_in, person)
        with django_capture_on_commit_callbacks(execute=True):
            _set(
                org, org_admin.account, default_policy, idle_session_minutes=15, absolute_session_minutes=600
            )
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        assert client.get("/account/").status_code == 302


def test_an_unmanaged_account_has_no_limits(db, sign_in):
    person = AccountFactory()
    client = Client()
    with time_machine.travel(T0, tick=False):
        _signed_in(client, sign_in, person)
    with time_machine.travel(T0 + timedelta(days=29), tick=False):
        assert client.get("/account/").status_code == 200


def test_the_middleware_adds_at_most_one_query_per_request_after_the_first(
    org, org_admin, manage, default_policy, settings
):
    person = manage()
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    client.get("/account/")  # the first request resolves and stores the limits
    client.get("/account/")
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/account/").status_code == 200
    # Read now: the next request resets the connection's query log these slices point into.
    with_limits = [q["sql"] for q in captured.captured_queries]
    settings.MIDDLEWARE = [m for m in django_settings.MIDDLEWARE if m != MIDDLEWARE]
    bare = Client()  # a new handler, built with the changed MIDDLEWARE, on the same session
    bare.cookies = client.cookies
    bare.get("/account/")
    with CaptureQueriesContext(connection) as captured:
        assert bare.get("/account/").status_code == 200
    without = [q["sql"] for q in captured.captured_queries]
    assert len(with_limits) - len(without) == 1, with_limits
    assert [q for q in with_limits if "orgwarden_cache" in q] and not [
        q for q in without if "orgwarden_cache" in q
    ]


# --- break-glass --------------------------------------------------------------------------------------


def test_a_break_glass_sign_in_is_recorded_and_emailed_to_the_other_admins(
    org, org_admin, sign_in, django_capture_on_commit_callbacks
):
    admin = org_admin.account
    other = OrgAdminFactory(org=org).account
    services.break_glass_add(org=org, actor=admin, account_id=admin.account_id)
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = sign_in(client, admin.email)
    # A break-glass admin without 2SV sets it up first: the sign-in completes only after.
    assert response["Location"] == "/login/step/two_step_enrol"
    assert not AuditEvent.objects.filter(action="account:signin:break_glass").exists()
    with django_capture_on_commit_callbacks(execute=True):
        _enrol_at_sign_in(client, response)
    event = AuditEvent.objects.get(action="account:signin:break_glass")
    assert event.org_id == org.org_id and event.actor_id == admin.account_id
    assert [m.to for m in mail.outbox] == [[other.email]]
    assert "break-glass" in mail.outbox[0].body and admin.email in mail.outbox[0].body


# --- admin reset of 2SV -------------------------------------------------------------------------------


def test_after_an_admin_reset_a_mandatory_policy_enrols_again(
    org, org_admin, manage, default_policy, sign_in
):
    person = manage()
    _set(org, org_admin.account, default_policy, two_step="mandatory")
    client = Client()
    _enrol_at_sign_in(client, sign_in(client, person.email))
    admin_client = Client()
    admin_client.force_login(org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    url = f"/admin/o/{org.org_id}/policies/accounts/{person.account_id}/reset-two-step"
    response = admin_client.post(url)
    assert response.status_code == 302
    assert client.get("/account/").status_code == 302  # its session was ended
    assert AuditEvent.objects.filter(action="org:account:2sv_reset").count() == 1
    fresh = Client()
    _enrol_at_sign_in(fresh, sign_in(fresh, person.email))
