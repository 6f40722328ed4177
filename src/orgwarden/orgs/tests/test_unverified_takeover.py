"""Account pre-hijacking: someone signs up with an address they do not own, before the org takes
that address over (an invitation, a domain claim). The org must not inherit the squatter's way in.

Through the real sign-up and sign-in views and the real services; the squatter keeps their own
browser session, password, authenticator app and API token, and the tests check that each stops
working once the org takes the account over, while the real owner gets in with the emailed link.
"""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from orgwarden.accounts import emails, otp, two_step
from orgwarden.accounts.models import Account, RecoveryCode
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import Domain
from orgwarden.orgs.services import access, domains
from orgwarden.tokens.models import UserApiToken
from orgwarden.tokens.user_services import user_token_create

pytestmark = pytest.mark.django_db

SQUATTER_PASSWORD = "Squatter-pass-123!"


def squat(email: str, *, managed_at_birth: bool = False) -> tuple[Client, Account, str]:
    """Sign up as ``email`` at /signup (never verifying it), turn on two-step verification and make
    an API token: the squatter's browser (signed in, unless the account is managed from birth: then
    the "managed by" notice awaits), the account, and the token's value."""
    browser = Client()
    response = browser.post(
        "/signup", {"email": email, "display_name": "Squatter", "password": SQUATTER_PASSWORD}
    )
    assert response.status_code == 302
    account = Account.objects.get(email=email)
    assert account.email_verified is False
    assert browser.get("/account/").status_code == (302 if managed_at_birth else 200)
    secret = otp.new_secret()
    two_step.two_step_enable(
        account=account,
        secret=secret,
        code=otp.code_at_step(secret, otp.time_step(time.time())),
        current_proof=SQUATTER_PASSWORD,
    )
    _token, value = user_token_create(account=account, label="squatter")
    return browser, account, value


def password_signs_in(email: str, password: str) -> bool:
    browser = Client()
    browser.post("/login", {"email": email})
    answer = browser.post("/login/step/password", {"password": password})
    return answer.status_code == 302 and answer["Location"] != "/login/step/password"


def assert_taken_over(browser: Client, account: Account, token_value: str, via: str) -> AuditEvent:
    account.refresh_from_db()
    assert not account.has_usable_password() and not account.has_two_step
    assert not RecoveryCode.objects.filter(account=account).exists()
    assert browser.get("/account/").status_code == 302  # the squatter's session ended
    assert not password_signs_in(account.email, SQUATTER_PASSWORD)
    token = UserApiToken.objects.get(account=account)
    assert token.prefix in token_value and token.revoked_at is not None
    event = AuditEvent.objects.get(action="account:unverified:credentials_cleared")
    assert event.details == {
        "via": via,
        "password_cleared": True,
        "two_step_cleared": True,
        "sessions_ended": 1,
        "api_tokens_revoked": 1,
        "email_verified_by_caller": False,
    }
    assert event.targets[0]["id"] == account.account_id
    return event


def follow_link(body: str, account: Account) -> None:
    """The real owner opens the emailed one-time link: on into the sign-in flow (no password asked),
    their email now verified."""
    link = re.search(r"http://testserver(/login/link/\S+)", body).group(1)
    owner = Client()
    answer = owner.post(link)
    assert answer.status_code == 302 and answer["Location"] != "/login/step/password"
    account.refresh_from_db()
    assert account.email_verified is True


def test_an_invitation_takes_an_unverified_account_from_whoever_signed_up(
    org, org_admin, django_capture_on_commit_callbacks, mailoutbox
):
    site = access.site_add(
        org=org, actor=org_admin.account, product="jira-software", name="Jira", url="https://jira.example.net"
    )
    Domain.objects.create(
        org=org, name="acme.test", token="t" * 32, status=Domain.Status.VERIFIED, method="dns"
    )
    browser, account, token_value = squat("newhire@acme.test")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invited = access.user_invite(
            org=org, actor=org_admin.account, email="newhire@acme.test", site_ids=[site.site_id]
        )
    assert invited.pk == account.pk
    event = assert_taken_over(browser, account, token_value, via="invitation")
    assert (event.actor_type, event.actor_id, event.org_id) == (
        "account",
        org_admin.account.account_id,
        org.org_id,
    )
    invitation = AuditEvent.objects.get(action="org:user:invited")
    assert (
        invitation.details["new_account"] is False
        and invitation.details["unverified_account_secured"] is True
    )
    [mail] = mailoutbox
    assert "had never been verified" in mail.body and "choose a password" in mail.body
    follow_link(mail.body, account)


def test_an_invitation_off_the_orgs_domains_does_not_wipe_the_account(
    org, org_admin, django_capture_on_commit_callbacks
):
    """Any org may invite any address: clearing an unverified account's credentials is for addresses
    on the org's verified domains. Elsewhere the account keeps them, and product sign-in waits for
    its email to be verified (only the mailbox's owner can)."""
    site = access.site_add(
        org=org, actor=org_admin.account, product="jira-software", name="Jira", url="https://jira.example.net"
    )
    _browser, account, _ = squat("someone@elsewhere.test")
    with django_capture_on_commit_callbacks(execute=True):
        access.user_invite(org=org, actor=org_admin.account, email=account.email, site_ids=[site.site_id])
    account.refresh_from_db()
    assert account.has_usable_password() and account.has_two_step and not account.email_verified
    assert not AuditEvent.objects.filter(action="account:unverified:credentials_cleared").exists()
    assert AuditEvent.objects.get(action="org:user:invited").details["unverified_account_secured"] is False


