"""An email the mail server could not take for now is tried again; one it refused is not.

Before, every failed send was logged and lost: a mail relay restarting for a minute lost every
sign-in link, invitation, reset and verification sent in that minute. The mail server here is a
real one (aiosmtpd, ``testing.mail.LoopbackSmtpServer``) on a loopback port, reached by Django's
SMTP backend: closed (connection refused), deferring (451) or refusing (550), then taking mail.
time-machine holds the clock still; a test moves it to when a retry is due and
``emails.background_drain`` makes the retries then due — no test waits for a timer.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from orgwarden.accounts import emails
from orgwarden.accounts.email_delivery import retry_delay
from orgwarden.testing.mail import LoopbackSmtpServer

# The emails leave after their request's own commit, and the senders' threads read the shared
# cache (the database's table) on their own connections.
pytestmark = pytest.mark.django_db(transaction=True)

START = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
LOGGER = "orgwarden.accounts.emails"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback, not started: its port refuses connections until ``start``."""
    server = LoopbackSmtpServer()
    server.use(settings)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _mail_state_forgotten():
    yield
    emails.background_drain(timeout=60)
    emails.background_forget_retries()
    cache.delete(emails.FAILING_KEY)  # the cache table outlives a transactional test's flush


def _records(caplog, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == level]


def _shift_and_drain(clock, seconds: float) -> None:
    clock.shift(seconds)
    assert emails.background_drain(timeout=30)


def test_a_verification_email_sent_while_the_relay_restarts_leaves_once_it_is_back(
    smtp, clock, caplog, settings
):
    client = Client()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        response = client.post(
            "/signup",
            {
                "email": "dana@example.com",
                "display_name": "Dana",
                "password": "a long and unusual passphrase 7",
            },
        )
        assert response.status_code == 302  # answered at once: the request made its one attempt
        (deferred,) = _records(caplog, logging.WARNING)
        assert deferred.getMessage().startswith(
            "The email 'Verify your email address' to dana@example.com could not be sent (Connection"
        )
        assert deferred.getMessage().endswith("; trying again in 5 s")
        assert deferred.recipient_domain == "example.com" and deferred.attempts == 1
        ready = client.get("/readyz")
        assert ready.status_code == 200  # the load balancer keeps the instance: sign-in works
        assert ready.content == b"ok; emails failing since 2026-11-29T03:00:00+00:00"

        smtp.start()  # the relay is back
        _shift_and_drain(clock, 4)
        assert smtp.received == []  # not before the retry is due
        _shift_and_drain(clock, 1)
        (message,) = smtp.received
        assert message.rcpt_tos == ["dana@example.com"]
        assert b"Verify your email address" in message.content
        assert b"http://testserver/verify-email/" in message.content  # the same link, kept in memory

        _shift_and_drain(clock, 3600)
    assert len(smtp.received) == 1  # exactly once: nothing else was waiting
    assert _records(caplog, logging.ERROR) == []
    assert client.get("/readyz").content == b"ok"  # an email left: mail works again


def test_a_reset_the_mail_server_deferred_is_sent_on_the_next_attempt(account, smtp, clock, caplog):
    """A password reset's first attempt is the background senders' (the answer takes the same time
    whether or not the account exists); its retries are theirs too."""
    smtp.replies = ["451 4.3.0 Mailbox temporarily unavailable, try again later"]
    smtp.start()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert Client().post("/password-reset", {"email": account.email}).status_code == 200
        assert emails.background_drain(timeout=30)
        assert smtp.received == [] and len(smtp.attempts) == 1
        (deferred,) = _records(caplog, logging.WARNING)
        assert "(451 4.3.0 Mailbox temporarily unavailable, try again later)" in deferred.getMessage()

        _shift_and_drain(clock, retry_delay(1))
        _shift_and_drain(clock, 3600)
    (message,) = smtp.received
    assert message.rcpt_tos == [account.email] and b"/password-reset/" in message.content
    assert len(smtp.attempts) == 2
    assert _records(caplog, logging.ERROR) == []


