"""A password-reset request takes the same time whether or not the address has an account.

The reset email was sent in the request (after commit): a reset for an address with an account
took an SMTP exchange longer than one for an unknown address, which told anyone who timed it what
the same-message answer hides. It now leaves through ``emails``' background senders, after the
answer; ``emails.background_drain`` waits for them. The mail server here is Django's ``locmem``
backend holding each email until the test lets it go (``testing.mail.HeldEmailBackend``): an
answer that arrives while the email is still held did not wait for it, whatever the machine's load
— no clock decides. ``SlowEmailBackend`` (a distant server's two seconds) serves the tests of
waiting for the senders.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client

from orgwarden.accounts import emails
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import OrgUser
from orgwarden.sso.tests.conftest import connection, domain, enforce_sso, idp_keys  # noqa: F401 (fixtures)
from orgwarden.testing.mail import HELD, Held

pytestmark = pytest.mark.django_db

SLOW = 2.0  # seconds the mail server takes per email


@pytest.fixture
def slow_mail_server(settings):
    settings.EMAIL_BACKEND = "orgwarden.testing.mail.SlowEmailBackend"
    settings.SLOW_EMAIL_SECONDS = SLOW


@pytest.fixture
def held_mail_server(settings) -> Iterator[Held]:
    settings.EMAIL_BACKEND = "orgwarden.testing.mail.HeldEmailBackend"
    HELD.reset()
    yield HELD
    HELD.release()


def _reset(email: str, capture) -> int:
    """The reset page's status, its commit's callbacks run (as the request's own commit runs them)."""
    with capture(execute=True):
        return Client().post("/password-reset", {"email": email}).status_code


def test_a_reset_for_an_account_answers_without_waiting_for_the_mail_server(
    account, held_mail_server, django_capture_on_commit_callbacks, mailoutbox
):
    assert _reset(account.email, django_capture_on_commit_callbacks) == 200
    # Answered while the mail server still holds the email. Before, the answer came only once the
    # mail server had taken it: a known address answered a mail exchange later than an unknown one.
    assert held_mail_server.begun.wait(30) and mailoutbox == []
    assert _reset("nobody@example.com", django_capture_on_commit_callbacks) == 200
    assert AuditEvent.objects.filter(action="account:password:reset_requested").count() == 1

    held_mail_server.release()
    assert emails.background_drain(timeout=30)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [account.email]
    assert "http://testserver/password-reset/" in mailoutbox[0].body


def test_the_sso_notice_of_a_reset_leaves_in_the_background_too(
    connection,  # noqa: F811
    held_mail_server,
    django_capture_on_commit_callbacks,
    mailoutbox,
):
    """An account whose org enforces SSO gets a notice instead of a link: it does not wait either."""
    enforce_sso(connection)
    account = AccountFactory(email="sam@example.com")
    OrgUser.objects.create(
        org=connection.org,
        account=account,
        email=account.email,
        is_managed=True,
        directory=connection.directory,
    )
    assert _reset("sam@example.com", django_capture_on_commit_callbacks) == 200
    assert held_mail_server.begun.wait(30) and mailoutbox == []
    held_mail_server.release()
    assert emails.background_drain(timeout=30)
    assert len(mailoutbox) == 1 and "identity provider" in mailoutbox[0].body


@pytest.mark.django_db(transaction=True)  # the sender's thread notes "emails failing" in the cache
def test_a_background_send_that_fails_is_logged_and_the_answer_is_the_same(
    account, settings, django_capture_on_commit_callbacks, mailoutbox, caplog
):
    settings.EMAIL_BACKEND = "orgwarden.testing.mail.DownEmailBackend"
    with caplog.at_level(logging.WARNING, logger="orgwarden.accounts.emails"):
        status = _reset(account.email, django_capture_on_commit_callbacks)
        assert emails.background_drain(timeout=30)
    assert status == 200 and mailoutbox == []
    failures = [r for r in caplog.records if r.name == "orgwarden.accounts.emails"]
    assert len(failures) == 1 and failures[0].levelno == logging.WARNING  # tried again in 5 s
    assert "Reset your password" in failures[0].getMessage() and account.email in failures[0].getMessage()
    assert "SMTPServerDisconnected" in caplog.text
    emails.background_forget_retries()
    cache.delete(emails.FAILING_KEY)


def test_background_drain_says_when_sends_are_still_running(
    slow_mail_server, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        emails.send_after_commit_in_background(
            to="someone@example.com",
            subject="Hello",
            template="accounts/email/password_reset.txt",
            context={},
        )
    assert emails.background_drain(timeout=0) is False  # the mail server takes SLOW seconds
    assert emails.background_drain(timeout=30) is True and len(mailoutbox) == 1


STOPPING_WORKER = """
import os, sys
import django
django.setup()
from django.conf import settings
settings.EMAIL_BACKEND = "orgwarden.testing.mail.SlowFileEmailBackend"
settings.EMAIL_FILE_PATH = sys.argv[1]
settings.SLOW_EMAIL_SECONDS = 0.5
from orgwarden.accounts import emails
from orgwarden.accounts.tests.factories import AccountFactory
for n in range(3):
    emails.send_after_commit_in_background(
        to=f"person{n}@example.com", subject="Reset your password",
        template="accounts/email/password_reset.txt", context={"name": "P", "url": "http://x/"},
    )
sys.exit(0)  # what gunicorn's worker does when it stops (TERM, QUIT, INT, max_requests)
"""


def test_a_stopping_worker_sends_what_its_background_senders_hold(tmp_path: Path):
    """The process exits at once after handing three slow sends over: it must not exit before they
    are sent (a normal stop loses no reset email)."""
    outbox = tmp_path / "emails"
    # Its own SQLite file: ``on_commit`` asks a database whether a transaction is open.
    env = {k: v for k, v in os.environ.items() if k != "ORGWARDEN_TEST_DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="orgwarden.test_settings", ORGWARDEN_DATA_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", STOPPING_WORKER, str(outbox)], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    sent = "".join(path.read_text() for path in outbox.iterdir())
    assert sorted(line for line in sent.splitlines() if line.startswith("To: ")) == [
        f"To: person{n}@example.com" for n in range(3)
    ]
