"""Reads of the accounts domain that pages need."""

from __future__ import annotations

from django.db.models import QuerySet

from orgwarden.accounts.models import Account, Session


def sessions_of(*, account: Account) -> QuerySet[Session]:
    """``account``'s live sessions, most recently used first."""
    from django.db.models import F
    from django.utils import timezone

    return (
        Session.objects.filter(account=account, expire_date__gt=timezone.now())
        .order_by(F("last_seen_at").desc(nulls_last=True), "-created_at")
        .only("session_key", "created_at", "last_seen_at", "ip", "user_agent", "expire_date")
    )
