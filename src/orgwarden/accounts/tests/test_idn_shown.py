"""Addresses on internationalized domains are stored in their ASCII form (``anna@xn--mller-kva.de``)
and shown to people in Unicode (``anna@müller.de``) on the sign-in and account pages, in their
messages and in the bodies of the mails they get; To: addresses and form values stay as stored."""

from __future__ import annotations

import re

import pyotp
import pytest
from django.test import Client

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory

pytestmark = pytest.mark.django_db

STORED = "anna@xn--mller-kva.de"
SHOWN = "anna@müller.de"


def text(response) -> str:
    """What a person reads on the page: its markup (attributes, hidden inputs, links) left out."""
    return re.sub(r"<[^>]*>", "", response.content.decode())


def signed_in(account: Account) -> Client:
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    return client


def test_the_password_step_names_the_address_in_unicode():
    AccountFactory(email=STORED)
    client = Client()
    assert client.post("/login", {"email": STORED})["Location"] == "/login/step/password"
    page = client.get("/login/step/password")
    assert SHOWN in text(page) and "xn--" not in text(page)
    # What the browser submits and a password manager stores keeps the stored form.
    assert f'value="{STORED}"' in page.content.decode()


def test_the_two_step_step_names_the_address_in_unicode():
    account = AccountFactory(email=STORED)
    enrolling = signed_in(account)
    setup = enrolling.get("/account/two-step/setup?new=1").content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', setup).group(1).replace(" ", "")
    enabled = enrolling.post(
        "/account/two-step/setup", {"code": pyotp.TOTP(secret).now(), "current_proof": PASSWORD}
    )
    assert enabled.status_code == 200

    client = Client()
    client.post("/login", {"email": SHOWN})
    assert client.post("/login/step/password", {"password": PASSWORD})["Location"] == "/login/step/two_step"
    page = client.get("/login/step/two_step")
    assert SHOWN in text(page) and "xn--" not in text(page)


def test_the_account_pages_show_the_address_in_unicode():
    client = signed_in(AccountFactory(email=STORED, email_verified=False))
    profile = client.get("/account/")
    assert text(profile).count(SHOWN) == 2  # "we sent a link to …" and the Email row
    assert "xn--" not in text(profile)
    change = client.get("/account/email")
    assert f"Your email is {SHOWN}." in text(change) and "xn--" not in text(change)
    resent = client.post("/account/verify-email/resend", follow=True)
    assert f"We sent a new verification link to {SHOWN}." in text(resent) and "xn--" not in text(resent)


def test_signing_up_and_verifying_say_the_address_in_unicode(django_capture_on_commit_callbacks, mailoutbox):
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        welcome = client.post(
            "/signup",
            {
                "email": "Anna@Müller.de",
                "display_name": "Anna",
                "password": "a long and unusual passphrase 7",
            },
            follow=True,
        )
    assert f"Welcome! We sent a link to {SHOWN} to verify your email." in text(welcome)
    assert "xn--" not in text(welcome)
    assert mailoutbox[0].to == [STORED]
    link = re.search(r"http://testserver(/verify-email/\S+)", mailoutbox[0].body).group(1)
    verified = client.post(link, follow=True)
    assert f"Your email {SHOWN} is verified." in text(verified) and "xn--" not in text(verified)


def test_the_password_reset_page_names_the_address_in_unicode():
    AccountFactory(email=STORED)
    page = Client().post("/password-reset", {"email": STORED})
    assert f"If an account exists for {SHOWN}," in text(page) and "xn--" not in text(page)


def test_changing_the_email_says_both_addresses_in_unicode(django_capture_on_commit_callbacks, mailoutbox):
    account = AccountFactory(email=STORED)
    client = signed_in(account)
    with django_capture_on_commit_callbacks(execute=True):
        asked = client.post(
            "/account/email", {"new_email": "anna@bücher.example", "current_password": PASSWORD}, follow=True
        )
    assert "We sent a link to anna@bücher.example." in text(asked) and "xn--" not in text(asked)
    confirm = mailoutbox[-1]
    assert confirm.to == ["anna@xn--bcher-kva.example"]  # sent to the stored form
    assert "Confirm that anna@bücher.example is your new email address" in confirm.body
    assert "xn--" not in confirm.body

    link = re.search(r"http://testserver(/account/email/confirm/\S+)", confirm.body).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(link, follow=True)
    assert "Your email is now anna@bücher.example." in text(done) and "xn--" not in text(done)
    changed = mailoutbox[-1]
    assert changed.to == [STORED]
    assert f"was changed from {SHOWN} to anna@bücher.example." in changed.body
    assert "xn--" not in changed.body
    account.refresh_from_db()
    assert account.email == "anna@xn--bcher-kva.example"
