"""SP-initiated sign-in: the AuthnRequest and its HTTP-Redirect binding URL. Pure.

The request is not signed (SAML binding 3.4.4.1 makes it optional, and every supported IdP accepts
unsigned requests); its ID is stored server-side so the answer can be matched once.
"""

from __future__ import annotations

import base64
import secrets
import zlib
from datetime import datetime
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import quoteattr


def new_request_id() -> str:
    # An xs:ID must not start with a digit.
    return "_" + secrets.token_hex(20)


def authn_request_xml(
    *, request_id: str, issue_instant: datetime, sp_entity_id: str, acs_url: str, destination: str
) -> str:
    instant = issue_instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID={quoteattr(request_id)} Version="2.0" IssueInstant="{instant}" '
        f"Destination={quoteattr(destination)} AssertionConsumerServiceURL={quoteattr(acs_url)} "
        'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
        f"<saml:Issuer>{_text(sp_entity_id)}</saml:Issuer>"
        '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" '
        'AllowCreate="true"/>'
        "</samlp:AuthnRequest>"
    )


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def redirect_url(*, idp_sso_url: str, authn_request: str, relay_state: str) -> str:
    """The IdP URL carrying the DEFLATE+base64 request and RelayState (HTTP-Redirect binding)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw DEFLATE, no zlib header
    deflated = compressor.compress(authn_request.encode()) + compressor.flush()
    params = {"SAMLRequest": base64.b64encode(deflated).decode()}
    if relay_state:
        params["RelayState"] = relay_state
    separator = "&" if urlsplit(idp_sso_url).query else "?"
    return idp_sso_url + separator + urlencode(params)


def sign_in_redirect(
    *, request_id: str, issue_instant: datetime, sp_entity_id: str, acs_url: str, idp_sso_url: str
) -> str:
    """The IdP URL of an SP-initiated sign-in: the AuthnRequest, with its ID as RelayState."""
    xml = authn_request_xml(
        request_id=request_id,
        issue_instant=issue_instant,
        sp_entity_id=sp_entity_id,
        acs_url=acs_url,
        destination=idp_sso_url,
    )
    return redirect_url(idp_sso_url=idp_sso_url, authn_request=xml, relay_state=request_id)
