"""Time-based one-time passwords (RFC 6238) and recovery codes: pure functions, no Django.

pyotp computes the HOTP values (RFC 4226); the rules around them are ours and explicit here:
6 digits, 30-second steps, HMAC-SHA-1 (what every authenticator app supports), a drift of one step
either way, and replay refusal — a code is accepted only for a time step later than the last one
accepted for that account, so the same code (or an older one) never works twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import quote

import pyotp

DIGITS = 6
PERIOD = 30
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_secret() -> str:
    """A new base32 TOTP secret of 160 bits (RFC 4226's recommended length)."""
    return base64.b32encode(secrets.token_bytes(20)).decode()


def time_step(unix_time: float) -> int:
    return int(unix_time // PERIOD)


def code_at_step(secret: str, step: int, *, digits: int = DIGITS, digest=hashlib.sha1) -> str:
    return pyotp.HOTP(secret, digits=digits, digest=digest).at(step)


def matching_step(secret: str, code: str, *, unix_time: float, last_step: int | None) -> int | None:
    """The time step ``code`` is valid for, within the drift window and after ``last_step``.

    Returns ``None`` for a wrong, malformed, too old or replayed code.
    """
    code = code.strip().replace(" ", "")
    # ASCII digits only: ``isdigit`` also accepts "１２３４５６" or "١٢٣٤٥٦", which
    # ``hmac.compare_digest`` refuses with a TypeError (it compares ASCII strings only).
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    now = time_step(unix_time)
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_at_step(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, *, account_name: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    label = quote(f"{issuer}:{account_name}", safe="@:")
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}"
        f"&algorithm=SHA1&digits={DIGITS}&period={PERIOD}"
    )


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``count`` codes like ``k7mq-x2vd-93hp`` (60 bits each), shown once, stored hashed."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def recovery_code_hash(code: str) -> str:
    return hashlib.sha256(normalize_recovery_code(code).encode()).hexdigest()
