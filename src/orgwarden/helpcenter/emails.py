"""Emails to help-center customers. Always queued with ``transaction.on_commit``."""

from __future__ import annotations

from django.urls import reverse

from orgwarden.accounts.emails import absolute_url, send_after_commit_in_background


def reset_link_send_after_commit(*, to: str, site_id: str, site_name: str, token: str) -> None:
    """The reset link, by a background sender once the transaction commits: a reset request answers
    in the same time whether or not the email has a customer (``accounts.emails`` says why)."""
    url = absolute_url(reverse("helpcenter:reset_confirm", args=[site_id, token]))
    send_after_commit_in_background(
        to=to,
        subject=f"Reset your password for {site_name}",
        template="helpcenter/email/reset.txt",
        context={"url": url, "site_name": site_name},
    )
