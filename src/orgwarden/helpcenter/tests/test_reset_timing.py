"""A help center's password-reset request takes the same time whether or not the email has a
customer: the reset email leaves through ``accounts.emails``' background senders, after the answer
(``accounts/tests/test_reset_timing.py`` says why)."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

from orgwarden.accounts import emails
from orgwarden.helpcenter import services
from orgwarden.helpcenter.tests.conftest import help_center

pytestmark = pytest.mark.django_db

SLOW = 2.0  # seconds the mail server takes per email


def test_a_reset_for_a_customer_answers_without_waiting_for_the_mail_server(
    site, settings, django_capture_on_commit_callbacks, mailoutbox
):
    services.customer_sign_up(
        help_center=help_center(site.org, site), email="pat@customer.test", password="correct horse 42 staple"
    )
    settings.EMAIL_BACKEND = "orgwarden.testing.mail.SlowEmailBackend"
    settings.SLOW_EMAIL_SECONDS = SLOW
    path = reverse("helpcenter:reset", args=[site.site_id])
    took = {}
    for email in ("pat@customer.test", "nobody@customer.test"):
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):  # as the request's own commit
            response = Client().post(path, {"email": email})
        took[email] = time.monotonic() - started
        assert response.status_code == 200 and "reset-sent" in response.content.decode()
    # Before, the customer's answer took the mail server's SLOW seconds more than nobody's.
    assert all(seconds < SLOW / 2 for seconds in took.values()), took

    assert emails.background_drain(timeout=30)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["pat@customer.test"]
    assert f"http://testserver/helpcenter/{site.site_id}/reset/" in mailoutbox[0].body
