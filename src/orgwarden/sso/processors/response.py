"""The SAML Response processor: an ordered list of named checks. Pure (no Django).

Why signxml plus our own SAML rules (numbers from the SAML issue, one core, one 5.8 KB response):
pysaml2 validates ~14.5 responses/s because it starts an ``xmlsec1`` process per signature;
python3-saml ~220/s, unreleased since 2023-10, signature checks off by default and its xmlsec/lxml
wheels must be pinned to each other; signxml ~780/s for the signature alone, maintained, with no
SAML rules and no XML encryption — safe only when every claim is read from its ``signed_xml``
result. The floor (parse + exc-c14n + SHA-256 + RSA-2048 verify) is ~4,400/s. signxml is the
only maintained option that is fast enough, so we use it for the XML signature and write the SAML
rules here, where each is a named, separately tested check.

The checks run in ``CHECKS`` order; each raises a ``SamlError`` subclass with a stable reason code:

1. ``parse`` — size limit, base64, hardened lxml parse, no DOCTYPE/entities (``xml.parse``);
2. ``shape`` — the root is a Response; no EncryptedAssertion (refused, see ``errors``); exactly one
   Response element and exactly one Assertion element in the whole document (kills most XSW);
3. ``signature_placement`` — ``ds:Signature`` only as a direct child of the Response or of its
   Assertion; at least one of them; each with one Reference whose URI is ``#`` + its parent's ID;
4. ``signature_algorithms`` — RSA/ECDSA with SHA-256+ (SHA-1 only on opt-in), never HMAC;
   exclusive c14n; transforms only enveloped-signature and exc-c14n; KeyInfo holds only
   certificates or a key name (hints: never trusted), no raw keys;
5. ``signature_verify`` — signxml with a CONFIGURED certificate (each of up to two, for rollover),
   never the document's KeyInfo. From here on only the elements signxml returned are read: the
   signed Response (and the Assertion inside it), or else the signed Assertion;
6. ``name_id_markup`` — no comment or element inside NameID or attribute values (CVE-2017-11427);
7. ``issuer``, ``status``, ``destination``, ``subject_confirmation`` (bearer, Recipient = ACS,
   NotOnOrAfter), ``conditions`` (NotBefore/NotOnOrAfter with 90 s skew, Audience = SP entity ID);
8. ``in_response_to`` — SP-initiated: matches an outstanding request (burned); IdP-initiated:
   absent, and refused when the connection disallows it;
9. ``claims`` — the email is the NameID, or (persistent/transient NameID) an email attribute;
   attributes by the connection's mapping;
10. ``replay`` — the assertion ID is accepted once (the store keeps it until it expires).

When only the Assertion is signed (Okta's and Google's default) the Response envelope is not signed:
its Status and Destination are still checked, but they can only refuse, never grant anything.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cryptography import x509
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidInput, SignXMLException

from orgwarden.sso.processors import errors
from orgwarden.sso.processors.xml import NS, b64_decode, parse, q, whole_text

SKEW = timedelta(seconds=90)
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"

_STRONG_SIGNATURES = frozenset(
    {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
        SignatureMethod.ECDSA_SHA512,
    }
)
_STRONG_DIGESTS = frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512})
_KEY_INFO_HINTS = frozenset({q("ds", "X509Data"), q("ds", "KeyName")})


class StateStore(Protocol):
    """Server-side one-time state, shared by all processes (the database in production)."""

    def request_consume(self, request_id: str, now: datetime) -> str | None:
        """Burn the outstanding AuthnRequest ``request_id``; its RelayState, or ``None`` if unknown,
        already used or expired."""

    def assertion_remember(self, assertion_id: str, expires_at: datetime) -> bool:
        """Remember ``assertion_id`` until ``expires_at``; ``False`` if it was already seen."""


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """What one connection trusts and expects."""

    sp_entity_id: str
    acs_url: str
    idp_entity_id: str
    certificates: Sequence[str]  # PEM
    allow_idp_initiated: bool = True
    allow_sha1: bool = False
    attr_first_name: str = ""
    attr_last_name: str = ""
    attr_user_id: str = ""


@dataclass(slots=True)
class SamlResult:
    """The claims of an accepted assertion, all read from signed XML."""

    name_id: str  # as sent: the email, or an opaque persistent/transient identifier
    assertion_id: str
    in_response_to: str | None
    relay_state: str | None  # the one we stored with the request (SP-initiated)
    first_name: str = ""
    last_name: str = ""
    stable_id: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)
    session_index: str = ""
    email_address: str = ""  # the NameID when it is an email, else the email attribute's value

    @property
    def email(self) -> str:
        return (self.email_address or self.name_id).lower()


@dataclass(slots=True)
class _State:
    """What the checks hand to each other."""

    raw: bytes = b""
    root: etree._Element | None = None
    response: etree._Element | None = None  # signed Response, or the parsed (unsigned) one
    response_signed: bool = False
    assertion: etree._Element | None = None  # always signed (directly or by the Response)
    result: SamlResult | None = None
    expires_at: datetime | None = None


# The range of times a check compares: a day inside datetime's own, so that moving a time to UTC
# and adding the skew never overflow. 9999-12-31T23:59:59Z is a legal xs:dateTime.
_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise errors.MalformedXml(f"Bad timestamp {value[:40]!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00: before the first representable instant
        return _EARLIEST if moment.year == 1 else _LATEST
    return min(max(moment, _EARLIEST), _LATEST)


class ResponseProcessor:
    """Validate one base64 ``SAMLResponse`` for one connection; ``run()`` returns a ``SamlResult``.

    Raises a ``SamlError`` subclass (see ``errors``) at the first failing check. ``now`` is passed
    in so tests control the clock; ``store`` burns request IDs and remembers assertion IDs.
    """

    def __init__(
        self, *, settings: ConnectionSettings, saml_response: str | bytes, now: datetime, store: StateStore
    ) -> None:
        self.settings = settings
        self.saml_response = saml_response
        self.now = now
        self.store = store
        self.state = _State()

    @property
    def checks(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("parse", self.check_parse),
            ("shape", self.check_shape),
            ("signature_placement", self.check_signature_placement),
            ("signature_algorithms", self.check_signature_algorithms),
            ("signature_verify", self.check_signature_verify),
            ("name_id_markup", self.check_name_id_markup),
            ("issuer", self.check_issuer),
            ("status", self.check_status),
            ("destination", self.check_destination),
            ("subject_confirmation", self.check_subject_confirmation),
            ("conditions", self.check_conditions),
            ("claims", self.check_claims),
            ("in_response_to", self.check_in_response_to),
            ("replay", self.check_replay),
        ]

    def run(self) -> SamlResult:
        for _name, check in self.checks:
            check()
        assert self.state.result is not None
        return self.state.result

    # 1 ------------------------------------------------------------------------------------------
    def check_parse(self) -> None:
        self.state.raw = b64_decode(self.saml_response)
        self.state.root = parse(self.state.raw)

    # 2 ------------------------------------------------------------------------------------------
    def check_shape(self) -> None:
        root = self.state.root
        if root.tag != q("samlp", "Response"):
            raise errors.NotAResponse()
        if any(True for _ in root.iter(q("saml", "EncryptedAssertion"))):
            raise errors.EncryptedAssertion()
        if sum(1 for _ in root.iter(q("samlp", "Response"))) != 1:
            raise errors.ResponseCount()
        assertions = list(root.iter(q("saml", "Assertion")))
        if len(assertions) != 1 or assertions[0].getparent() is not root:
            raise errors.AssertionCount()

    # 3 ------------------------------------------------------------------------------------------
    def _signatures(self) -> tuple[etree._Element | None, etree._Element | None]:
        root = self.state.root
        assertion = root.find(q("saml", "Assertion"))
        return root.find(q("ds", "Signature")), assertion.find(q("ds", "Signature"))

    def check_signature_placement(self) -> None:
        root = self.state.root
        assertion = root.find(q("saml", "Assertion"))
        response_sig, assertion_sig = self._signatures()
        allowed = {id(s) for s in (response_sig, assertion_sig) if s is not None}
        for signature in root.iter(q("ds", "Signature")):
            if id(signature) not in allowed:
                raise errors.SignatureLocation()
        if response_sig is None and assertion_sig is None:
            raise errors.SignatureMissing()
        # Element IDs must be unique, so a Reference cannot be resolved to a look-alike element.
        ids = [el.get("ID") for el in root.iter() if isinstance(el.tag, str) and el.get("ID") is not None]
        if len(ids) != len(set(ids)):
            raise errors.SignatureReference("Two elements share an ID.")
        for signature, parent in ((response_sig, root), (assertion_sig, assertion)):
            if signature is None:
                continue
            references = signature.findall(f"{q('ds', 'SignedInfo')}/{q('ds', 'Reference')}")
            if len(references) != 1:
                raise errors.SignatureReference("A signature must have exactly one Reference.")
            element_id = parent.get("ID")
            if not element_id or references[0].get("URI") != f"#{element_id}":
                raise errors.SignatureReference()

    # 4 ------------------------------------------------------------------------------------------
    def _allowed_methods(self) -> tuple[frozenset[SignatureMethod], frozenset[DigestAlgorithm]]:
        methods, digests = set(_STRONG_SIGNATURES), set(_STRONG_DIGESTS)
        if self.settings.allow_sha1:
            methods |= {SignatureMethod.RSA_SHA1, SignatureMethod.ECDSA_SHA1}
            digests.add(DigestAlgorithm.SHA1)
        return frozenset(methods), frozenset(digests)

    def check_signature_algorithms(self) -> None:
        methods, digests = self._allowed_methods()
        allowed_methods = {m.value for m in methods}
        allowed_digests = {d.value for d in digests}
        for signature in self._signatures():
            if signature is None:
                continue
            signed_info = signature.find(q("ds", "SignedInfo"))
            method = signed_info.find(q("ds", "SignatureMethod"))
            algorithm = method.get("Algorithm", "") if method is not None else ""
            if "hmac" in algorithm.lower():
                raise errors.SignatureHmac()
            if algorithm not in allowed_methods:
                if algorithm.lower().endswith("sha1"):
                    raise errors.SignatureSha1()
                raise errors.SignatureAlgorithm(f"Signature algorithm {algorithm[:100]!r} is refused.")
            c14n = signed_info.find(q("ds", "CanonicalizationMethod"))
            if c14n is None or c14n.get("Algorithm") != EXC_C14N:
                raise errors.SignatureTransform()
            reference = signed_info.find(q("ds", "Reference"))
            for transform in reference.iterfind(f"{q('ds', 'Transforms')}/{q('ds', 'Transform')}"):
                if transform.get("Algorithm") not in (ENVELOPED, EXC_C14N):
                    raise errors.SignatureTransform()
            digest = reference.find(q("ds", "DigestMethod"))
            digest_algorithm = digest.get("Algorithm", "") if digest is not None else ""
            if digest_algorithm not in allowed_digests:
                if digest_algorithm.lower().endswith("sha1"):
                    raise errors.SignatureSha1()
                raise errors.SignatureAlgorithm(f"Digest algorithm {digest_algorithm[:100]!r} is refused.")
            key_info = signature.find(q("ds", "KeyInfo"))
            if key_info is not None:
                # A certificate or a key's name (Keycloak sends one by default) is only a hint:
                # the configured certificate verifies. Key material of any other kind is refused.
                for child in key_info:
                    if isinstance(child.tag, str) and child.tag not in _KEY_INFO_HINTS:
                        raise errors.SignatureKeyInfo()

    # 5 ------------------------------------------------------------------------------------------
    def _verify(self, location: str) -> etree._Element:
        """The element signxml returns as signed by a configured certificate, at ``location``."""
        if not self.settings.certificates:
            raise errors.NoCertificate()
        methods, digests = self._allowed_methods()
        config = SignatureConfiguration(
            location=location,
            expect_references=1,
            signature_methods=methods,
            digest_algorithms=digests,
            verification_time=self.now,
        )
        failure: Exception | None = None
        for pem in self.settings.certificates:
            try:
                verified = XMLVerifier().verify(
                    self.state.raw,
                    x509_cert=_certificate(pem),
                    expect_config=config,
                    id_attribute="ID",
                    parser=_signxml_parser(),
                )
            # signxml reads the document as it comes: an empty ``SignatureValue`` or ``DigestValue``
            # reaches base64 as ``None`` and raises TypeError. Every failure here is a refusal.
            except (
                SignXMLException,
                InvalidInput,
                InvalidCertificate,
                ValueError,
                TypeError,
                etree.LxmlError,
            ) as exc:
                failure = exc
                continue
            signed = verified.signed_xml
            if signed is None:
                failure = ValueError("signed data is not XML")
                continue
            return signed
        raise errors.SignatureInvalid(str(failure)[:300] if failure else "")

    def check_signature_verify(self) -> None:
        root = self.state.root
        response_sig, assertion_sig = self._signatures()
        root_id = root.get("ID")
        assertion_id = root.find(q("saml", "Assertion")).get("ID")
        if response_sig is not None:
            signed_response = self._verify("./")
            if signed_response.tag != q("samlp", "Response") or signed_response.get("ID") != root_id:
                raise errors.SignatureReference()
            assertions = signed_response.findall(q("saml", "Assertion"))
            if len(assertions) != 1:
                raise errors.AssertionCount()
            self.state.response = signed_response
            self.state.response_signed = True
            self.state.assertion = assertions[0]
        else:
            self.state.response = root
        if assertion_sig is not None:
            signed_assertion = self._verify(f"./{q('saml', 'Assertion')}/")
            if signed_assertion.tag != q("saml", "Assertion") or signed_assertion.get("ID") != assertion_id:
                raise errors.SignatureReference()
            if self.state.assertion is None:
                self.state.assertion = signed_assertion
        # From here on, only ``state.assertion`` (signed) and ``state.response`` are read.

    # 6 ------------------------------------------------------------------------------------------
    def check_name_id_markup(self) -> None:
        # Checked on the RAW tree: canonicalization drops comments, so ``user@evil.com<!---->.x.com``
        # would read as a third address; any markup inside these values is refused outright.
        for tag in (q("saml", "NameID"), q("saml", "AttributeValue"), q("saml", "Issuer")):
            for element in self.state.root.iter(tag):
                if len(element):
                    raise errors.NameIdComment()

    # 7 ------------------------------------------------------------------------------------------
    def check_issuer(self) -> None:
        expected = self.settings.idp_entity_id
        issuer = self.state.assertion.find(q("saml", "Issuer"))
        if issuer is None or whole_text(issuer) != expected:
            raise errors.WrongIssuer()
        response_issuer = self.state.response.find(q("saml", "Issuer"))
        if response_issuer is not None and whole_text(response_issuer) != expected:
            raise errors.WrongIssuer()

    def check_status(self) -> None:
        code = self.state.response.find(f"{q('samlp', 'Status')}/{q('samlp', 'StatusCode')}")
        if code is None or code.get("Value") != SUCCESS:
            value = code.get("Value", "") if code is not None else "missing"
            raise errors.StatusNotSuccess(f"The identity provider answered {value[:200]}.")

    def check_destination(self) -> None:
        destination = self.state.response.get("Destination")
        if destination is not None and destination != self.settings.acs_url:
            raise errors.WrongDestination()

    def _subject_confirmation_data(self) -> etree._Element:
        subject = self.state.assertion.find(q("saml", "Subject"))
        if subject is None:
            raise errors.NoBearerConfirmation()
        for confirmation in subject.findall(q("saml", "SubjectConfirmation")):
            if confirmation.get("Method") == BEARER:
                data = confirmation.find(q("saml", "SubjectConfirmationData"))
                if data is not None:
                    return data
        raise errors.NoBearerConfirmation()

    def check_subject_confirmation(self) -> None:
        data = self._subject_confirmation_data()
        if data.get("Recipient") != self.settings.acs_url:
            raise errors.WrongRecipient()
        not_on_or_after = _parse_time(data.get("NotOnOrAfter"))
        if not_on_or_after is None:
            raise errors.Expired("The bearer confirmation has no NotOnOrAfter.")
        if self.now >= not_on_or_after + SKEW:
            raise errors.Expired()
        not_before = _parse_time(data.get("NotBefore"))
        if not_before is not None and self.now + SKEW < not_before:
            raise errors.NotYetValid()
        self.state.expires_at = not_on_or_after

    def check_conditions(self) -> None:
        conditions = self.state.assertion.find(q("saml", "Conditions"))
        if conditions is None:
            raise errors.WrongAudience("The assertion has no Conditions.")
        not_before = _parse_time(conditions.get("NotBefore"))
        if not_before is not None and self.now + SKEW < not_before:
            raise errors.NotYetValid()
        not_on_or_after = _parse_time(conditions.get("NotOnOrAfter"))
        if not_on_or_after is not None:
            if self.now >= not_on_or_after + SKEW:
                raise errors.Expired()
            self.state.expires_at = max(self.state.expires_at or not_on_or_after, not_on_or_after)
        restrictions = conditions.findall(q("saml", "AudienceRestriction"))
        if not restrictions:
            raise errors.WrongAudience("The assertion has no AudienceRestriction.")
        # Every AudienceRestriction must name us (SAML core 2.5.1.4: they are ANDed).
        for restriction in restrictions:
            audiences = [whole_text(a) for a in restriction.findall(q("saml", "Audience"))]
            if self.settings.sp_entity_id not in audiences:
                raise errors.WrongAudience()

    # 9 ------------------------------------------------------------------------------------------
    def check_claims(self) -> None:
        """The email is the NameID when that is an email. An IdP set to a persistent or transient
        NameID (AD FS, Entra ID's "Persistent" format) sends the email as an attribute instead: the
        first email among ``EMAIL_ATTRIBUTES`` is then used, and a persistent NameID is the stable
        id unless the connection's user-id attribute gives one. Both come from the signed assertion."""
        assertion = self.state.assertion
        name_id = assertion.find(f"{q('saml', 'Subject')}/{q('saml', 'NameID')}")
        value = whole_text(name_id) if name_id is not None else ""
        attributes: dict[str, list[str]] = {}
        for statement in assertion.findall(q("saml", "AttributeStatement")):
            for attribute in statement.findall(q("saml", "Attribute")):
                name = attribute.get("Name", "")
                values = [whole_text(v) for v in attribute.findall(q("saml", "AttributeValue"))]
                attributes.setdefault(name, []).extend(values)
        email = value if _email_shaped(value) else _email_attribute(attributes)
        if not email:
            if value:
                raise errors.NameIdInvalid(
                    "The NameID is not an email address, and no email attribute "
                    f"({', '.join(EMAIL_ATTRIBUTES[:4])} …) was sent."
                )
            raise errors.NameIdInvalid()

        def first(name: str) -> str:
            return (attributes.get(name) or [""])[0][:150] if name else ""

        stable_id = first(self.settings.attr_user_id)
        persistent = name_id is not None and name_id.get("Format") == PERSISTENT
        if not stable_id and persistent and email != value:
            stable_id = value
        authn = assertion.find(q("saml", "AuthnStatement"))
        self.state.result = SamlResult(
            name_id=value,
            email_address=email,
            assertion_id=assertion.get("ID", ""),
            in_response_to=None,
            relay_state=None,
            first_name=first(self.settings.attr_first_name),
            last_name=first(self.settings.attr_last_name),
            stable_id=stable_id[:512],
            attributes=attributes,
            session_index=authn.get("SessionIndex", "") if authn is not None else "",
        )

    # 8 ------------------------------------------------------------------------------------------
    def check_in_response_to(self) -> None:
        from_assertion = self._subject_confirmation_data().get("InResponseTo")
        from_response = self.state.response.get("InResponseTo")
        if from_assertion and from_response and from_assertion != from_response:
            raise errors.InResponseToMismatch()
        # The signed value wins; the Response's own is used only when the Response is signed.
        request_id = from_assertion or (from_response if self.state.response_signed else None)
        if from_response and not request_id:
            # Only an unsigned envelope claims to answer a request: nothing signed backs the claim.
            raise errors.InResponseToMismatch("Only the unsigned Response names a request.")
        if request_id is None:
            if not self.settings.allow_idp_initiated:
                raise errors.IdpInitiatedDisabled()
            return
        relay_state = self.store.request_consume(request_id, self.now)
        if relay_state is None:
            raise errors.UnsolicitedResponse()
        self.state.result.in_response_to = request_id
        self.state.result.relay_state = relay_state

    # 10 -----------------------------------------------------------------------------------------
    def check_replay(self) -> None:
        assertion_id = self.state.result.assertion_id
        if not assertion_id:
            raise errors.Replayed("The assertion has no ID.")
        expires_at = self.state.expires_at or self.now + timedelta(minutes=10)
        if not self.store.assertion_remember(assertion_id, expires_at + SKEW):
            raise errors.Replayed()


# Where IdPs put the email when the NameID is not one, compared without regard to case: Entra ID,
# AD FS and Auth0 (the claim URI), Google and Okta custom mappings (email), LDAP-backed IdPs and
# JumpCloud (mail), OneLogin (User.email), the LDAP OID as Shibboleth sends it.
EMAIL_ATTRIBUTES = (
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "email",
    "mail",
    "User.email",
    "emailAddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
)
_EMAIL_ATTRIBUTES_FOLDED = tuple(name.casefold() for name in EMAIL_ATTRIBUTES)


def _email_shaped(value: str) -> bool:
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and not any(c.isspace() for c in value) and len(value) <= 254


def _email_attribute(attributes: dict[str, list[str]]) -> str:
    """The first email-shaped value of the first email attribute present, in ``EMAIL_ATTRIBUTES`` order."""
    folded = {name.casefold(): values for name, values in attributes.items()}
    for name in _EMAIL_ATTRIBUTES_FOLDED:
        for value in folded.get(name, ()):
            if _email_shaped(value):
                return value
    return ""


@functools.lru_cache(maxsize=64)
def _certificate(pem: str) -> x509.Certificate:
    """The configured PEM, parsed once per process (it is the same for every response)."""
    return x509.load_pem_x509_certificate(pem.encode())


def _signxml_parser() -> etree.XMLParser:
    from orgwarden.sso.processors.xml import parser

    return parser()


__all__ = ["NS", "ConnectionSettings", "ResponseProcessor", "SamlResult", "StateStore"]