def test_a_recipient_the_mail_server_refuses_is_not_tried_again(smtp, clock, caplog):
    smtp.replies = ["550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"]
    smtp.start()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        sent = emails.send_templated(
            to="nobody@example.org",
            subject="Reset your password",
            template="accounts/email/password_reset.txt",
            context={"name": "Nobody", "url": "http://testserver/password-reset/x/y"},
        )
        _shift_and_drain(clock, 3600)
    assert sent is False
    assert len(smtp.attempts) == 1 and smtp.received == []
    assert _records(caplog, logging.WARNING) == []
    (given_up,) = _records(caplog, logging.ERROR)
    assert given_up.getMessage() == (
        "The email 'Reset your password' to nobody@example.org could not be sent: the mail server "
        "refused it, not retried (550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown)"
    )
    assert given_up.recipient_domain == "example.org" and given_up.attempts == 1
    assert "/password-reset/x/y" not in caplog.text  # never the body and its link
    # One refused address says nothing of the relay: /readyz stays plain.
    assert Client().get("/readyz").content == b"ok"


@pytest.mark.parametrize(
    ("minutes", "attempted_at"),
    [
        (1, [0, 5, 15, 35]),
        (10, [0, 5, 15, 35, 75, 155, 275, 395, 515]),
    ],
)
def test_a_mail_server_that_stays_down_is_given_up_after_the_retry_window(
    minutes, attempted_at, smtp, clock, caplog, settings
):
    settings.EMAIL_RETRY_SECONDS = 60 * minutes
    smtp.replies = ["421 4.3.2 Service shutting down"] * 100
    smtp.start()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        emails.send_templated(
            to="sam@example.com",
            subject="You're invited",
            template="accounts/email/password_reset.txt",
            context={"name": "Sam", "url": "http://testserver/x"},
        )
        for attempts in range(1, len(attempted_at) + 3):  # two more steps than there are attempts
            _shift_and_drain(clock, retry_delay(attempts))
    started = START.timestamp()
    assert [round(at - started) for _address, at in smtp.attempts] == attempted_at
    assert attempted_at[-1] <= 60 * minutes  # no attempt starts past the window
    assert len(_records(caplog, logging.WARNING)) == len(attempted_at) - 1
    (given_up,) = _records(caplog, logging.ERROR)
    assert given_up.getMessage().startswith(
        f'The email "You\'re invited" to sam@example.com could not be sent: given up after '
        f"{len(attempted_at)} attempts in about {max(round(attempted_at[-1] / 60), 1)} min (421 4.3.2"
    )
    assert given_up.attempts == len(attempted_at) and given_up.recipient_domain == "example.com"
    assert smtp.received == []


def test_with_retries_turned_off_a_failure_is_given_up_at_once(smtp, clock, caplog, settings):
    settings.EMAIL_RETRY_SECONDS = 0
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        emails.send_templated(
            to="sam@example.com", subject="Hello", template="accounts/email/password_reset.txt", context={}
        )
        smtp.start()
        _shift_and_drain(clock, 3600)
    assert smtp.received == []
    (given_up,) = _records(caplog, logging.ERROR)
    assert "not retried, ORGWARDEN_EMAIL_RETRY_MINUTES is 0 (ConnectionRefusedError" in given_up.getMessage()


def test_past_the_most_waiting_retries_a_failure_is_given_up_at_once(smtp, clock, caplog, monkeypatch):
    """A long outage cannot grow the process's memory without end."""
    monkeypatch.setattr(emails, "MOST_WAITING_RETRIES", 1)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for to in ("first@example.com", "second@example.com"):
            emails.send_templated(
                to=to, subject="Hi", template="accounts/email/password_reset.txt", context={}
            )
        smtp.start()
        _shift_and_drain(clock, 5)
    (deferred,) = _records(caplog, logging.WARNING)
    (given_up,) = _records(caplog, logging.ERROR)
    assert "first@example.com" in deferred.getMessage()
    assert given_up.getMessage().startswith(
        "The email 'Hi' to second@example.com could not be sent: not retried, 1 emails already wait for one"
    )
    assert [m.rcpt_tos for m in smtp.received] == [["first@example.com"]]


