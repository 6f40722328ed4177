"""Sign-up, email verification and password reset through the real views."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client

from orgwarden.accounts import emails
from orgwarden.accounts.models import Account
from orgwarden.accounts.throttle import (
    RESET_PER_CLIENT,
    RESET_PER_EMAIL,
    SIGNUP_PER_CLIENT,
    SIGNUP_PER_EMAIL,
)
from orgwarden.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

STRONG = "a long and unusual passphrase 7"


def _signup(client: Client, path: str = "/signup", **overrides):
    data = {"email": "New.Person@Example.com", "display_name": "New Person", "password": STRONG}
    data.update(overrides)
    return client.post(path, data)


def _signed_in(client: Client) -> bool:
    return client.get("/account/").status_code == 200


def test_signup_creates_the_account_signs_in_and_emails_a_verification_link(
    browser, one_event, django_capture_on_commit_callbacks, mailoutbox
):
    assert browser.get("/signup").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(browser)
    assert response.status_code == 302 and response["Location"] == "/account/"
    account = Account.objects.get()
    assert account.email == "new.person@example.com" and not account.email_verified
    assert _signed_in(browser)
    one_event("account:created")
    assert one_event("account:signin:succeeded").details == {"method": "password"}
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["new.person@example.com"]
    path = re.search(r"http://testserver(/verify-email/\S+)", mailoutbox[0].body).group(1)

    # Mail scanners follow links with GET: that must not verify anything.
    assert browser.get(path).status_code == 200
    account.refresh_from_db()
    assert not account.email_verified

    response = browser.post(path)
    assert response.status_code == 302 and response["Location"] == "/account/"
    account.refresh_from_db()
    assert account.email_verified
    one_event("account:email:verified")


def test_verification_link_signed_out_asks_for_the_accounts_password(
    django_capture_on_commit_callbacks, mailoutbox
):
    """The link proves the mailbox, not who chose the password: opened outside the account's
    session, it verifies only with the account's password."""
    with django_capture_on_commit_callbacks(execute=True):
        _signup(Client())
    path = re.search(r"http://testserver(/verify-email/\S+)", mailoutbox[0].body).group(1)
    elsewhere = Client()
    page = elsewhere.get(path)
    assert page.status_code == 200
    assert b'name="password"' in page.content and b'href="/password-reset"' in page.content
    for data in ({}, {"password": "not the password"}):
        refused = elsewhere.post(path, data)
        assert refused.status_code == 400
        assert not Account.objects.get().email_verified
    assert b"That is not the password of this account." in refused.content
    response = elsewhere.post(path, {"password": STRONG})
    assert response["Location"] == "/login"
    assert Account.objects.get().email_verified
    assert not _signed_in(elsewhere)  # verifying is not signing in


def test_someone_who_signed_up_with_your_address_cannot_have_you_verify_their_password(
    browser, django_capture_on_commit_callbacks, mailoutbox
):
    """A stranger signs up with the owner's address. The owner's click on the mailed link does not
    make the stranger's password that of a verified account; the owner's way in is a password
    reset, which removes it."""
    squatter = Client()
    with django_capture_on_commit_callbacks(execute=True):
        _signup(squatter)
    path = re.search(r"http://testserver(/verify-email/\S+)", mailoutbox[0].body).group(1)
    assert browser.post(path).status_code == 400  # the owner has no password to give
    assert not Account.objects.get().email_verified

    with django_capture_on_commit_callbacks(execute=True):
        browser.post("/password-reset", {"email": "new.person@example.com"})
    emails.background_drain()  # the reset email leaves in the background
    reset = re.search(r"http://testserver(/password-reset/\S+)", mailoutbox[-1].body).group(1)
    new = "another long and unusual passphrase 8"
    done = browser.post(reset, {"new_password": new, "confirm_password": new})
    assert done.status_code == 302, done.content
    account = Account.objects.get()
    assert account.email_verified and account.check_password(new) and not account.check_password(STRONG)
    assert not _signed_in(squatter)


def test_a_tampered_verification_link_is_a_clear_400(browser):
    response = browser.post("/verify-email/not-a-real-token")
    assert response.status_code == 400 and b"invalid or has expired" in response.content


def test_signup_with_a_taken_email_is_a_form_error(browser, account):
    response = _signup(browser, email=account.email.upper())
    assert response.status_code == 400
    assert b"An account with this email already exists" in response.content
    assert Account.objects.count() == 1 and not _signed_in(browser)


def test_signup_with_a_weak_password_lists_the_rules(browser):
    response = _signup(browser, password="12345678")
    assert response.status_code == 400
    assert b"too common" in response.content and b"entirely numeric" in response.content
    assert not Account.objects.exists() and not AuditEvent.objects.exists()


def test_signup_page_is_403_when_disabled(browser, settings):
    settings.SIGNUP_ENABLED = False
    assert browser.get("/signup").status_code == 403
    response = _signup(browser)
    assert response.status_code == 403 and b"Sign-up is turned off" in response.content
    assert not Account.objects.exists()
    assert b"Create an account" not in browser.get("/login").content


