"""Email backends for the tests that need a mail server that is slow or down.

Django's own backends (``locmem``: ``mail.outbox``; ``filebased``: one file per connection), each
taking ``settings.SLOW_EMAIL_SECONDS`` (default 2) per send, as a distant SMTP server's exchange
does; and one that refuses every message, as a mail server that is down. Set one with
``settings.EMAIL_BACKEND = "orgwarden.testing.mail.SlowEmailBackend"``.
"""

from __future__ import annotations

import smtplib
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


class DownEmailBackend(LocmemBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
