"""Hardened XML parsing for everything an outsider sends us (responses, IdP metadata). Pure.

lxml with no DTD loading, no entity resolution, no network and no huge trees; on top of that any
DOCTYPE or ENTITY declaration is refused before parsing (billion laughs, XXE), and documents above
``MAX_BYTES`` are refused unread.
"""

from __future__ import annotations

import base64
import binascii
import re

from lxml import etree

from orgwarden.sso.processors import errors

MAX_BYTES = 256 * 1024

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)


def parser() -> etree.XMLParser:
    """A fresh hardened parser (lxml parsers are not thread-safe, so one per use)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        remove_comments=False,  # kept so that comments inside a NameID are seen and refused
    )


def b64_decode(value: str | bytes) -> bytes:
    """Decode the base64 of an HTTP-POST SAMLResponse; refuses oversize and malformed input."""
    if isinstance(value, str):
        value = value.encode("ascii", "ignore")
    if len(value) > MAX_BYTES * 4 // 3 + 4:
        raise errors.TooLarge()
    try:
        return base64.b64decode(b"".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.MalformedXml("The SAMLResponse is not valid base64.") from exc


def parse(document: bytes) -> etree._Element:
    """The root element of ``document``; raises ``TooLarge``, ``DtdRefused`` or ``MalformedXml``."""
    if len(document) > MAX_BYTES:
        raise errors.TooLarge()
    if _DECLARATION.search(document):
        raise errors.DtdRefused()
    try:
        root = etree.fromstring(document, parser=parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise errors.MalformedXml(str(exc)[:200]) from exc
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise errors.DtdRefused()
    if any(True for _ in root.iter(etree.Entity)):
        raise errors.DtdRefused()
    return root


def q(prefix: str, local: str) -> str:
    """Clark notation: ``q("saml", "Assertion")`` → ``{urn:…:assertion}Assertion``."""
    return f"{{{NS[prefix]}}}{local}"


def whole_text(element: etree._Element) -> str:
    """All the text of ``element`` (never only the part before a comment), stripped."""
    return "".join(element.itertext()).strip()
