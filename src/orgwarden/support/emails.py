"""The emails of support requests. The services call these inside their transaction; the recipients
are read there and the emails leave after commit (``transaction.on_commit``), one per recipient so
nobody sees anyone else's address.

- To the support team — ``settings.SUPPORT_EMAILS`` (``ORGWARDEN_SUPPORT_EMAIL``), or when that is
  empty every active staff account: an org admin raised a request, or added to its conversation.
- To the org admins who raised the request or wrote in its conversation, while they are still
  active admins of that org: support replied, changed the severity, or resolved it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from orgwarden import humanize
from orgwarden.accounts.emails import absolute_url, send_templated
from orgwarden.accounts.models import Account
from orgwarden.orgs.models import OrgAdmin
from orgwarden.support.models import SupportMessage, SupportRequest


def support_team_addresses() -> list[str]:
    if settings.SUPPORT_EMAILS:
        return list(settings.SUPPORT_EMAILS)
    staff = Account.objects.filter(is_staff=True, status=Account.Status.ACTIVE)
    return list(staff.order_by("email").values_list("email", flat=True))


def requester_addresses(request: SupportRequest) -> list[str]:
    """The org admins in the conversation: who raised it, and who wrote in it (still admins, active)."""
    authors = set(
        SupportMessage.objects.filter(request=request, from_support=False, author__isnull=False).values_list(
            "author_id", flat=True
        )
    )
    if request.raised_by_id:
        authors.add(request.raised_by_id)
    admins = OrgAdmin.objects.filter(
        org_id=request.org_id, account_id__in=authors, account__status=Account.Status.ACTIVE
    )
    return sorted(admins.values_list("account__email", flat=True))


def _deadline(request: SupportRequest) -> str:
    """As the console shows it (UTC), and in the support team's time zone when that differs."""
    due = request.response_due_at
    text = humanize.moment_in_full(due)
    if settings.SUPPORT_TIME_ZONE != "UTC":
        text += f" ({humanize.moment_in_full(due, zone=settings.SUPPORT_TIME_ZONE)})"
    return text


def _queue(to: list[str], subject: str, template: str, context: dict) -> None:
    def send() -> None:
        for address in to:
            send_templated(to=address, subject=subject, template=template, context=context)

    if to:
        transaction.on_commit(send)


def to_support_team(*, request: SupportRequest, what: str, body: str, author: Account) -> None:
    """``what``: "raised" (a new request) or "commented" (an org admin added to it)."""
    heading = "New support request" if what == "raised" else "Update on a support request"
    _queue(
        support_team_addresses(),
        f"[{request.severity}] {heading} from {request.org.name}: {request.summary}",
        "support/email_to_support.txt",
        {
            "heading": heading,
            "ticket": request,
            "org_name": request.org.name,
            "author": author.email,
            "body": body,
            "deadline": _deadline(request),
            "url": absolute_url(reverse("support:detail", args=[request.request_id])),
        },
    )


def to_requesters(*, request: SupportRequest, what: str, body: str = "") -> None:
    """``what`` says what support did, as a sentence ("Support replied to your request.")."""
    _queue(
        requester_addresses(request),
        f"[{request.severity}] {request.summary}: {what.rstrip('.')}",
        "support/email_to_requester.txt",
        {
            "what": what,
            "ticket": request,
            "org_name": request.org.name,
            "body": body,
            "deadline": _deadline(request),
            "url": absolute_url(
                reverse("console:support_request", args=[request.org.org_id, request.request_id])
            ),
        },
    )
