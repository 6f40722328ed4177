"""Named SAML failures, each with a stable reason code (shown to the person, kept in the audit log)."""

from __future__ import annotations


class SamlError(Exception):
    """A refused SAML message. ``reason`` is stable: admins look it up in the audit log and the docs."""

    reason = "invalid"
    message = "The sign-in response could not be accepted."

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"{self.reason}: {detail or self.message}")
        self.detail = detail or self.message


def _error(name: str, reason: str, message: str) -> type[SamlError]:
    return type(name, (SamlError,), {"reason": reason, "message": message, "__doc__": message})


MalformedXml = _error("MalformedXml", "malformed_xml", "The response is not well-formed XML or base64.")
TooLarge = _error("TooLarge", "too_large", "The response is larger than we accept.")
DtdRefused = _error("DtdRefused", "dtd_refused", "The response carries a DOCTYPE or entity declaration.")
NotAResponse = _error("NotAResponse", "not_a_response", "The document is not a SAML 2.0 Response.")
EncryptedAssertion = _error(
    "EncryptedAssertion",
    "encrypted_assertion",
    "The identity provider encrypted the assertion; orgwarden accepts signed, unencrypted assertions "
    "only (the TLS connection protects them in transit). Turn assertion encryption off at the IdP.",
)
ResponseCount = _error("ResponseCount", "response_count", "The document holds more than one Response.")
AssertionCount = _error("AssertionCount", "assertion_count", "The response must hold exactly one Assertion.")
SignatureMissing = _error(
    "SignatureMissing", "signature_missing", "Neither the Response nor the Assertion is signed."
)
SignatureLocation = _error(
    "SignatureLocation",
    "signature_location",
    "A signature sits where none is expected (only the Response and its Assertion may be signed).",
)
SignatureReference = _error(
    "SignatureReference",
    "signature_reference",
    "The signature must cover exactly the element it is enveloped in.",
)
SignatureAlgorithm = _error(
    "SignatureAlgorithm",
    "signature_algorithm",
    "The signature uses an algorithm we refuse (RSA or ECDSA with SHA-256 or stronger is required).",
)
SignatureHmac = _error("SignatureHmac", "signature_hmac", "HMAC signatures are refused.")
SignatureSha1 = _error(
    "SignatureSha1",
    "signature_sha1",
    "The signature uses SHA-1, which this connection does not allow. Switch the IdP to SHA-256.",
)
SignatureTransform = _error(
    "SignatureTransform",
    "signature_transform",
    "The signature uses a canonicalization or transform other than exclusive c14n and enveloped-signature.",
)
SignatureKeyInfo = _error(
    "SignatureKeyInfo",
    "signature_key_info",
    "The signature carries a raw public key; only the configured certificates are trusted.",
)
SignatureInvalid = _error(
    "SignatureInvalid",
    "signature_invalid",
    "The signature does not verify with any certificate configured for this identity provider.",
)
NoCertificate = _error(
    "NoCertificate", "no_certificate", "No signing certificate is configured for this identity provider."
)
WrongIssuer = _error("WrongIssuer", "wrong_issuer", "The Issuer is not this connection's IdP entity ID.")
StatusNotSuccess = _error(
    "StatusNotSuccess", "status_not_success", "The identity provider reported a failure."
)
WrongDestination = _error(
    "WrongDestination", "wrong_destination", "The response is addressed to another service provider."
)
WrongRecipient = _error(
    "WrongRecipient", "wrong_recipient", "The assertion's Recipient is not our assertion consumer URL."
)
NoBearerConfirmation = _error(
    "NoBearerConfirmation", "no_bearer_confirmation", "The assertion has no bearer SubjectConfirmation."
)
WrongAudience = _error("WrongAudience", "wrong_audience", "The assertion is meant for another audience.")
Expired = _error("Expired", "expired", "The assertion has expired.")
NotYetValid = _error(
    "NotYetValid", "not_yet_valid", "The assertion is not valid yet (check the IdP's clock)."
)
UnsolicitedResponse = _error(
    "UnsolicitedResponse",
    "unsolicited_response",
    "The response answers a request we did not send, already used, or that expired.",
)
IdpInitiatedDisabled = _error(
    "IdpInitiatedDisabled",
    "idp_initiated_disabled",
    "Sign-in started at the identity provider is turned off for this connection.",
)
InResponseToMismatch = _error(
    "InResponseToMismatch",
    "in_response_to_mismatch",
    "The Response and its Assertion answer different requests.",
)
NameIdInvalid = _error(
    "NameIdInvalid", "name_id_invalid", "The NameID is missing or is not an email address."
)
NameIdComment = _error(
    "NameIdComment", "name_id_comment", "The NameID or an attribute value contains a comment or markup."
)
Replayed = _error("Replayed", "replayed", "This assertion was already used.")
