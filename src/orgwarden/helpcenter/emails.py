"""Emails to help-center customers. Always queued with ``transaction.on_commit``."""

from __future__ import annotations

from django.urls import reverse

from orgwarden.accounts.emails import absolute_url, send_templated


def reset_link_send(*, to: str, site_id: str, site_name: str, token: str) -> None:
    url = absolute_url(reverse("helpcenter:reset_confirm", args=[site_id, token]))
    send_templated(
        to=to,
        subject=f"Reset your password for {site_name}",
        template="helpcenter/email/reset.txt",
        context={"url": url, "site_name": site_name},
    )
