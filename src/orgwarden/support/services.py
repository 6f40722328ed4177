"""Every change to support requests: raised and commented on by org admins; replied to,
re-prioritised and resolved by the installation's staff (``Account.is_staff``). Each records one
audit event, in the org's log, in the same transaction, and queues its emails for after the commit
(``emails``): raising and commenting tell the support team; replying, changing the severity and
resolving tell the org admins in the conversation.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orgwarden.accounts.models import Account
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs.exceptions import NotFound as OrgNotFound
from orgwarden.orgs.models import Organization
from orgwarden.orgs.services.actors import org_actor
from orgwarden.support import emails, sla
from orgwarden.support.exceptions import AlreadyResolved, InvalidRequest, NotFound
from orgwarden.support.models import SupportMessage, SupportRequest

MAX_SUMMARY = 200
MAX_BODY = 10_000


def deadline_for(*, raised_at: datetime, severity: str) -> datetime:
    """The first-response deadline under the operator's time zone and holidays."""
    return sla.response_deadline(
        raised_at=raised_at,
        level=severity,
        tz=ZoneInfo(settings.SUPPORT_TIME_ZONE),
        holidays=settings.SUPPORT_HOLIDAYS,
    )


def _target(request: SupportRequest) -> Target:
    return Target("support_request", request.request_id, request.summary)


def _check_body(body: str) -> str:
    body = (body or "").strip()
    if not body or len(body) > MAX_BODY:
        raise InvalidRequest(f"Write a message of 1 to {MAX_BODY:,} characters.")
    return body


def _staff(actor: Account) -> Actor:
    if not (isinstance(actor, Account) and actor.is_staff and actor.status == Account.Status.ACTIVE):
        raise NotFound()
    return Actor.account(actor)


def _locked(request_id: str) -> SupportRequest:
    try:
        return SupportRequest.objects.select_for_update().select_related("org").get(request_id=request_id)
    except SupportRequest.DoesNotExist as exc:
        raise NotFound() from exc


@transaction.atomic
def support_request_raise(
    *, org: Organization, actor: Account, severity: str, summary: str, description: str
) -> SupportRequest:
    """Raise a request for ``org`` with its first message; returns it with its response deadline.

    Raises ``NotFound`` unless ``actor`` is an admin of ``org``, ``InvalidRequest`` for an unknown
    severity or an empty or overlong summary or description.
    """
    try:
        who = org_actor(org=org, actor=actor)
    except OrgNotFound as exc:
        raise NotFound() from exc
    summary = (summary or "").strip()
    if severity not in SupportRequest.Severity.values:
        raise InvalidRequest("Choose a severity from L1 to L4.")
    if not summary or len(summary) > MAX_SUMMARY:
        raise InvalidRequest(f"Write a summary of 1 to {MAX_SUMMARY} characters.")
    body = _check_body(description)
    now = timezone.now()
    request = SupportRequest.objects.create(
        org=org,
        raised_by=actor,
        severity=severity,
        summary=summary,
        created_at=now,
        response_due_at=deadline_for(raised_at=now, severity=severity),
    )
    SupportMessage.objects.create(request=request, author=actor, body=body, created_at=now)
    event_record(
        action="org:support_request:raised",
        actor=who,
        org_id=org.org_id,
        targets=[_target(request)],
        details={"severity": severity, "response_due_at": request.response_due_at.isoformat()},
    )
    emails.to_support_team(request=request, what="raised", body=body, author=actor)
    return request