def test_a_command_waits_for_its_emails_retries_before_it_exits(smtp, settings, monkeypatch):
    """``orgwarden daily``'s warnings are sent once a day: its process finishes their retries
    (``background_finish``) rather than exit with them. The clock runs here: the first retry is
    made due in a tenth of a second (``FIRST_RETRY_SECONDS``), and a retry that still finds the
    port closed tries again a little later, within the window."""
    from orgwarden.accounts import email_delivery

    monkeypatch.setattr(email_delivery, "FIRST_RETRY_SECONDS", 0.1)
    emails.send_templated(
        to="ops@example.com",
        subject="Proof missing",
        template="accounts/email/password_reset.txt",
        context={},
    )
    assert smtp.received == []
    smtp.start()
    assert emails.background_finish(timeout=30)
    (message,) = smtp.received
    assert message.rcpt_tos == ["ops@example.com"]


STOPPING_PROCESS = """
import sys
import django
django.setup()
from django.conf import settings
settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", int(sys.argv[1]), False
from orgwarden.accounts import emails
emails.send_after_commit_in_background(
    to="lee@example.com", subject="Reset your password",
    template="accounts/email/password_reset.txt", context={"name": "Lee", "url": "http://x/"},
)
assert emails.background_drain(timeout=30)
sys.exit(0)  # what gunicorn's worker does when it stops, its retry 5 s away
"""


def run_process(code: str, smtp_port: int, tmp_path: Path) -> subprocess.CompletedProcess:
    """``code`` in a process of its own (the test settings, no database server), its mail server
    on ``smtp_port``."""
    env = {k: v for k, v in os.environ.items() if k != "ORGWARDEN_TEST_DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="orgwarden.test_settings", ORGWARDEN_DATA_DIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-c", code, str(smtp_port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_stopping_process_logs_each_email_still_waiting_for_a_retry(smtp, tmp_path: Path):
    """Retries live in the process's memory (never the rendered email, with its link, in the
    database): a stop loses them, and says which."""
    done = run_process(STOPPING_PROCESS, smtp.port, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "to lee@example.com could not be sent (ConnectionRefusedError" in done.stderr
    assert (
        "The email 'Reset your password' to lee@example.com could not be sent: "
        "the process stopped before its next attempt"
    ) in done.stderr


LAST_ATTEMPT_PROCESS = """
import socket
import sys
import time
import django
django.setup()
from django.conf import settings
port = int(sys.argv[1])
settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
from orgwarden.accounts import emails
for to in ("lee@example.com", "kim@example.com"):  # the port is closed: each waits for a retry
    emails.send_templated(
        to=to, subject="Reset your password", template="accounts/email/password_reset.txt",
        context={"name": "Lee", "url": "http://x/password-reset/secret-token"},
    )
hung = socket.create_server(("127.0.0.1", port))  # a mail server that takes the call, then says nothing
print("sent:", emails.retries_last_attempt(until=time.monotonic() + 1))
"""


def test_a_stops_last_attempt_ends_by_its_deadline_though_the_mail_server_hangs(smtp, tmp_path: Path):
    """What an ``orgwarden serve`` worker told to stop does with the emails waiting for a retry
    (``retries_last_attempt``), against a mail server that accepts the connection and never answers
    (each attempt would wait ``EMAIL_TIMEOUT``, 10 s, for its greeting): the call returns at its
    deadline, with the attempt under way and the one after it each logged once as given up."""
    done = run_process(LAST_ATTEMPT_PROCESS, smtp.port, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "sent: 0"
    given_up = [line for line in done.stderr.splitlines() if "could not be sent:" in line]
    assert [line.split(" orgwarden.accounts.emails: ", 1)[1] for line in given_up] == [
        "The email 'Reset your password' to lee@example.com could not be sent: "
        "the server stopped before its last attempt finished",
        "The email 'Reset your password' to kim@example.com could not be sent: "
        "the server stopped before its last attempt could be made",
    ]
    assert "secret-token" not in done.stderr  # never the body and its link
