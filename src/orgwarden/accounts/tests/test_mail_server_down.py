"""A mail server that is down never turns a change that committed into a 500.

Emails leave after the change commits (``accounts.emails.send_after_commit``), in the request: a
refused SMTP connection raised out of the commit, and the person saw "Server error" for a sign-up,
an invitation or an email change that had happened — and, trying again, was told the address was
taken or the invitation sent. The send is now logged as failed, with its subject and address (not
its body: it holds the link), to be tried again (test_email_retries.py), and the request answers
as if it had left.

The mail server is Django's SMTP backend pointed at a loopback port nothing listens on.
"""

from __future__ import annotations

import logging
import socket

import pytest
from django.core.cache import cache
from django.test import Client

from orgwarden.accounts import emails
from orgwarden.accounts.models import Account

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit runs at the request's own commit


@pytest.fixture
def mail_server_down(settings):
    with socket.socket() as probe:  # a loopback port that refuses connections once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    yield
    emails.background_forget_retries()
    cache.delete(emails.FAILING_KEY)  # "emails failing", noted in the cache, outlives the test


RETRYING = "could not be sent (ConnectionRefusedError: [Errno 111] Connection refused); trying again in 5 s"


def test_a_sign_up_while_the_mail_server_is_down_is_made_and_its_email_logged_as_failed(
    mail_server_down, caplog
):
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.WARNING, logger="orgwarden.accounts.emails"):
        response = client.post(
            "/signup",
            {
                "email": "dana@example.com",
                "display_name": "Dana",
                "password": "a long and unusual passphrase 7",
            },
        )
    assert response.status_code == 302
    assert Account.objects.filter(email="dana@example.com").exists()
    (record,) = [r for r in caplog.records if r.name == "orgwarden.accounts.emails"]
    assert record.getMessage() == f"The email 'Verify your email address' to dana@example.com {RETRYING}"
    assert "/verify-email/" not in caplog.text  # the link stays out of the log
    assert client.get("/account/").status_code == 200  # signed in, as after any sign-up


def test_a_support_request_raised_while_the_mail_server_is_down_is_raised_and_each_email_logged(
    mail_server_down, settings, org, org_admin, caplog
):
    """Support's emails (one per address of the team, support/emails.py) go through the same send."""
    from django.urls import reverse

    from orgwarden.support.models import SupportRequest

    settings.SUPPORT_EMAILS = ["support@operator.example", "oncall@operator.example"]
    client = Client(raise_request_exception=False)
    client.force_login(org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    with caplog.at_level(logging.WARNING, logger="orgwarden.accounts.emails"):
        response = client.post(
            reverse("console:support", args=[org.org_id]),
            {"severity": "L3", "summary": "Jira is slow", "description": "Since 10"},
        )
    assert response.status_code == 302
    assert SupportRequest.objects.filter(org=org, summary="Jira is slow").exists()
    failed = sorted(
        r.getMessage().rsplit(" to ", 1)[1] for r in caplog.records if r.name == "orgwarden.accounts.emails"
    )
    assert failed == [f"oncall@operator.example {RETRYING}", f"support@operator.example {RETRYING}"]
