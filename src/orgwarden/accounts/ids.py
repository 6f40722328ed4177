"""Public opaque identifiers and one-time secrets (pure, no Django)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_public_id() -> str:
    """A random, opaque public id: 24 lowercase hex characters (96 bits), like Atlassian's."""
    return secrets.token_hex(12)


PUBLIC_ID_MAX = 24


def public_id_lookup(value: object) -> str:
    """``value`` as the public id to look up: itself when it could be one, else "" (no row has it).

    Ids come from URLs, forms and JSON. Cutting a long one to 24 characters would let
    ``<a real id>zz`` find the real object (and act on it); a NUL would make PostgreSQL refuse the
    query. So anything longer than an id, holding a NUL or not a string looks up "": not found.
    """
    if not isinstance(value, str) or len(value) > PUBLIC_ID_MAX or "\x00" in value:
        return ""
    return value


def new_secret(prefix: str = "") -> str:
    """A high-entropy one-time value (256 bits), URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def secret_hash(value: str) -> str:
    """SHA-256 of a high-entropy secret. Enough for 256-bit random values; not for passwords."""
    return hashlib.sha256(value.encode()).hexdigest()


def secret_matches(value: str, stored_hash: str) -> bool:
    return hmac.compare_digest(secret_hash(value), stored_hash)
