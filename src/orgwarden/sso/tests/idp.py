"""A real SAML identity provider for the tests: pysaml2's IdP side (``saml2.server.Server``).

pysaml2 is an independent implementation that signs with Debian's ``xmlsec1``; it parses our
AuthnRequests and issues responses in the shapes Okta (signed assertion), Entra ID (signed
response… and assertion) and Google Workspace send. Keys are generated per test session.
"""

from __future__ import annotations

import base64
import datetime as dt
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml, xmldsig
from saml2.attribute_converter import AttributeConverter
from saml2.config import IdPConfig
from saml2.s_utils import do_ava, factory
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server

IDP_ENTITY_ID = "https://idp.example.test/saml/metadata"
IDP_SSO_URL = "https://idp.example.test/saml/sso"


@dataclass(frozen=True)
class KeyPair:
    key_pem: str
    cert_pem: str
    key: rsa.RSAPrivateKey


def make_key_pair(common_name: str = "idp.example.test", days: int = 365) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return KeyPair(
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key=key,
    )


class TestIdp:
    """One pysaml2 IdP that knows one SP (from our own SP metadata)."""

    __test__ = False

    def __init__(
        self,
        *,
        keys: KeyPair,
        sp_metadata: str,
        entity_id: str = IDP_ENTITY_ID,
        sso_url: str = IDP_SSO_URL,
        name_id_format: str = NAMEID_FORMAT_EMAILADDRESS,
    ) -> None:
        """``name_id_format``: the NameID format the IdP's admin set for our app — what pysaml2
        issues when a request names none (``answer``)."""
        self.keys = keys
        self.dir = Path(tempfile.mkdtemp(prefix="orgwarden-idp-"))
        (self.dir / "key.pem").write_text(keys.key_pem)
        (self.dir / "cert.pem").write_text(keys.cert_pem)
        (self.dir / "sp.xml").write_text(sp_metadata)
        config = IdPConfig()
        config.load(
            {
                "entityid": entity_id,
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (sso_url, BINDING_HTTP_REDIRECT),
                                (sso_url, BINDING_HTTP_POST),
                            ]
                        },
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": 5},
                                "attribute_restrictions": None,
                                "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
                                "nameid_format": name_id_format,
                            }
                        },
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                        "want_authn_requests_signed": False,
                    }
                },
                "key_file": str(self.dir / "key.pem"),
                "cert_file": str(self.dir / "cert.pem"),
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "metadata": {"local": [str(self.dir / "sp.xml")]},
                "allow_unknown_attributes": True,
            }
        )
        self.server = Server(config=config)

    def parse_redirect(self, url: str) -> tuple[str, str, str]:
        """Our AuthnRequest from an HTTP-Redirect URL: (request id, ACS URL, RelayState)."""
        query = parse_qs(urlsplit(url).query)
        saml_request = query["SAMLRequest"][0]
        parsed = self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        request = parsed.message
        return request.id, request.assertion_consumer_service_url, query.get("RelayState", [""])[0]

    def answer(self, url: str, *, userid: str, attributes: dict[str, str]) -> tuple[str, str]:
        """The IdP's own answer to our AuthnRequest (an HTTP-Redirect URL): (base64 SAMLResponse,
        RelayState). pysaml2 picks the NameID as an IdP does — the Format the request's NameIDPolicy
        asks for if any, else the one configured (``name_id_format``) — for the person ``userid``;
        it raises when it cannot issue the format asked for. The attribute names go as given."""
        query = parse_qs(urlsplit(url).query)
        request = self.server.parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT).message
        args = self.server.response_args(request)
        converters = self.server.config.attribute_converters
        self.server.config.attribute_converters = [_NamesAsSent(BASIC_NAME_FORMAT)]
        try:
            response = self.server.create_authn_response(
                identity={name: [value] for name, value in attributes.items()},
                userid=userid,
                authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
                sign_assertion=True,
                sign_alg=xmldsig.SIG_RSA_SHA256,
                digest_alg=xmldsig.DIGEST_SHA256,
                **args,
            )
        finally:
            self.server.config.attribute_converters = converters
        return base64.b64encode(str(response).encode()).decode(), query.get("RelayState", [""])[0]

    def response(
        self,
        *,
        sp_entity_id: str,
        acs_url: str,
        email: str,
        in_response_to: str | None = None,
        attributes: dict[str, str] | None = None,
        sign_response: bool = False,
        sign_assertion: bool = True,
        sha1: bool = False,
        name_id_format: str = NAMEID_FORMAT_EMAILADDRESS,
        name_id: str | None = None,
        attribute_names_as_sent: bool = False,
    ) -> str:
        """A base64 SAMLResponse as the IdP would POST it. The NameID is ``email`` in the
        emailAddress format unless ``name_id`` (an opaque id) and its ``name_id_format`` say otherwise.
        pysaml2 renames the attributes it knows (``mail`` → ``urn:mace:dir:attribute-def:mail``);
        ``attribute_names_as_sent`` keeps each name exactly as given, as Okta, Entra ID, Google and
        OneLogin send their own (``email``, ``http://schemas.xmlsoap.org/…/emailaddress``)."""
        identity = {"givenName": ["Ada"], "sn": ["Lovelace"], "uid": ["00u-ada"]}
        if attributes is not None:
            identity = {k: [v] for k, v in attributes.items()}
        kwargs = {}
        if sha1:
            kwargs = {"sign_alg": xmldsig.SIG_RSA_SHA1, "digest_alg": xmldsig.DIGEST_SHA1}
        else:
            kwargs = {"sign_alg": xmldsig.SIG_RSA_SHA256, "digest_alg": xmldsig.DIGEST_SHA256}
        converters = self.server.config.attribute_converters
        if attribute_names_as_sent:
            self.server.config.attribute_converters = [_NamesAsSent(BASIC_NAME_FORMAT)]
        try:
            response = self.server.create_authn_response(
                identity=identity,
                in_response_to=in_response_to,
                destination=acs_url,
                sp_entity_id=sp_entity_id,
                name_id=NameID(format=name_id_format, text=email if name_id is None else name_id),
                authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
                sign_response=sign_response,
                sign_assertion=sign_assertion,
                **kwargs,
            )
        finally:
            self.server.config.attribute_converters = converters
        return base64.b64encode(str(response).encode()).decode()


