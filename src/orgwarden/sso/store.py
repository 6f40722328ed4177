"""The processor's ``StateStore`` in the database: one-time AuthnRequest IDs and the replay cache.

Rows live in SQL so every app process (and machine) shares them. Expired rows are purged
opportunistically when new ones are written, so neither table grows without bound.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from orgwarden.sso.models import SamlAssertionSeen, SamlConnection, SamlRequest

REQUEST_LIFETIME = timedelta(minutes=10)


class DatabaseStateStore:
    def __init__(self, connection: SamlConnection) -> None:
        self.connection = connection
        self.consumed: SamlRequest | None = None

    def request_consume(self, request_id: str, now: datetime) -> str | None:
        # One UPDATE decides, so two concurrent posts of the same response cannot both win.
        updated = SamlRequest.objects.filter(
            request_id=request_id[:64],
            connection=self.connection,
            used_at__isnull=True,
            created_at__gt=now - REQUEST_LIFETIME,
        ).update(used_at=now)
        if not updated:
            return None
        self.consumed = SamlRequest.objects.get(request_id=request_id[:64])
        return self.consumed.relay_state

    def assertion_remember(self, assertion_id: str, expires_at: datetime) -> bool:
        SamlAssertionSeen.objects.filter(expires_at__lt=timezone.now()).delete()
        try:
            with transaction.atomic():
                SamlAssertionSeen.objects.create(
                    connection=self.connection, assertion_id=assertion_id[:256], expires_at=expires_at
                )
        except IntegrityError:
            return False
        return True


def requests_purge(now: datetime) -> int:
    return SamlRequest.objects.filter(created_at__lt=now - REQUEST_LIFETIME).delete()[0]
