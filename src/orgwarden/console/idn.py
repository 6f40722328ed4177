"""Internationalized domain names as people read them.

Addresses and domains are stored in their ASCII form (IDNA A-labels: ``anna@xn--mller-kva.de``,
see ``accounts.models.normalize_email``), the form DNS, SCIM, the APIs and the CSV exports use.
People read ``anna@müller.de``: ``idn_unicode`` turns the one into the other for display (the
console's ``idn_unicode`` template filter, and the console's messages). Pure, no Django.
"""

from __future__ import annotations

from typing import TypeVar

import idna

V = TypeVar("V")


def idn_unicode(value: V) -> V | str:
    """``value`` — an email address or a domain name — with its domain in Unicode (IDNA U-labels).

    Anything else comes back as it was given: plain ASCII, a value that is not text, and a domain
    IDNA refuses to decode (an invalid A-label, an empty label, one too long …). Never raises: a
    row stored before validation got stricter must still be shown, as it is stored.
    """
    if not isinstance(value, str) or "xn--" not in value.lower():
        return value
    local, at, domain = value.rpartition("@")
    try:
        return f"{local}{at}{idna.decode(domain)}"
    except (UnicodeError, ValueError):  # idna.IDNAError is a UnicodeError
        return value
