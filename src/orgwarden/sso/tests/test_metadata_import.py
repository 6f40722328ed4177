"""IdP metadata as admins really get it, imported through the console (and the help center's
service, which shares the parser): files saved with a blank line or a byte-order mark before the
XML declaration, aggregates listing other entities first, two signing keys during a rollover,
a KeyDescriptor without ``use``, an encryption key, and an expired old key still listed."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orgwarden.audit.models import AuditEvent
from orgwarden.sso import services
from orgwarden.sso.tests.idp import IDP_ENTITY_ID, IDP_SSO_URL, KeyPair, idp_metadata_xml, make_key_pair

pytestmark = pytest.mark.django_db

SP_ENTITY = (
    '<md:EntityDescriptor entityID="https://sp.example.test/">'
    '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
    '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
    'Location="https://sp.example.test/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>'
)


def _body(keys: KeyPair) -> str:
    return "".join(keys.cert_pem.strip().splitlines()[1:-1])


def _key(keys: KeyPair, use: str | None) -> str:
    attribute = f' use="{use}"' if use else ""
    return (
        f"<md:KeyDescriptor{attribute}><ds:KeyInfo><ds:X509Data>"
        f"<ds:X509Certificate>{_body(keys)}</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
    )


@pytest.fixture
def okta(org, org_admin):
    return services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")


def upload(admin_client, org, connection, document: bytes):
    url = reverse("console:identity_provider_metadata", args=[org.org_id, connection.connection_id])
    return admin_client.post(url, {"file": SimpleUploadedFile("metadata.xml", document)})


def imported(connection) -> tuple[str, str, int]:
    connection.refresh_from_db()
    return connection.idp_entity_id, connection.idp_sso_url, connection.certificates.count()


@pytest.mark.parametrize(
    "prefix",
    [b"\n", b"\r\n  ", b"\xef\xbb\xbf\n"],
    ids=["blank-line", "crlf-indent", "bom-blank-line"],
)
def test_a_file_with_a_blank_line_before_its_declaration_imports(admin_client, org, okta, prefix):
    document = (
        prefix + b'<?xml version="1.0" encoding="UTF-8"?>\n' + idp_metadata_xml(make_key_pair()).encode()
    )
    response = upload(admin_client, org, okta, document)
    assert response.status_code == 302, response.content.decode()
    assert imported(okta) == (IDP_ENTITY_ID, IDP_SSO_URL, 1)


def test_an_aggregate_listing_another_entity_first_imports_the_idp(admin_client, org, okta):
    idp = idp_metadata_xml(make_key_pair()).replace(' xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"', "")
    document = (
        '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">'
        f"{SP_ENTITY}{idp}</md:EntitiesDescriptor>"
    ).encode()
    response = upload(admin_client, org, okta, document)
    assert response.status_code == 302, response.content.decode()
    assert imported(okta) == (IDP_ENTITY_ID, IDP_SSO_URL, 1)


def test_rollover_metadata_imports_both_signing_keys_and_no_encryption_key(admin_client, org, okta):
    current, next_key, encryption = make_key_pair("current"), make_key_pair("next"), make_key_pair("enc")
    document = idp_metadata_xml(current).replace(
        "</md:KeyDescriptor>",
        "</md:KeyDescriptor>" + _key(encryption, "encryption") + _key(next_key, None),
        1,
    )
    assert upload(admin_client, org, okta, document.encode()).status_code == 302
    subjects = set(okta.certificates.values_list("subject", flat=True))
    assert subjects == {"CN=current", "CN=next"}


def test_an_expired_old_key_still_listed_is_passed_over(admin_client, org, okta):
    with time_machine.travel(dt.datetime.now(dt.UTC) - dt.timedelta(days=400)):
        old = make_key_pair("old", days=365)
    new = make_key_pair("new")
    document = idp_metadata_xml(new).replace(
        "</md:KeyDescriptor>", "</md:KeyDescriptor>" + _key(old, "signing"), 1
    )
    response = upload(admin_client, org, okta, document.encode())
    assert response.status_code == 302, response.content.decode()
    assert list(okta.certificates.values_list("subject", flat=True)) == ["CN=new"]
    details = AuditEvent.objects.get(action="org:idp:updated", details__source="metadata").details
    assert len(details["certificates_added"]) == 1 and len(details["certificates_expired"]) == 1


def test_the_help_centers_import_passes_an_expired_old_key_over_too(org, org_admin):
    from orgwarden.helpcenter import services as help_center_services
    from orgwarden.helpcenter.tests.conftest import help_center, jsm_site

    site = jsm_site(org, org_admin.account)
    with time_machine.travel(dt.datetime.now(dt.UTC) - dt.timedelta(days=400)):
        old = make_key_pair("old", days=365)
    document = idp_metadata_xml(make_key_pair("new")).replace(
        "</md:KeyDescriptor>", "</md:KeyDescriptor>" + _key(old, "signing"), 1
    )
    help_center_services.help_center_metadata_import(
        org=org, actor=org_admin.account, site_id=site.site_id, document=document.encode()
    )
    assert list(help_center(org, site).certificates.values_list("subject", flat=True)) == ["CN=new"]
