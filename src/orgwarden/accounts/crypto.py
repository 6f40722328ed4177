"""Encryption at rest of TOTP secrets, with a key derived from the installation's secret key.

Fernet (AES-128-CBC + HMAC-SHA-256) from ``cryptography``; the key is HKDF-SHA-256 of
``SECRET_KEY`` with a purpose label, so a database dump alone does not reveal anyone's second
factor. Changing ``ORGWARDEN_SECRET_KEY`` makes existing secrets unreadable: people would have to
enrol again (documented in the README).
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@cache
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"orgwarden", info=b"totp-secret-v1").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(value: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(value.encode()).decode()


def decrypt(token: str) -> str | None:
    """The plaintext, or ``None`` when the token was made with another key or is damaged."""
    try:
        return _fernet(settings.SECRET_KEY).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