def test_signup_honours_a_local_next_and_prefills_the_email(browser):
    page = browser.get("/signup?next=/admin/new&email=invited@example.com")
    assert b'value="invited@example.com"' in page.content
    assert b'name="next" value="/admin/new"' in page.content
    response = _signup(browser, "/signup?next=/admin/new", email="invited@example.com")
    assert response["Location"] == "/admin/new"


def test_signup_keeps_next_through_a_form_error(browser):
    response = browser.post(
        "/signup", {"email": "x@example.com", "display_name": "X", "password": "1", "next": "/admin/new"}
    )
    assert response.status_code == 400 and b'name="next" value="/admin/new"' in response.content
    response = _signup(browser, next="/admin/new")
    assert response["Location"] == "/admin/new"


def test_signup_ignores_an_external_next(browser):
    response = _signup(browser, "/signup?next=https://evil.example/")
    assert response["Location"] == "/admin/"


def test_resend_verification(browser, sign_in, django_capture_on_commit_callbacks, mailoutbox):
    from orgwarden.accounts.tests.factories import AccountFactory

    account = AccountFactory(email_verified=False)
    sign_in(browser, account.email)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/account/verify-email/resend")
    assert response["Location"] == "/account/"
    assert len(mailoutbox) == 1 and "/verify-email/" in mailoutbox[0].body
    assert AuditEvent.objects.filter(action="account:email:verification_sent").count() == 1


def test_password_reset_through_the_pages(
    browser, account, password, sign_in, one_event, django_capture_on_commit_callbacks, mailoutbox
):
    elsewhere = Client()
    sign_in(elsewhere, account.email)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/password-reset", {"email": account.email})
    assert response.status_code == 200 and b"Check your email" in response.content
    emails.background_drain()  # the reset email leaves in the background
    path = re.search(r"http://testserver(/password-reset/\S+)", mailoutbox[0].body).group(1)
    assert browser.get(path).status_code == 200
    response = browser.post(path, {"new_password": STRONG, "confirm_password": STRONG})
    assert response.status_code == 302 and response["Location"] == "/login"
    one_event("account:password:reset")
    assert not _signed_in(elsewhere)
    # The link works once.
    again = browser.post(path, {"new_password": STRONG + "2", "confirm_password": STRONG + "2"})
    assert again.status_code == 400
    account.refresh_from_db()
    assert account.check_password(STRONG)
    sign_in(browser, account.email, STRONG)
    assert _signed_in(browser)


def test_password_reset_for_an_unknown_email_says_the_same(
    browser, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/password-reset", {"email": "nobody@example.com"})
    assert response.status_code == 200 and b"Check your email" in response.content
    emails.background_drain()  # what was handed to the background senders has left
    assert mailoutbox == [] and not AuditEvent.objects.exists()


@time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, 10, tzinfo=dt.UTC), tick=False)
def test_reset_requests_are_throttled_per_address_whether_or_not_the_account_exists(
    account, django_capture_on_commit_callbacks, mailoutbox
):
    """Every POST sent a reset email to an existing account, without limit: anyone could flood a
    person's mailbox from this server. Each request counts now, the account exists or not, so the
    refusal tells nothing about who has an account."""
    limit = RESET_PER_EMAIL.fixed_limit
    refusals = []
    for email in (account.email, "nobody@example.com"):
        for i in range(limit):
            client = Client(REMOTE_ADDR=f"203.0.113.{len(refusals) * limit + i + 1}")  # not per client
            with django_capture_on_commit_callbacks(execute=True):
                assert client.post("/password-reset", {"email": email}).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            refusals.append(
                Client(REMOTE_ADDR="198.51.100.7").post("/password-reset", {"email": email.upper()})
            )
    emails.background_drain()
    assert len(mailoutbox) == limit  # the flood stopped at the limit; the unknown address got none
    for refused in refusals:
        assert (
            refused.status_code == 429
            and "Too many reset requests. Wait 60 minutes" in refused.content.decode()
        )
        assert 0 < int(refused["Retry-After"]) <= 3600
    later = time_machine.travel(dt.datetime(2026, 6, 1, 14, 0, 10, tzinfo=dt.UTC), tick=False)
    with later, django_capture_on_commit_callbacks(execute=True):
        assert Client().post("/password-reset", {"email": account.email}).status_code == 200
    emails.background_drain()
    assert len(mailoutbox) == limit + 1


@time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, 10, tzinfo=dt.UTC), tick=False)
def test_reset_requests_are_throttled_per_client_address(django_capture_on_commit_callbacks, mailoutbox):
    client = Client(REMOTE_ADDR="198.51.100.7")
    for i in range(RESET_PER_CLIENT.fixed_limit):
        assert client.post("/password-reset", {"email": f"p{i}@example.com"}).status_code == 200
    refused = client.post("/password-reset", {"email": "one.more@example.com"})
    assert refused.status_code == 429 and "Retry-After" in refused
    assert (
        Client(REMOTE_ADDR="198.51.100.8")
        .post("/password-reset", {"email": "one.more@example.com"})
        .status_code
        == 200
    )


