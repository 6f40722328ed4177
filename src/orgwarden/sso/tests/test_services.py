"""Identity-provider directories and their SAML configuration: services, their events, their refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.exceptions import InvalidInput, NotFound
from orgwarden.orgs.models import Directory
from orgwarden.policies.models import AuthenticationPolicy
from orgwarden.sso import selectors, services
from orgwarden.sso.models import SamlCertificate, SamlConnection, SamlDomainLink, SamlRequest
from orgwarden.sso.processors.metadata import sp_metadata_xml
from orgwarden.sso.tests.conftest import verified_domain
from orgwarden.sso.tests.idp import IDP_ENTITY_ID, IDP_SSO_URL, idp_metadata_xml, make_key_pair

pytestmark = pytest.mark.django_db


def events(action: str):
    return AuditEvent.objects.filter(action=action)


def test_idp_add_creates_directory_default_policy_connection_and_event(org, org_admin):
    connection = services.idp_add(org=org, actor=org_admin.account, vendor="entra", name="Entra ID")
    assert connection.directory.kind == Directory.Kind.IDP and connection.directory.org == org
    assert AuthenticationPolicy.objects.filter(directory=connection.directory, is_default=True).exists()
    assert connection.attr_user_id == "http://schemas.microsoft.com/identity/claims/objectidentifier"
    assert connection.allow_idp_initiated and not connection.allow_sha1
    event = events("org:idp:added").get()
    assert event.org_id == org.org_id and event.details["vendor"] == "entra"


@pytest.mark.parametrize(("vendor", "name"), [("nope", "X"), ("okta", ""), ("okta", "x" * 101)])
def test_idp_add_refuses_bad_input_and_changes_nothing(org, org_admin, vendor, name):
    with pytest.raises(InvalidInput):
        services.idp_add(org=org, actor=org_admin.account, vendor=vendor, name=name)
    assert not Directory.objects.filter(kind=Directory.Kind.IDP).exists()
    assert not events("org:idp:added").exists()


def test_idp_add_twice_with_one_name_gives_each_directory_its_own_default_policy(org, org_admin):
    # Two IdPs may share a name ("Okta", for a second Okta tenant); policy names are unique per org,
    # so the second default policy must not take the first's name (an IntegrityError, a 500).
    first = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    second = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="okta")
    names = [
        AuthenticationPolicy.objects.get(directory=c.directory, is_default=True).name for c in (first, second)
    ]
    assert names == ["Okta default policy", "okta default policy (2)"]
    assert events("org:idp:added").count() == 2


def test_idp_add_beside_a_policy_that_took_the_default_name(org, org_admin):
    from orgwarden.orgs.services.claims import local_directory
    from orgwarden.policies.services import policy_create

    directory_id = local_directory(org).directory_id
    policy_create(org=org, actor=org_admin.account, directory_id=directory_id, name="Okta default policy")
    connection = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="O" * 100)
    services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="O" * 100)
    default = AuthenticationPolicy.objects.get(directory=connection.directory, is_default=True)
    assert default.name == "O" * 100
    assert AuthenticationPolicy.objects.filter(name="Okta default policy (2)").exists()
    assert AuthenticationPolicy.objects.filter(name="O" * 96 + " (2)").exists()


def test_another_orgs_admin_is_not_found(org, other_org_admin):
    with pytest.raises(NotFound):
        services.idp_add(org=org, actor=other_org_admin.account, vendor="okta", name="Okta")
    assert not SamlConnection.objects.exists()


def test_update_records_changed_fields_and_refuses_http_sso_url(org, org_admin):
    connection = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    cid = connection.connection_id
    services.idp_update(
        org=org, actor=org_admin.account, connection_id=cid, idp_entity_id="e", allow_sha1=True
    )
    assert events("org:idp:updated").get().details["changed"] == ["allow_sha1", "idp_entity_id"]
    with pytest.raises(InvalidInput):
        services.idp_update(org=org, actor=org_admin.account, connection_id=cid, idp_sso_url="http://idp/sso")
    with pytest.raises(InvalidInput):
        services.idp_update(org=org, actor=org_admin.account, connection_id=cid, org_id="x")
    assert events("org:idp:updated").count() == 1
    # No change, no event.
    services.idp_update(org=org, actor=org_admin.account, connection_id=cid, idp_entity_id="e")
    assert events("org:idp:updated").count() == 1


def test_connection_of_another_org_is_not_found(org, org_admin, other_org_admin):
    connection = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    other = other_org_admin.org
    with pytest.raises(NotFound):
        services.idp_update(
            org=other,
            actor=other_org_admin.account,
            connection_id=connection.connection_id,
            idp_entity_id="x",
        )
    with pytest.raises(NotFound):
        selectors.connection_get(org=other, connection_id=connection.connection_id)


def test_certificates_at_most_two_and_expiry_warning(org, org_admin):
    connection = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    cid = connection.connection_id
    first = services.idp_certificate_add(
        org=org, actor=org_admin.account, connection_id=cid, pem=make_key_pair().cert_pem
    )
    soon = make_key_pair(days=20).cert_pem
    services.idp_certificate_add(org=org, actor=org_admin.account, connection_id=cid, pem=soon)
    with pytest.raises(InvalidInput):
        services.idp_certificate_add(
            org=org, actor=org_admin.account, connection_id=cid, pem=make_key_pair().cert_pem
        )
    with pytest.raises(InvalidInput):
        services.idp_certificate_add(org=org, actor=org_admin.account, connection_id=cid, pem="garbage")
    assert events("org:idp:certificate_added").count() == 2
    rows = selectors.certificates_of(org=org, connection=connection)
    assert [r.expiring_soon for r in rows] == [True, False]
    services.idp_certificate_remove(
        org=org, actor=org_admin.account, connection_id=cid, certificate_id=first.certificate_id
    )
    assert SamlCertificate.objects.count() == 1
    assert (
        events("org:idp:certificate_removed").get().details["fingerprint_sha256"] == first.fingerprint_sha256
    )
    with pytest.raises(NotFound):
        services.idp_certificate_remove(
            org=org, actor=org_admin.account, connection_id=cid, certificate_id=first.certificate_id
        )


def test_metadata_import_fills_fields_through_the_hardened_parser(org, org_admin):
    connection = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    cid = connection.connection_id
    metadata = idp_metadata_xml(make_key_pair())
    services.idp_metadata_import(
        org=org, actor=org_admin.account, connection_id=cid, document=metadata.encode()
    )
    connection.refresh_from_db()
    assert (connection.idp_entity_id, connection.idp_sso_url) == (IDP_ENTITY_ID, IDP_SSO_URL)
    assert connection.certificates.count() == 1 and not connection.allow_sha1
    assert events("org:idp:updated").get().details["source"] == "metadata"
    xxe = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    with pytest.raises(InvalidInput, match="dtd_refused"):
        services.idp_metadata_import(org=org, actor=org_admin.account, connection_id=cid, document=xxe)
    assert events("org:idp:updated").count() == 1


def test_domain_links_one_idp_per_verified_domain(org, org_admin):
    a = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    b = services.idp_add(org=org, actor=org_admin.account, vendor="entra", name="Entra")
    domain = verified_domain(org, "example.com")
    services.idp_domain_link(
        org=org, actor=org_admin.account, connection_id=a.connection_id, domain_id=domain.domain_id
    )
    with pytest.raises(InvalidInput):
        services.idp_domain_link(
            org=org, actor=org_admin.account, connection_id=b.connection_id, domain_id=domain.domain_id
        )
    assert events("org:idp:domain_linked").count() == 1
    unverified = verified_domain(org, "other.com")
    unverified.status = "unverified"
    unverified.save()
    with pytest.raises(InvalidInput):
        services.idp_domain_link(
            org=org, actor=org_admin.account, connection_id=b.connection_id, domain_id=unverified.domain_id
        )
    services.idp_domain_unlink(
        org=org, actor=org_admin.account, connection_id=a.connection_id, domain_id=domain.domain_id
    )
    assert not SamlDomainLink.objects.exists() and events("org:idp:domain_unlinked").count() == 1


def test_domain_of_another_org_cannot_be_linked(org, org_admin, other_org_admin):
    connection = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    theirs = verified_domain(other_org_admin.org, "theirs.com")
    with pytest.raises(NotFound):
        services.idp_domain_link(
            org=org,
            actor=org_admin.account,
            connection_id=connection.connection_id,
            domain_id=theirs.domain_id,
        )


def test_remove_deletes_directory_and_records(org, org_admin):
    connection = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    services.idp_remove(org=org, actor=org_admin.account, connection_id=connection.connection_id)
    assert not SamlConnection.objects.exists() and not Directory.objects.filter(kind="idp").exists()
    assert events("org:idp:removed").get().targets[0]["id"] == connection.connection_id


def test_failing_service_inside_a_transaction_leaves_no_event(org, org_admin):
    connection = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    with pytest.raises(InvalidInput), transaction.atomic():
        services.idp_certificate_add(
            org=org, actor=org_admin.account, connection_id=connection.connection_id, pem="not a cert"
        )
    assert not events("org:idp:certificate_added").exists()


def test_request_store_is_once_and_expires(connection):
    from orgwarden.sso.store import DatabaseStateStore

    request, url = services.saml_request_create(connection=connection, relay_state="/next")
    assert url.startswith(IDP_SSO_URL + "?SAMLRequest=") and "RelayState=" + request.request_id in url
    store = DatabaseStateStore(connection)
    now = timezone.now()
    assert store.request_consume(request.request_id, now) == "/next"
    assert store.request_consume(request.request_id, now) is None
    late, _ = services.saml_request_create(connection=connection, relay_state="")
    assert store.request_consume(late.request_id, now + dt.timedelta(minutes=11)) is None
    # A new request purges the expired ones.
    services.saml_request_create(connection=connection, relay_state="", now=now + dt.timedelta(minutes=11))
    assert not SamlRequest.objects.filter(request_id=late.request_id).exists()


def test_replay_cache_purges_expired_rows(connection):
    from orgwarden.sso.models import SamlAssertionSeen
    from orgwarden.sso.store import DatabaseStateStore

    store = DatabaseStateStore(connection)
    now = timezone.now()
    assert store.assertion_remember("a1", now - dt.timedelta(seconds=1))
    assert store.assertion_remember("a2", now + dt.timedelta(minutes=5))
    assert not store.assertion_remember("a2", now + dt.timedelta(minutes=5))
    assert list(SamlAssertionSeen.objects.values_list("assertion_id", flat=True)) == ["a2"]


def test_sp_metadata_names_entity_and_acs(connection):
    xml = sp_metadata_xml(
        sp_entity_id=selectors.sp_entity_id(connection), acs_url=selectors.acs_url(connection)
    )
    assert f'entityID="http://testserver/saml/{connection.connection_id}"' in xml
    assert f'Location="http://testserver/saml/{connection.connection_id}/acs"' in xml
