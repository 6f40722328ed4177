"""The response processor against fixture files: the valid shapes pass, every attack is refused
with its reason code. Pure: no database (the one-time state lives in ``MemoryStore``, a second
implementation of the processor's ``StateStore`` protocol; the database one is tested in
``test_acs.py``)."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from orgwarden.sso.processors import errors
from orgwarden.sso.processors.response import ConnectionSettings, ResponseProcessor
from orgwarden.sso.tests.fixtures.generate import ACS_URL, EMAIL, FIXTURE_NOW, REQUEST_ID, SP_ENTITY_ID
from orgwarden.sso.tests.idp import IDP_ENTITY_ID

FIXTURES = Path(__file__).parent / "fixtures"
NOW = FIXTURE_NOW + dt.timedelta(seconds=30)
URN = "urn:mace:dir:attribute-def:"

SETTINGS = ConnectionSettings(
    sp_entity_id=SP_ENTITY_ID,
    acs_url=ACS_URL,
    idp_entity_id=IDP_ENTITY_ID,
    certificates=[(FIXTURES / "idp_cert.pem").read_text()],
    attr_first_name=URN + "givenName",
    attr_last_name=URN + "sn",
    attr_user_id=URN + "uid",
)


class MemoryStore:
    def __init__(self, requests: dict[str, str] | None = None) -> None:
        self.requests = dict(requests if requests is not None else {REQUEST_ID: "/after"})
        self.seen: set[str] = set()

    def request_consume(self, request_id: str, now: dt.datetime) -> str | None:
        return self.requests.pop(request_id, None)

    def assertion_remember(self, assertion_id: str, expires_at: dt.datetime) -> bool:
        if assertion_id in self.seen:
            return False
        self.seen.add(assertion_id)
        return True


def b64(name: str) -> str:
    return base64.b64encode((FIXTURES / name).read_bytes()).decode()


def run(name: str, *, settings: ConnectionSettings = SETTINGS, now: dt.datetime = NOW, store=None):
    return ResponseProcessor(
        settings=settings, saml_response=b64(name), now=now, store=store or MemoryStore()
    ).run()


@pytest.mark.parametrize(
    "name",
    ["response_signed_assertion.xml", "response_signed_response.xml", "response_signed_both.xml"],
)
def test_okta_entra_google_shapes_are_accepted(name):
    result = run(name)
    assert result.email == EMAIL
    assert (result.first_name, result.last_name, result.stable_id) == ("Ada", "Lovelace", "00u-ada")
    assert result.in_response_to == REQUEST_ID
    assert result.relay_state == "/after"
    assert result.attributes[URN + "givenName"] == ["Ada"]


def test_idp_initiated_is_accepted_when_allowed():
    result = run("response_idp_initiated.xml")
    assert result.in_response_to is None and result.relay_state is None


def test_skew_of_90_seconds_is_tolerated_at_both_ends():
    run("response_idp_initiated.xml", now=FIXTURE_NOW - dt.timedelta(seconds=80))
    run("response_idp_initiated.xml", now=FIXTURE_NOW + dt.timedelta(minutes=5, seconds=80))
    with pytest.raises(errors.Expired):
        run("response_idp_initiated.xml", now=FIXTURE_NOW + dt.timedelta(minutes=5, seconds=95))


def test_a_key_name_beside_the_certificate_is_accepted():
    """Keycloak names its key in ``ds:KeyInfo`` by default. A name is no key: the configured
    certificate still decides, so it is no reason to refuse (a raw ``ds:KeyValue`` still is)."""
    assert run("response_key_name.xml").email == EMAIL


def test_second_certificate_for_rollover():
    attacker = (FIXTURES / "attacker_cert.pem").read_text()
    settings = replace(SETTINGS, certificates=[attacker, SETTINGS.certificates[0]])
    assert run("response_signed_assertion.xml", settings=settings).email == EMAIL


ATTACKS = [
    # parse
    ("response_xxe.xml", "dtd_refused"),
    ("response_billion_laughs.xml", "dtd_refused"),
    # shape
    ("response_not_a_response.xml", "not_a_response"),
    ("response_encrypted.xml", "encrypted_assertion"),
    ("response_xsw1.xml", "response_count"),
    ("response_xsw2.xml", "response_count"),
    ("response_xsw3.xml", "assertion_count"),
    ("response_xsw4.xml", "assertion_count"),
    ("response_xsw5.xml", "assertion_count"),
    ("response_xsw6.xml", "assertion_count"),
    ("response_xsw7.xml", "assertion_count"),
    ("response_xsw8.xml", "assertion_count"),
    ("response_two_assertions.xml", "assertion_count"),
    ("response_unsigned_before_signed.xml", "assertion_count"),
    # signature_placement
    ("response_unsigned.xml", "signature_missing"),
    ("response_signature_location.xml", "signature_location"),
    ("response_signature_other_element.xml", "signature_reference"),
    # signature_algorithms
    ("response_hmac.xml", "signature_hmac"),
    ("response_sha1.xml", "signature_sha1"),
    ("response_transform.xml", "signature_transform"),
    ("response_key_value.xml", "signature_key_info"),
    # signature_verify
    ("response_tampered.xml", "signature_invalid"),
    ("response_attacker_keyinfo.xml", "signature_invalid"),
    ("response_empty_signature_value.xml", "signature_invalid"),  # was a TypeError: a 500
    # name_id_markup
    ("response_name_id_comment.xml", "name_id_comment"),
    # issuer, status, destination, subject_confirmation, conditions
    ("response_wrong_issuer.xml", "wrong_issuer"),
    ("response_status_failure.xml", "status_not_success"),
    ("response_wrong_destination.xml", "wrong_destination"),
    ("response_wrong_recipient.xml", "wrong_recipient"),
    ("response_expired.xml", "expired"),
    ("response_not_yet_valid.xml", "not_yet_valid"),
    ("response_wrong_audience.xml", "wrong_audience"),
    # claims, in_response_to
    ("response_name_id_invalid.xml", "name_id_invalid"),
    ("response_unsolicited.xml", "unsolicited_response"),
]


@pytest.mark.parametrize(("name", "reason"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_is_refused_with_its_reason(name, reason):
    with pytest.raises(errors.SamlError) as info:
        run(name)
    assert info.value.reason == reason


def test_every_fixture_file_has_a_test():
    tested = {name for name, _ in ATTACKS} | {
        "response_signed_assertion.xml",
        "response_signed_response.xml",
        "response_signed_both.xml",
        "response_idp_initiated.xml",
        "response_far_times.xml",
        "response_key_name.xml",
    }
    assert {p.name for p in FIXTURES.glob("response_*.xml")} == tested


def test_times_at_the_ends_of_the_calendar_are_read_not_overflowed():
    """NotOnOrAfter 9999-12-31T23:59:59Z and NotBefore 0001-01-01T00:00:00+14:00 are legal
    xs:dateTime values: adding the skew to them (or moving them to UTC) must not raise."""
    store = MemoryStore()
    result = run("response_far_times.xml", store=store)
    assert result.email == EMAIL and store.seen == {result.assertion_id}
    with pytest.raises(errors.SamlError) as info:
        run("response_far_times.xml", store=store)
    assert info.value.reason == "replayed"


def test_sha1_is_accepted_only_with_the_connection_opt_in():
    assert run("response_sha1.xml", settings=replace(SETTINGS, allow_sha1=True)).email == EMAIL


def test_replayed_assertion_is_refused():
    store = MemoryStore()
    run("response_idp_initiated.xml", store=store)
    with pytest.raises(errors.Replayed):
        run("response_idp_initiated.xml", store=store)


def test_request_id_is_usable_once():
    store = MemoryStore()
    run("response_signed_assertion.xml", store=store)
    with pytest.raises(errors.SamlError) as info:
        run("response_signed_response.xml", store=store)
    assert info.value.reason == "unsolicited_response"


def test_idp_initiated_is_refused_when_disabled():
    with pytest.raises(errors.IdpInitiatedDisabled):
        run("response_idp_initiated.xml", settings=replace(SETTINGS, allow_idp_initiated=False))


def test_no_configured_certificate_refuses():
    with pytest.raises(errors.NoCertificate):
        run("response_idp_initiated.xml", settings=replace(SETTINGS, certificates=[]))


def test_attacker_certificate_configured_alone_does_not_accept_the_idp():
    attacker = (FIXTURES / "attacker_cert.pem").read_text()
    with pytest.raises(errors.SignatureInvalid):
        run("response_idp_initiated.xml", settings=replace(SETTINGS, certificates=[attacker]))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not base64 !!", "malformed_xml"),
        (base64.b64encode(b"<unclosed"), "malformed_xml"),
        (base64.b64encode(b"<a>" + b"x" * (300 * 1024) + b"</a>"), "too_large"),
        (b"", "malformed_xml"),
    ],
)
def test_bad_input_is_refused(payload, reason):
    with pytest.raises(errors.SamlError) as info:
        ResponseProcessor(settings=SETTINGS, saml_response=payload, now=NOW, store=MemoryStore()).run()
    assert info.value.reason == reason


def test_checks_are_ordered_and_named():
    processor = ResponseProcessor(settings=SETTINGS, saml_response="", now=NOW, store=MemoryStore())
    assert [name for name, _ in processor.checks] == [
        "parse",
        "shape",
        "signature_placement",
        "signature_algorithms",
        "signature_verify",
        "name_id_markup",
        "issuer",
        "status",
        "destination",
        "subject_confirmation",
        "conditions",
        "claims",
        "in_response_to",
        "replay",
    ]
