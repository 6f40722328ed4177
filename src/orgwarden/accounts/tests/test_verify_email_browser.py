"""Verifying an email in a real browser, from a browser other than the one that signed up.

The link proves the mailbox, not who chose the password. The person who signed up verifies from
their phone with their password; the owner of an address someone else signed up with cannot verify
the stranger's account, and takes it over with a password reset instead.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from orgwarden.accounts import emails
from orgwarden.accounts.models import Account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STRANGERS = "violet-harbour-lantern-42"
OWNERS = "quiet-meadow-copper-77"


def _path_in_last_email(to: str) -> str:
    emails.background_drain()  # a reset email leaves in the background, after the page answered
    message = [m for m in mail.outbox if to in m.to][-1]
    return re.sub(r"^https?://[^/]+", "", re.search(r"https?://\S+", message.body).group(0))


def _sign_up(page, email: str, password: str) -> None:
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Full name").fill("Someone")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Verify your email address.")).to_be_visible()


def test_the_person_who_signed_up_verifies_elsewhere_with_their_password(new_page):
    laptop, phone = new_page(), new_page()
    _sign_up(laptop, "ann@acme.test", OWNERS)
    phone.goto(_path_in_last_email("ann@acme.test"))
    expect(phone.get_by_text("Enter the password of the account ann@acme.test")).to_be_visible()
    phone.get_by_label("Password").fill("not-it-at-all-99")
    phone.get_by_role("button", name="Verify my email").click()
    expect(phone.get_by_text("That is not the password of this account.")).to_be_visible()
    phone.get_by_label("Password").fill(OWNERS)
    phone.get_by_role("button", name="Verify my email").click()
    expect(phone.get_by_text("Your email ann@acme.test is verified.")).to_be_visible()
    assert Account.objects.get(email="ann@acme.test").email_verified


def test_the_owner_of_the_address_takes_a_strangers_sign_up_over_with_a_password_reset(new_page):
    stranger, owner = new_page(), new_page()
    _sign_up(stranger, "bob@acme.test", STRANGERS)

    owner.goto(_path_in_last_email("bob@acme.test"))
    expect(owner.get_by_text("Did not create this account?")).to_be_visible()
    owner.get_by_role("link", name="Reset its password").click()
    owner.get_by_label("Email").fill("bob@acme.test")
    owner.get_by_role("button", name="Send reset link").click()
    expect(owner.get_by_text("bob@acme.test")).to_be_visible()
    owner.goto(_path_in_last_email("bob@acme.test"))
    owner.get_by_label("New password", exact=True).fill(OWNERS)
    owner.get_by_label("Confirm new password").fill(OWNERS)
    owner.get_by_role("button", name="Change password").click()
    expect(owner.get_by_role("heading", name="Choose a new password")).not_to_be_visible()

    bob = Account.objects.get(email="bob@acme.test")
    assert bob.email_verified and bob.check_password(OWNERS) and not bob.check_password(STRANGERS)
    stranger.goto("/account/")
    expect(stranger.get_by_role("heading", name="Sign in")).to_be_visible()  # signed out everywhere
