"""Email backends for the tests that need a mail server that is slow or down.

Django's own backends (``locmem``: ``mail.outbox``; ``filebased``: one file per connection), each
taking ``settings.SLOW_EMAIL_SECONDS`` (default 2) per send, as a distant SMTP server's exchange
does; and one that refuses every message, as a mail server that is down. Set one with
``settings.EMAIL_BACKEND = "orgwarden.testing.mail.SlowEmailBackend"``.

``HeldEmailBackend``: a mail server that takes each message only once the test lets it (``HELD``),
so a test proves a request answered without waiting for it by what has arrived, not by a clock.

``LoopbackSmtpServer``: a real SMTP server on loopback that can defer, refuse, be down and come
back, for the tests of what Django's SMTP backend meets (``accounts.emails``' retries).
"""

from __future__ import annotations

import smtplib
import socket
import threading
import time

from django.conf import settings
from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


def _slow_exchange() -> None:
    time.sleep(float(getattr(settings, "SLOW_EMAIL_SECONDS", 2)))


class SlowEmailBackend(LocmemBackend):
    def send_messages(self, messages):
        _slow_exchange()
        return super().send_messages(messages)


class SlowFileEmailBackend(FileBackend):
    def send_messages(self, messages):
        _slow_exchange()
        return super().send_messages(messages)


class Held:
    """The gate of ``HeldEmailBackend``: ``begun`` is set when a send reaches the mail server,
    which then waits for ``release()`` (at most ``patience`` seconds, so a test that forgets cannot
    hang the suite)."""

    patience = 30.0

    def __init__(self) -> None:
        self.begun = threading.Event()
        self._released = threading.Event()

    def reset(self) -> None:
        self.begun.clear()
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def wait(self) -> None:
        self.begun.set()
        self._released.wait(self.patience)


HELD = Held()


class HeldEmailBackend(LocmemBackend):
    def send_messages(self, messages):
        HELD.wait()
        return super().send_messages(messages)


class DownEmailBackend(LocmemBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class LoopbackSmtpServer:
    """A real SMTP server (aiosmtpd) on a loopback port, for Django's SMTP backend to send to.

    ``replies`` lists what it answers to each RCPT TO in turn, ``None`` meaning "250 OK" (and to
    every one after the list ends): ``["451 4.3.0 Try again later", None]`` defers the first
    attempt and takes the second. ``stop()`` closes the port (connections are refused, as of a
    relay restarting) and ``start()`` opens it again on the same port. ``received`` holds each
    message taken (its envelope: ``mail_from``, ``rcpt_tos``, ``content``); ``attempts`` each
    RCPT TO asked, with the time (``time.time``: time-machine's) it was asked at.
    """

    def __init__(self, replies: list[str | None] | None = None, port: int = 0) -> None:
        self.replies = list(replies or [])
        self.received: list = []
        self.attempts: list[tuple[str, float]] = []
        if not port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        self.port = port
        self._controller = None

    def start(self) -> LoopbackSmtpServer:
        from aiosmtpd.controller import Controller

        # server_hostname: aiosmtpd would otherwise ask the resolver for this machine's name
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, server_hostname="mail.test")
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def use(self, settings) -> None:
        """Point Django's SMTP backend at this server (``settings``: pytest-django's fixture)."""
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", self.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""

    # aiosmtpd's handler hooks
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.attempts.append((address, time.time()))
        reply = self.replies.pop(0) if self.replies else None
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope)
        return "250 Message accepted for delivery"
