"""Org API keys: create (value shown once), revoke, and authenticate a presented value.

A key's value is ``owk_`` + 43 URL-safe characters (256 bits). The prefix makes a leaked key
recognisable to secret scanners; only its SHA-256 is stored, looked up by that hash (an indexed
equality), so a presented key costs one query and one SHA-256 — never a slow hash per request.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from orgwarden.accounts.ids import new_secret, public_id_lookup, secret_hash
from orgwarden.accounts.models import Account
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs.models import Organization
from orgwarden.tokens.exceptions import InvalidKeyRequest, KeyNotFound, KeyRevokedAlready
from orgwarden.tokens.models import OrgApiKey

KEY_PREFIX = "owk_"
DEFAULT_LIFETIME_DAYS = 7
MAX_LIFETIME_DAYS = 365
LAST_USED_GRANULARITY = timedelta(minutes=1)


def _target(key: OrgApiKey) -> Target:
    return Target("api_key", key.key_id, key.name)


@transaction.atomic
def api_key_create(
    *, org: Organization, actor: Account, name: str, expires_in_days: int = DEFAULT_LIFETIME_DAYS
) -> tuple[OrgApiKey, str]:
    """Create a key; returns it and its value, which is never shown again.

    Raises ``InvalidKeyRequest`` for an empty name or a lifetime outside 1-365 days.
    """
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise InvalidKeyRequest("Enter a name of 1 to 100 characters.")
    if not 1 <= expires_in_days <= MAX_LIFETIME_DAYS:
        raise InvalidKeyRequest(f"A key expires after 1 to {MAX_LIFETIME_DAYS} days.")
    value = new_secret(KEY_PREFIX)
    key = OrgApiKey.objects.create(
        org=org,
        name=name,
        prefix=value[: len(KEY_PREFIX) + 6],
        token_hash=secret_hash(value),
        created_by=actor,
        expires_at=timezone.now() + timedelta(days=expires_in_days),
    )
    event_record(
        action="org:api_key:created",
        actor=Actor.account(actor),
        org_id=org.org_id,
        targets=[_target(key)],
        details={"expires_at": key.expires_at.isoformat()},
    )
    return key, value


@transaction.atomic
def api_key_revoke(*, org: Organization, actor: Account, key_id: str) -> OrgApiKey:
    """Revoke one of ``org``'s keys. Raises ``KeyNotFound`` (also for another org's key), or its
    ``KeyRevokedAlready`` for a key revoked before (a revoke sent twice)."""
    key = OrgApiKey.objects.select_for_update().filter(org=org, key_id=public_id_lookup(key_id)).first()
    if key is None:
        raise KeyNotFound()
    if key.revoked_at is not None:
        raise KeyRevokedAlready()
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    event_record(
        action="org:api_key:revoked", actor=Actor.account(actor), org_id=org.org_id, targets=[_target(key)]
    )
    return key


def api_key_authenticate(*, value: str) -> OrgApiKey | None:
    """The live key with this value, or ``None``. Records last use at most once a minute."""
    if not value.startswith(KEY_PREFIX) or len(value) > 100:
        return None
    now = timezone.now()
    key = (
        OrgApiKey.objects.select_related("org")
        .filter(token_hash=secret_hash(value), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if key is None:
        return None
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_GRANULARITY:
        # Bookkeeping, not a change anyone made: no audit event.
        OrgApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
