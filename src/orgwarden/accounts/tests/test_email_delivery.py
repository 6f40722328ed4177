"""Which mail-server failures are tried again, when, and the queue that holds them: no database,
no server — the exceptions are smtplib's and the socket's own, as Django's SMTP backend raises them.
(The same with a real SMTP server on loopback: test_email_retries.py.)"""

from __future__ import annotations

import smtplib
import socket
import ssl

import pytest

from orgwarden.accounts import email_delivery
from orgwarden.accounts.email_delivery import (
    RetryQueue,
    concerns_the_mail_server,
    describe,
    is_transient,
    retry_delay,
)

REFUSED_550 = smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"5.1.1 User unknown")})
DEFERRED_451 = smtplib.SMTPRecipientsRefused({"a@example.com": (451, b"4.3.0 Try again later")})


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError("timed out"),
        socket.gaierror(-3, "Temporary failure in name resolution"),
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        smtplib.SMTPConnectError(421, b"Too many connections"),
        smtplib.SMTPSenderRefused(451, b"4.3.0 Local error", "no-reply@example.com"),
        smtplib.SMTPDataError(452, b"4.3.1 Insufficient system storage"),
        smtplib.SMTPAuthenticationError(454, b"4.7.0 Temporary authentication failure"),
        DEFERRED_451,
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_what_the_mail_server_may_get_over_is_transient(exc):
    assert is_transient(exc) and concerns_the_mail_server(exc)


@pytest.mark.parametrize(
    ("exc", "about_the_server"),
    [
        (REFUSED_550, False),  # this recipient: the relay is fine
        (smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"), False),  # this message
        (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "x@example.com"), True),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"), True),
        (smtplib.SMTPConnectError(554, b"No SMTP service here"), True),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."), True),
        (smtplib.SMTPException("No suitable authentication method found."), True),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_what_fails_again_when_sent_again_is_permanent(exc, about_the_server):
    assert not is_transient(exc)
    assert concerns_the_mail_server(exc) is about_the_server


def test_the_wait_doubles_from_five_seconds_up_to_two_minutes():
    assert [retry_delay(n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 120, 120, 120]


def test_a_failure_is_described_on_one_line_as_the_server_said_it():
    assert describe(REFUSED_550) == "550 5.1.1 User unknown"
    assert describe(smtplib.SMTPDataError(451, b"4.3.0 Try\r\n again")) == "451 4.3.0 Try again"
    assert describe(ConnectionRefusedError(111, "Connection refused")) == (
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_queue_hands_on_each_item_once_when_it_is_due_in_due_order():
    clock, handed = Clock(), []
    queue = RetryQueue(handed.append, clock=clock, background=False)
    queue.schedule("later", 1020.0)
    queue.schedule("sooner", 1005.0)
    queue.schedule("also sooner", 1005.0)
    assert queue.run_due() == 0 and handed == [] and queue.next_due() == 1005.0
    clock.now = 1005.0
    assert queue.run_due() == 2 and handed == ["sooner", "also sooner"]
    assert queue.run_due() == 0 and queue.waiting() == 1
    clock.now = 2000.0
    assert queue.run_due() == 1 and handed == ["sooner", "also sooner", "later"]
    assert queue.waiting() == 0 and queue.next_due() is None


def test_what_the_queue_still_holds_can_be_taken_out_unsent():
    clock, handed = Clock(), []
    queue = RetryQueue(handed.append, clock=clock, background=False)
    queue.schedule("b", 1010.0)
    queue.schedule("a", 1001.0)
    assert queue.take_all() == ["a", "b"]
    clock.now = 5000.0
    assert queue.run_due() == 0 and handed == []


def test_the_first_retry_wait_is_the_module_constant(monkeypatch):
    """The tests of a command's wait (test_email_retries.py) shorten it here."""
    monkeypatch.setattr(email_delivery, "FIRST_RETRY_SECONDS", 0.5)
    assert retry_delay(1) == 0.5 and retry_delay(3) == 2.0
