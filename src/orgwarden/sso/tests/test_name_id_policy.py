"""The AuthnRequest's NameIDPolicy leaves the NameID format to the IdP (``processors.authn``): an IdP
set to persistent NameIDs (AD FS, Entra ID's "Persistent") answers an SP-initiated sign-in with
one, and the email attribute beside it signs the person in. The IdP is pysaml2's, which picks the
NameID format as AD FS and Entra ID do: the one the request asks for, else its configured one."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from saml2 import BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.sso import selectors
from orgwarden.sso.models import SamlIdentity
from orgwarden.sso.processors.metadata import sp_metadata_xml
from orgwarden.sso.processors.xml import b64_decode, parse, q
from orgwarden.sso.tests.idp import TestIdp
from orgwarden.sso.tests.test_acs import acs, signed_in_as, start

pytestmark = pytest.mark.django_db

ENTRA_EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"


def idp_issuing(connection, idp_keys, name_id_format: str) -> TestIdp:
    """The pysaml2 IdP, its app for us set to issue ``name_id_format``."""
    metadata = sp_metadata_xml(
        sp_entity_id=selectors.sp_entity_id(connection), acs_url=selectors.acs_url(connection)
    )
    return TestIdp(keys=idp_keys, sp_metadata=metadata, name_id_format=name_id_format)


def test_the_authn_request_names_no_name_id_format_and_allows_creation(connection, idp):
    url, _ = start(Client(), connection)
    saml_request = parse_qs(urlsplit(url).query)["SAMLRequest"][0]
    request = idp.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT).message
    assert request.name_id_policy is not None
    assert request.name_id_policy.format is None
    assert request.name_id_policy.allow_create == "true"


@pytest.mark.parametrize("email_attribute", [ENTRA_EMAIL, "email"], ids=["entra-adfs", "okta-google"])
def test_an_idp_set_to_persistent_name_ids_signs_the_person_in_sp_initiated(
    connection, idp_keys, email_attribute
):
    connection.attr_user_id = ""  # the persistent NameID is the stable id
    connection.save()
    account = AccountFactory(email="ada@example.com")
    idp = idp_issuing(connection, idp_keys, NAMEID_FORMAT_PERSISTENT)
    client = Client()
    url, next_url = start(client, connection)
    # Before, the request asked for emailAddress: an IdP that honours the request's format could
    # not answer with the persistent NameID it was set to issue (pysaml2 raises; AD FS answers
    # InvalidNameIDPolicy; Entra ID swaps in the UPN).
    saml_response, relay_state = idp.answer(
        url, userid="ada", attributes={email_attribute: "Ada@Example.com"}
    )
    name_id = parse(b64_decode(saml_response)).find(f".//{q('saml', 'Subject')}/{q('saml', 'NameID')}")
    assert name_id.get("Format") == NAMEID_FORMAT_PERSISTENT and "@" not in name_id.text

    response = client.post(acs(connection), {"SAMLResponse": saml_response, "RelayState": relay_state})
    assert response.status_code == 302 and response["Location"] == next_url, response.content
    assert signed_in_as(client) == str(account.pk)
    assert SamlIdentity.objects.get(connection=connection).stable_id == name_id.text


def test_an_idp_set_to_email_name_ids_still_answers_with_one(connection, idp_keys):
    """The request asks for no format, so an IdP whose app issues emailAddress NameIDs keeps doing so."""
    idp = idp_issuing(connection, idp_keys, NAMEID_FORMAT_EMAILADDRESS)
    idp.server.ident.domain = "example.com"  # pysaml2 makes its email NameIDs on this domain
    url, _ = start(Client(), connection)
    saml_response, _ = idp.answer(url, userid="ada", attributes={"givenName": "Ada"})
    name_id = parse(b64_decode(saml_response)).find(f".//{q('saml', 'Subject')}/{q('saml', 'NameID')}")
    assert name_id.get("Format") == NAMEID_FORMAT_EMAILADDRESS and name_id.text.endswith("@example.com")


def test_our_metadata_offers_email_then_persistent_name_ids(connection, idp_keys):
    """An IdP that reads our metadata (pysaml2 here, as Shibboleth) sees both formats we act on, the
    email first: one that cannot issue an email NameID for someone still has one to fall back to."""
    idp = idp_issuing(connection, idp_keys, NAMEID_FORMAT_PERSISTENT)
    (descriptor,) = idp.server.metadata[selectors.sp_entity_id(connection)]["spsso_descriptor"]
    offered = [name_id_format["text"] for name_id_format in descriptor["name_id_format"]]
    assert offered == [NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT]
