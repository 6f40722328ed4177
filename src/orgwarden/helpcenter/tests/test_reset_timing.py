"""A help center's password-reset request takes the same time whether or not the email has a
customer: the reset email leaves through ``accounts.emails``' background senders, after the answer
(``accounts/tests/test_reset_timing.py`` says why)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orgwarden.accounts import emails
from orgwarden.helpcenter import services
from orgwarden.helpcenter.tests.conftest import help_center
from orgwarden.testing.mail import HELD

pytestmark = pytest.mark.django_db


def test_a_reset_for_a_customer_answers_without_waiting_for_the_mail_server(
    site, settings, django_capture_on_commit_callbacks, mailoutbox
):
    services.customer_sign_up(
        help_center=help_center(site.org, site), email="pat@customer.test", password="correct horse 42 staple"
    )
    settings.EMAIL_BACKEND = "orgwarden.testing.mail.HeldEmailBackend"
    HELD.reset()
    path = reverse("helpcenter:reset", args=[site.site_id])
    try:
        for email in ("pat@customer.test", "nobody@customer.test"):
            with django_capture_on_commit_callbacks(execute=True):  # as the request's own commit
                response = Client().post(path, {"email": email})
            assert response.status_code == 200 and "reset-sent" in response.content.decode()
        # Answered while the mail server still holds the customer's email: before, that answer came
        # a mail exchange later than nobody's.
        assert HELD.begun.wait(30) and mailoutbox == []
    finally:
        HELD.release()
    assert emails.background_drain(timeout=30)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["pat@customer.test"]
    assert f"http://testserver/helpcenter/{site.site_id}/reset/" in mailoutbox[0].body
