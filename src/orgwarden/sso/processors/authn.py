"""SP-initiated sign-in: the AuthnRequest and its HTTP-Redirect binding URL. Pure.

The request is not signed (SAML binding 3.4.4.1 makes it optional, and every supported IdP accepts
unsigned requests); its ID is stored server-side so the answer can be matched once.

Its ``NameIDPolicy`` names no ``Format`` and allows creation (``NAME_ID_POLICY``). With the Format
omitted "any type of identifier supported by the identity provider for the requested subject can be
used" (SAML core §3.4.1.1), so the IdP sends the NameID its admin configured, and the response's
rule decides what the email is: the NameID when it is one, else an email attribute
(``response.check_claims``). Asking for ``emailAddress``, as this did, overrode or broke exactly
the setups that rule accepts:

- AD FS refuses the request (``InvalidNameIDPolicy``, event 321, MSIS7070) when its claim rules
  issue a persistent or unspecified NameID, or the user has no email in Active Directory;
- Microsoft Entra ID honours a format in the request over the one configured for the app (its
  claims-customization docs), and for ``emailAddress`` sends the UPN, whatever NameID the admin
  set (MicrosoftDocs/azure-docs#10253): an ``…@tenant.onmicrosoft.com`` UPN then signs no one in
  (``domain_not_linked``), or a UPN that differs from the mailbox names another account;
- Okta refuses a requested Format that is not the app's configured one (reported by its users).

``unspecified`` would also leave the choice to the IdP, but it is a format value in its own right
for an IdP to compare with what it issues; absence is how SAML core and the SAML 2.0
interoperability profile (saml2int) say "no preference".

``AllowCreate="true"`` (saml2int: SHOULD): the IdP may create the identifier it sends us the first
time a person signs in here (a persistent pairwise id, as Shibboleth and AD FS keep). Absent, it
means ``false``, which lets an IdP refuse a person for whom it has no such identifier yet.
"""

from __future__ import annotations

import base64
import secrets
import zlib
from datetime import datetime
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import quoteattr

NAME_ID_POLICY = '<samlp:NameIDPolicy AllowCreate="true"/>'


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
        f"{NAME_ID_POLICY}"
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
