"""Emails the accounts domain sends. Always queued with ``transaction.on_commit``
(``send_after_commit``): a change that rolls back sends nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string


def absolute_url(path: str) -> str:
    return settings.BASE_URL.rstrip("/") + path


def send_templated(*, to: str, subject: str, template: str, context: dict) -> None:
    """Send ``template`` to ``to``. ``subject`` is made one line: it often carries a name someone
    typed or an IdP sent, and a line break in it would make Django refuse the whole message."""
    subject = " ".join(subject.split())
    context = {"installation_name": settings.INSTALLATION_NAME, **context}
    body = render_to_string(template, context)
    send_mail(f"[{settings.INSTALLATION_NAME}] {subject}", body, None, [to])


def send_after_commit(*, to: str, subject: str, template: str, context: dict) -> None:
    """``send_templated`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_templated(to=to, subject=subject, template=template, context=context))