@transaction.atomic
def support_request_comment(
    *, org: Organization, actor: Account, request_id: str, body: str
) -> SupportMessage:
    """An org admin adds to the conversation of one of its org's requests (reopens a resolved one).

    Raises ``NotFound`` for another org's request or a non-admin, ``InvalidRequest`` for an empty body.
    """
    try:
        who = org_actor(org=org, actor=actor)
    except OrgNotFound as exc:
        raise NotFound() from exc
    request = _locked(request_id)
    if request.org_id != org.pk:
        raise NotFound()
    body = _check_body(body)
    message = SupportMessage.objects.create(
        request=request, author=actor, body=body, created_at=timezone.now()
    )
    if request.status != SupportRequest.Status.OPEN:
        request.status = SupportRequest.Status.OPEN
        request.resolved_at = None
        request.save(update_fields=["status", "resolved_at"])
    event_record(
        action="org:support_request:commented", actor=who, org_id=org.org_id, targets=[_target(request)]
    )
    emails.to_support_team(request=request, what="commented", body=body, author=actor)
    return message


@transaction.atomic
def support_request_reply(*, actor: Account, request_id: str, body: str) -> SupportMessage:
    """Support staff answer a request; the first answer meets (or misses) the response deadline.

    Raises ``NotFound`` for a non-staff actor or an unknown request, ``InvalidRequest`` for an empty body.
    """
    who = _staff(actor)
    request = _locked(request_id)
    body = _check_body(body)
    now = timezone.now()
    message = SupportMessage.objects.create(
        request=request, author=actor, from_support=True, body=body, created_at=now
    )
    fields = ["status"]
    first = request.first_response_at is None
    if first:
        request.first_response_at = now
        fields.append("first_response_at")
    if request.status == SupportRequest.Status.RESOLVED:
        request.resolved_at = None
        fields.append("resolved_at")
    request.status = SupportRequest.Status.ANSWERED
    request.save(update_fields=fields)
    event_record(
        action="org:support_request:replied",
        actor=who,
        org_id=request.org.org_id,
        targets=[_target(request)],
        details={"first_response": first, "within_target": now <= request.response_due_at} if first else {},
    )
    emails.to_requesters(request=request, what="Support replied to your request.", body=body)
    return message


@transaction.atomic
def support_request_severity_change(*, actor: Account, request_id: str, severity: str) -> SupportRequest:
    """Support staff change a request's severity; the deadline is recomputed from when it was raised.

    Raises ``NotFound`` for a non-staff actor or an unknown request, ``InvalidRequest`` for an
    unknown or unchanged severity, ``AlreadyResolved`` for a resolved request.
    """
    who = _staff(actor)
    request = _locked(request_id)
    if severity not in SupportRequest.Severity.values:
        raise InvalidRequest("Choose a severity from L1 to L4.")
    if severity == request.severity:
        raise InvalidRequest(f"The request is already {severity}.")
    if request.status == SupportRequest.Status.RESOLVED:
        raise AlreadyResolved()
    before = request.severity
    request.severity = severity
    request.response_due_at = deadline_for(raised_at=request.created_at, severity=severity)
    request.save(update_fields=["severity", "response_due_at"])
    event_record(
        action="org:support_request:severity_changed",
        actor=who,
        org_id=request.org.org_id,
        targets=[_target(request)],
        details={"from": before, "to": severity, "response_due_at": request.response_due_at.isoformat()},
    )
    emails.to_requesters(request=request, what=f"Support changed the severity from {before} to {severity}.")
    return request


@transaction.atomic
def support_request_resolve(*, actor: Account, request_id: str) -> SupportRequest:
    """Support staff resolve a request. Raises ``NotFound`` or ``AlreadyResolved``."""
    who = _staff(actor)
    request = _locked(request_id)
    if request.status == SupportRequest.Status.RESOLVED:
        raise AlreadyResolved()
    request.status = SupportRequest.Status.RESOLVED
    request.resolved_at = timezone.now()
    request.save(update_fields=["status", "resolved_at"])
    event_record(
        action="org:support_request:resolved",
        actor=who,
        org_id=request.org.org_id,
        targets=[_target(request)],
    )
    emails.to_requesters(
        request=request,
        what="Support resolved your request. If it is not solved, add to the conversation to reopen it.",
    )
    return request
