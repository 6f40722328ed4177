"""Reads of support requests: an org's own (scoped by org), and the staff queue across orgs."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet

from orgwarden.accounts.models import Account
from orgwarden.orgs.models import Organization
from orgwarden.support.exceptions import NotFound
from orgwarden.support.models import SupportRequest

# A request still waiting for its first answer is "about to breach" this close to its deadline.
BREACH_WARNING = timedelta(hours=1)


def requests_of(*, org: Organization) -> QuerySet[SupportRequest]:
    return SupportRequest.objects.filter(org=org).select_related("raised_by").order_by("-created_at")


def request_of(*, org: Organization, request_id: str) -> SupportRequest:
    """One of ``org``'s requests; raises ``NotFound`` for an unknown id or another org's request."""
    try:
        return SupportRequest.objects.select_related("raised_by").get(org=org, request_id=request_id)
    except SupportRequest.DoesNotExist as exc:
        raise NotFound() from exc


def is_staff(account: Account) -> bool:
    return bool(account.is_authenticated and account.is_staff and account.status == Account.Status.ACTIVE)


def queue(*, include_resolved: bool = False) -> QuerySet[SupportRequest]:
    """The staff queue: open and answered requests by response deadline (earliest first)."""
    qs = SupportRequest.objects.select_related("org", "raised_by")
    if not include_resolved:
        qs = qs.exclude(status=SupportRequest.Status.RESOLVED)
    return qs.order_by("response_due_at", "created_at")


def request_for_staff(*, request_id: str) -> SupportRequest:
    try:
        return SupportRequest.objects.select_related("org", "raised_by").get(request_id=request_id)
    except SupportRequest.DoesNotExist as exc:
        raise NotFound() from exc


def deadline_state(request: SupportRequest, *, now: datetime) -> str:
    """``met``, ``breached`` (no answer and past due), ``at-risk`` (due within an hour) or ``pending``."""
    if request.first_response_at is not None:
        return "met" if request.first_response_at <= request.response_due_at else "late"
    if now >= request.response_due_at:
        return "breached"
    if request.response_due_at - now <= BREACH_WARNING:
        return "at-risk"
    return "pending"
