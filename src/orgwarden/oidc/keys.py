"""The RS256 keys that sign ID tokens: created on first use, rotated with overlap, served as JWKS.

Keys live in the database (so every process and machine signs with the same key), private parts
encrypted at rest with the installation's secret key. django-oauth-toolkit reads its keys from
``oauth2_settings``; ``install()`` puts the current key and the recently retired ones there before
each OIDC view runs, re-reading the table at most every ``RELOAD_SECONDS`` — so a rotation done by
one process reaches the others within that time. A retired key stays in the JWKS for
``OVERLAP`` so ID tokens it signed keep verifying at relying parties that cache the JWKS.

A key's ``kid`` is its RFC 7638 JWK thumbprint: the ``kid`` django-oauth-toolkit publishes in the
JWKS and puts in the header of every ID token the key signs, so the id an operator sees in the
audit log and in ``orgwarden oidc rotate-signing-key``'s output is the one relying parties see.
Rotate with that command (see its module).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem

from orgwarden.accounts import crypto
from orgwarden.audit.services import Actor, event_record
from orgwarden.oidc.models import SigningKey

OVERLAP = timedelta(days=7)
RELOAD_SECONDS = 60.0
_loaded_at = -RELOAD_SECONDS


def _new_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def kid_of(pem: str) -> str:
    """The ``kid`` of a PEM private key in the JWKS and in ID token headers: its JWK thumbprint,
    computed as django-oauth-toolkit computes it."""
    return jwk_from_pem(pem).thumbprint()


def _create() -> SigningKey:
    pem = _new_pem()
    return SigningKey.objects.create(kid=kid_of(pem), private_pem=crypto.encrypt(pem))


@dataclass(frozen=True, slots=True)
class PublishedKey:
    kid: str
    created_at: datetime
    retired_at: datetime | None  # None: the key that signs now
    published_until: datetime | None  # a retired key leaves the JWKS then; None: the current key


def published_keys(*, now: datetime | None = None) -> list[PublishedKey]:
    """The keys in the JWKS now: the current one first, then the retired ones within ``OVERLAP``,
    newest first — those this installation's secret can read, as ``install`` publishes them."""
    now = now or timezone.now()
    rows = SigningKey.objects.filter(retired_at__isnull=True)[:1]
    retired = SigningKey.objects.filter(retired_at__gt=now - OVERLAP)
    return [
        PublishedKey(
            kid=k.kid,
            created_at=k.created_at,
            retired_at=k.retired_at,
            published_until=k.retired_at + OVERLAP if k.retired_at else None,
        )
        for k in [*rows, *retired]
        if crypto.decrypt(k.private_pem)
    ]


@transaction.atomic
def signing_key_rotate(*, actor: Actor | None = None) -> SigningKey:
    """Retire the current signing key and create a new one; returns the new key.

    The retired key keeps verifying (it stays in the JWKS) for ``OVERLAP``. Records
    ``system:oidc_key:rotated`` with the new ``kid`` and the retired ones. This process signs with
    the new key at once; other processes within ``RELOAD_SECONDS``.
    """
    now = timezone.now()
    retired = list(SigningKey.objects.select_for_update().filter(retired_at__isnull=True))
    SigningKey.objects.filter(pk__in=[k.pk for k in retired]).update(retired_at=now)
    key = _create()
    event_record(
        action="system:oidc_key:rotated",
        actor=actor or Actor.system(),
        details={"kid": key.kid, "retired": [k.kid for k in retired]},
    )
    forget()
    return key


def forget() -> None:
    """Make the next ``install()`` re-read the table (tests, whose databases come and go)."""
    global _loaded_at
    _loaded_at = -RELOAD_SECONDS


def install(*, force: bool = False) -> None:
    """Put the current key (created if none) and the overlapping retired ones in DOT's settings."""
    global _loaded_at
    if not force and time.monotonic() - _loaded_at < RELOAD_SECONDS:
        return
    current = SigningKey.objects.filter(retired_at__isnull=True).first()
    if current is None:
        with transaction.atomic():
            current = (
                SigningKey.objects.select_for_update().filter(retired_at__isnull=True).first() or _create()
            )
    retired = SigningKey.objects.filter(retired_at__gt=timezone.now() - OVERLAP)
    oauth2_settings.OIDC_RSA_PRIVATE_KEY = crypto.decrypt(current.private_pem)
    oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE = [
        pem for pem in (crypto.decrypt(k.private_pem) for k in retired) if pem
    ]
    _loaded_at = time.monotonic()
