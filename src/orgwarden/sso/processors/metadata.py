"""SP metadata we publish, and IdP metadata admins import (through the hardened parser). Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from orgwarden.sso.processors import errors
from orgwarden.sso.processors.xml import parse, q, whole_text

REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


# The NameID formats this SP acts on, in order of preference (SAML metadata §2.4.4: an IdP that
# reads SP metadata, as Shibboleth does, issues the first one it can). An email NameID signs the
# person in by itself; a persistent one is the stable id, with an email attribute beside it
# (``response.check_claims``). Listing only emailAddress, as this did, made such an IdP refuse a
# person it holds no email NameID for instead of falling back to the persistent id it has.
NAME_ID_FORMATS = (
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
)


def sp_metadata_xml(*, sp_entity_id: str, acs_url: str) -> str:
    formats = "".join(f"    <md:NameIDFormat>{name}</md:NameIDFormat>\n" for name in NAME_ID_FORMATS)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f"entityID={quoteattr(sp_entity_id)}>\n"
        '  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\n'
        f"{formats}"
        f'    <md:AssertionConsumerService Binding="{POST}" Location={quoteattr(acs_url)} index="0" '
        'isDefault="true"/>\n'
        "  </md:SPSSODescriptor>\n"
        "</md:EntityDescriptor>\n"
    )


@dataclass(slots=True)
class IdpMetadata:
    entity_id: str
    sso_url: str
    certificates: list[str] = field(default_factory=list)  # PEM


def pem_from_base64(value: str) -> str:
    body = re.sub(r"\s+", "", value)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def idp_metadata_parse(document: bytes) -> IdpMetadata:
    """Entity ID, HTTP-Redirect SSO URL and signing certificates of an IdP's metadata.

    Raises a ``SamlError`` (``malformed_xml``, ``dtd_refused`` …) or ``MalformedXml`` with what is
    missing. The result only fills the connection's fields; it never relaxes a check.
    """
    # A saved or downloaded file may begin with a byte-order mark and a blank line before its XML
    # declaration, which XML allows only at the very start: both are dropped, never anything else.
    root = parse(document.removeprefix(b"\xef\xbb\xbf").lstrip())
    if root.tag == q("md", "EntitiesDescriptor"):
        # An aggregate (a federation's, or an export holding the SP too) may list other entities
        # first: the IdP is the first EntityDescriptor that describes one.
        entities = list(root.iter(q("md", "EntityDescriptor")))
        if not entities:
            raise errors.MalformedXml("The metadata holds no EntityDescriptor.")
        root = next((e for e in entities if e.find(q("md", "IDPSSODescriptor")) is not None), entities[0])
    if root.tag != q("md", "EntityDescriptor"):
        raise errors.MalformedXml("This is not SAML 2.0 metadata (no EntityDescriptor).")
    descriptor = root.find(q("md", "IDPSSODescriptor"))
    if descriptor is None:
        raise errors.MalformedXml("The metadata describes no identity provider (IDPSSODescriptor).")
    sso_url = ""
    for service in descriptor.findall(q("md", "SingleSignOnService")):
        if service.get("Binding") == REDIRECT:
            sso_url = service.get("Location", "")
            break
    if not sso_url:
        raise errors.MalformedXml("The metadata has no HTTP-Redirect SingleSignOnService.")
    certificates: list[str] = []
    for key in descriptor.findall(q("md", "KeyDescriptor")):
        if key.get("use") not in (None, "signing"):
            continue
        for cert in key.iter(q("ds", "X509Certificate")):
            pem = pem_from_base64(whole_text(cert))
            if pem not in certificates:
                certificates.append(pem)
    return IdpMetadata(entity_id=root.get("entityID", ""), sso_url=sso_url, certificates=certificates[:2])