BASIC_NAME_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"


class _NamesAsSent(AttributeConverter):
    """pysaml2's attribute converter that renames nothing (its own NOOP one lower-cases names)."""

    def to_(self, attrvals):
        return [
            factory(saml.Attribute, name=name, name_format=self.name_format, attribute_value=do_ava(values))
            for name, values in attrvals.items()
        ]


def inflate_request(url: str) -> bytes:
    value = parse_qs(urlsplit(url).query)["SAMLRequest"][0]
    return zlib.decompress(base64.b64decode(value), -15)


def idp_metadata_xml(keys: KeyPair, entity_id: str = IDP_ENTITY_ID, sso_url: str = IDP_SSO_URL) -> str:
    """The IdP metadata an admin would paste or upload (entity ID, redirect SSO URL, signing cert)."""
    body = "".join(keys.cert_pem.strip().splitlines()[1:-1])
    redirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>'
        f"<ds:X509Certificate>{body}</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        f'<md:SingleSignOnService Binding="{redirect}" Location="{sso_url}"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


class IdpHttpsServer:
    """The IdP's sign-in page on loopback over HTTPS (a throw-away trustme CA), for browser tests.

    ``GET /sso?SAMLRequest=…&RelayState=…`` parses our AuthnRequest with pysaml2 and shows a page
    with one button, "Continue as <email>", that POSTs the signed response to the ACS the request
    named — the HTTP-POST binding, as a real IdP does after its own sign-in. ``user`` is the person
    signed in at the IdP.
    """

    def __init__(self, keys: KeyPair, entity_id: str = IDP_ENTITY_ID) -> None:
        import html
        import ssl
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        import trustme

        self.keys, self.entity_id = keys, entity_id
        self.idp: TestIdp | None = None
        self.user = ""
        self.sp_entity_id = ""
        server = self
        ca = trustme.CA()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if not self.path.startswith("/sso?") or server.idp is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                request_id, acs_url, relay_state = server.idp.parse_redirect(self.path)
                saml_response = server.idp.response(
                    sp_entity_id=server.sp_entity_id,
                    acs_url=acs_url,
                    email=server.user,
                    in_response_to=request_id,
                )
                page = (
                    "<!doctype html><html><head><title>Test IdP</title></head><body><h1>Test IdP</h1>"
                    f'<form method="post" action="{html.escape(acs_url)}">'
                    f'<input type="hidden" name="SAMLResponse" value="{saml_response}">'
                    f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">'
                    f'<button type="submit">Continue as {html.escape(server.user)}</button>'
                    "</form></body></html>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def sso_url(self) -> str:
        return f"https://localhost:{self.httpd.server_address[1]}/sso"

    def serve(self, *, sp_entity_id: str, acs_url: str) -> None:
        """Know our SP (from its metadata), as an IdP admin does when adding the app."""
        from orgwarden.sso.processors.metadata import sp_metadata_xml

        self.sp_entity_id = sp_entity_id
        self.idp = TestIdp(
            keys=self.keys,
            sp_metadata=sp_metadata_xml(sp_entity_id=sp_entity_id, acs_url=acs_url),
            entity_id=self.entity_id,
            sso_url=self.sso_url,
        )

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
