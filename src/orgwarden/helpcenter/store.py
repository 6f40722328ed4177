"""The processor's ``StateStore`` for a help center's customer IdP: the sibling of
``sso.store.DatabaseStateStore`` (same interface, same one-UPDATE burn), on the help-center tables.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from orgwarden.helpcenter.models import HelpCenter, HelpCenterAssertionSeen, HelpCenterSamlRequest

REQUEST_LIFETIME = timedelta(minutes=10)


class HelpCenterStateStore:
    def __init__(self, help_center: HelpCenter) -> None:
        self.help_center = help_center
        self.consumed: HelpCenterSamlRequest | None = None

    def request_consume(self, request_id: str, now: datetime) -> str | None:
        # One UPDATE decides, so two concurrent posts of the same response cannot both win.
        updated = HelpCenterSamlRequest.objects.filter(
            request_id=request_id[:64],
            help_center=self.help_center,
            used_at__isnull=True,
            created_at__gt=now - REQUEST_LIFETIME,
        ).update(used_at=now)
        if not updated:
            return None
        self.consumed = HelpCenterSamlRequest.objects.get(request_id=request_id[:64])
        return self.consumed.relay_state

    def assertion_remember(self, assertion_id: str, expires_at: datetime) -> bool:
        HelpCenterAssertionSeen.objects.filter(expires_at__lt=timezone.now()).delete()
        try:
            with transaction.atomic():
                HelpCenterAssertionSeen.objects.create(
                    help_center=self.help_center, assertion_id=assertion_id[:256], expires_at=expires_at
                )
        except IntegrityError:
            return False
        return True


def requests_purge(now: datetime) -> int:
    return HelpCenterSamlRequest.objects.filter(created_at__lt=now - REQUEST_LIFETIME).delete()[0]
