"""Emails the accounts domain sends. Always queued with ``transaction.on_commit``."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string


def absolute_url(path: str) -> str:
    return settings.BASE_URL.rstrip("/") + path


def send_templated(*, to: str, subject: str, template: str, context: dict) -> None:
    context = {"installation_name": settings.INSTALLATION_NAME, **context}
    body = render_to_string(template, context)
    send_mail(f"[{settings.INSTALLATION_NAME}] {subject}", body, None, [to])
