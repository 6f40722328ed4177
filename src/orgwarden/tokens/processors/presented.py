"""What a product forwards to introspection, parsed: a bare token, ``email:token``, or HTTP Basic.

Products receive API calls either with ``Authorization: Bearer owt_…`` or, as many do today, with
HTTP Basic ``email:token``. They pass on whatever they got as the RFC 7662 ``token`` parameter:
``owt_…``, ``email:owt_…``, the Basic credential ``base64(email:owt_…)`` or the whole header value
``Basic base64(…)``. Pure functions, no Django.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

MAX_LENGTH = 512


@dataclass(frozen=True, slots=True)
class PresentedToken:
    token: str
    email: str | None  # given with the Basic form; must then be the token's account's email


def parse_presented(raw: str, *, prefix: str) -> PresentedToken | None:
    """The token (and email) in ``raw``, or ``None`` when it is none of the accepted forms."""
    raw = raw.strip()
    if not raw or len(raw) > MAX_LENGTH:
        return None
    if raw.lower().startswith("basic "):
        raw = raw[6:].strip()
    if raw.startswith(prefix):
        return PresentedToken(raw, None)
    if ":" not in raw:
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
    email, sep, token = raw.rpartition(":")
    if not sep or not email or "@" not in email or not token.startswith(prefix):
        return None
    return PresentedToken(token, email.strip())
