"""Reads of the audit log. Every read is scoped by ``org_id`` (or by the account, for its own events)."""

from __future__ import annotations

from django.db.models import QuerySet

from orgwarden.audit.models import AuditEvent


def events_recent(*, org_id: str, limit: int = 10) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(org_id=org_id).order_by("-id")[:limit]