def test_an_invitation_leaves_a_verified_account_as_it_is(
    org, org_admin, django_capture_on_commit_callbacks, mailoutbox
):
    site = access.site_add(
        org=org, actor=org_admin.account, product="jira-software", name="Jira", url="https://jira.example.net"
    )
    known = AccountFactory(email="known@acme.test")
    with django_capture_on_commit_callbacks(execute=True):
        access.user_invite(org=org, actor=org_admin.account, email=known.email, site_ids=[site.site_id])
    assert password_signs_in(known.email, PASSWORD)
    assert not AuditEvent.objects.filter(action="account:unverified:credentials_cleared").exists()
    assert AuditEvent.objects.get(action="org:user:invited").details["unverified_account_secured"] is False
    [mail] = mailoutbox
    assert "Sign in with your existing account" in mail.body and "/login/link/" not in mail.body


def test_a_domain_claim_takes_an_unverified_account_and_emails_the_owner_a_link(
    org, org_admin, django_capture_on_commit_callbacks, mailoutbox
):
    domain = Domain.objects.create(org=org, name="acme.test", token="t" * 32, status="verified", method="dns")
    browser, account, token_value = squat("newhire@acme.test")
    verified = AccountFactory(email="old.hand@acme.test")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = domains.accounts_claim(
            org=org,
            actor=org_admin.account,
            domain_id=domain.domain_id,
            account_ids=[account.account_id, verified.account_id],
        )
    assert result.claimed == 2
    assert_taken_over(browser, account, token_value, via="claim")
    assert password_signs_in(verified.email, PASSWORD)  # a verified owner keeps their password
    [mail] = mailoutbox
    assert mail.to == ["newhire@acme.test"] and org.name in mail.subject
    follow_link(mail.body, account)


def test_a_sign_up_on_a_domain_claimed_automatically_keeps_its_password(org):
    """Born managed in the sign-up's own transaction: nobody held the account before, so there is
    nothing to take; its product sign-in waits for the email's verification (oidc.checks)."""
    Domain.objects.create(
        org=org, name="acme.test", token="t" * 32, status="verified", method="dns", claim="automatic"
    )
    _browser, account, _value = squat("newbie@acme.test", managed_at_birth=True)
    assert account.org_users.get().is_managed
    assert password_signs_in("newbie@acme.test", SQUATTER_PASSWORD)
    account.refresh_from_db()
    assert account.has_usable_password() and account.check_password(SQUATTER_PASSWORD)
    assert not AuditEvent.objects.filter(action="account:unverified:credentials_cleared").exists()


def test_an_email_change_the_squatter_asked_for_before_the_invitation_no_longer_works(
    org, org_admin, django_capture_on_commit_callbacks, mailoutbox
):
    """Else the squatter would move the invited account to an address of theirs, verified."""
    Domain.objects.create(
        org=org, name="acme.test", token="t" * 32, status=Domain.Status.VERIFIED, method="dns"
    )
    site = access.site_add(
        org=org, actor=org_admin.account, product="jira-software", name="Jira", url="https://jira.example.net"
    )
    browser, account, _value = squat("newhire@acme.test")
    with django_capture_on_commit_callbacks(execute=True):
        asked = browser.post(
            "/account/email", {"new_email": "squatter@evil.test", "current_password": SQUATTER_PASSWORD}
        )
    assert asked.status_code == 302
    link = re.search(r"http://testserver(/account/email/confirm/\S+)", mailoutbox[-1].body).group(1)
    access.user_invite(org=org, actor=org_admin.account, email="newhire@acme.test", site_ids=[site.site_id])
    assert Client().post(link).status_code == 400
    account.refresh_from_db()
    assert account.email == "newhire@acme.test" and not account.email_verified
    assert not AuditEvent.objects.filter(action="account:email:changed").exists()


def test_a_password_reset_by_the_owner_clears_what_the_squatter_set(
    django_capture_on_commit_callbacks, mailoutbox
):
    """No org involved: the owner of the address resets the password from the emailed link. The
    squatter's authenticator used to stay (the owner locked out at the code step) and their API
    token went on working."""
    browser, account, _ = squat("someone@example.org")
    mailoutbox.clear()
    owner = Client()
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.post("/password-reset", {"email": "someone@example.org"}).status_code == 200
    emails.background_drain()  # the reset email leaves in the background
    link = re.search(r"http://testserver(/password-reset/\S+)", mailoutbox[-1].body).group(1)
    new_password = "The owner's own passphrase 9"
    done = owner.post(link, {"new_password": new_password, "confirm_password": new_password})
    assert done.status_code == 302

    account.refresh_from_db()
    assert account.email_verified and not account.has_two_step
    assert not RecoveryCode.objects.filter(account=account).exists()
    assert UserApiToken.objects.get(account=account).revoked_at is not None
    assert browser.get("/account/").status_code == 302  # the squatter's session ended
    signin = Client()
    signin.post("/login", {"email": "someone@example.org"})
    answer = signin.post("/login/step/password", {"password": new_password})
    assert answer.status_code == 302 and answer["Location"] not in (
        "/login/step/two_step",
        "/login/step/password",
    )
    event = AuditEvent.objects.get(action="account:unverified:credentials_cleared")
    assert event.details["via"] == "password_reset" and event.details["api_tokens_revoked"] == 1