@time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, 10, tzinfo=dt.UTC), tick=False)
def test_signups_are_throttled_per_client_address(django_capture_on_commit_callbacks, mailoutbox):
    """Sign-up was not throttled: one client could create accounts, and have this server send a
    verification email to any address, without end. People behind one office address (each its
    own browser) sign up up to the limit; the next is refused with nothing written or sent."""
    office = "198.51.100.7"
    limit = SIGNUP_PER_CLIENT.fixed_limit
    for i in range(limit):
        with django_capture_on_commit_callbacks(execute=True):
            assert _signup(Client(REMOTE_ADDR=office), email=f"p{i}@example.com").status_code == 302
    assert Account.objects.count() == limit and len(mailoutbox) == limit
    events = AuditEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        refused = _signup(Client(REMOTE_ADDR=office), email="one.more@example.com")
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 3600
    assert "Too many sign-up attempts. Wait 60 minutes, then try again." in refused.content.decode()
    assert not Account.objects.filter(email="one.more@example.com").exists()
    assert AuditEvent.objects.count() == events and len(mailoutbox) == limit

    with django_capture_on_commit_callbacks(execute=True):
        other = _signup(Client(REMOTE_ADDR="198.51.100.8"), email="one.more@example.com")
    assert other.status_code == 302 and len(mailoutbox) == limit + 1
    later = time_machine.travel(dt.datetime(2026, 6, 1, 14, 0, 10, tzinfo=dt.UTC), tick=False)
    with later:
        assert _signup(Client(REMOTE_ADDR=office), email="next.day@example.com").status_code == 302


@time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, 10, tzinfo=dt.UTC), tick=False)
def test_signup_attempts_are_throttled_per_address_whether_or_not_it_has_an_account(account):
    """Each attempt counts, a taken address's ("already exists") as a new one's (here refused for its
    password): from many client addresses, one address gets the limit of attempts, then the same
    refusal, which does not say whether the address has an account."""
    limit = SIGNUP_PER_EMAIL.fixed_limit
    refusals = {}
    tries = ((account.email, STRONG, "already exists"), ("nobody@example.com", "12345678", "too common"))
    for email, password, why in tries:
        for i in range(limit):
            client = Client(REMOTE_ADDR=f"203.0.113.{len(refusals) * limit + i + 1}")  # not per client
            response = _signup(client, email=email, password=password)
            assert response.status_code == 400 and why in response.content.decode()
        refusals[email] = _signup(Client(REMOTE_ADDR="198.51.100.7"), email=email.upper())
    for refused in refusals.values():
        page = refused.content.decode()
        assert refused.status_code == 429 and "Retry-After" in refused
        assert "Too many sign-up attempts. Wait 60 minutes, then try again." in page
        assert "already exists" not in page
    # The refused attempt had a good password: nothing was written for it.
    assert not Account.objects.filter(email="nobody@example.com").exists()
    assert not AuditEvent.objects.filter(action="account:created").exists()


def test_password_reset_with_a_weak_password_is_a_form_error(browser, account, password):
    from django.contrib.auth.tokens import default_token_generator

    token = default_token_generator.make_token(account)
    response = browser.post(
        f"/password-reset/{account.account_id}/{token}", {"new_password": "123", "confirm_password": "123"}
    )
    assert response.status_code == 400 and b"too short" in response.content
    account.refresh_from_db()
    assert account.check_password(password)


def test_profile_page_renames(browser, account, sign_in, one_event):
    sign_in(browser, account.email)
    response = browser.post("/account/", {"display_name": "Renamed"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.display_name == "Renamed"
    one_event("account:profile:updated")
    assert browser.post("/account/", {"display_name": "n" * 10_000}).status_code == 400


def test_an_account_that_got_a_password_while_the_link_was_open_is_asked_for_it(
    django_capture_on_commit_callbacks, mailoutbox, monkeypatch
):
    """The page looked, found no password, and one was set before the verification ran: the
    answer is the page again, now asking for it — not an error."""
    from orgwarden.accounts import services

    account = Account.objects.create(email="late@example.com", display_name="Late")
    account.set_unusable_password()
    account.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.email_verification_send(account=account)
    path = re.search(r"http://testserver(/verify-email/\S+)", mailoutbox[-1].body).group(1)
    looked = services.email_verification_account

    def password_set_meanwhile(**kwargs):
        found = looked(**kwargs)
        stored = Account.objects.get(pk=found.pk)
        stored.set_password(STRONG)
        stored.save(update_fields=["password"])
        return found

    monkeypatch.setattr(services, "email_verification_account", password_set_meanwhile)
    response = Client().post(path)
    assert response.status_code == 302 and response["Location"] == path
    assert not Account.objects.get(pk=account.pk).email_verified
