"""Security → Identity providers in the console: add, configure, certificates, metadata, domains,
test, remove; bad input is a 400 with a form error, another org's IdP a 404."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orgwarden.audit.models import AuditEvent
from orgwarden.sso.models import SamlCertificate, SamlConnection, SamlDomainLink
from orgwarden.sso.tests.conftest import verified_domain
from orgwarden.sso.tests.idp import IDP_ENTITY_ID, IDP_SSO_URL, idp_metadata_xml, make_key_pair
from orgwarden.sso.tests.test_signin import continue_url

pytestmark = pytest.mark.django_db


def assert_csp_clean(response) -> None:
    html = response.content.decode()
    assert "<script>" not in html and not re.search(r"\sstyle=", html)


def url(name: str, org, *args) -> str:
    return reverse(f"console:{name}", args=[org.org_id, *args])


@pytest.fixture
def connection(org, org_admin) -> SamlConnection:
    from orgwarden.sso import services

    return services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")


def test_list_and_add(admin_client, org):
    response = admin_client.get(url("identity_providers", org))
    assert response.status_code == 200 and b"Add an identity provider" in response.content
    assert_csp_clean(response)
    response = admin_client.post(
        url("identity_providers", org), {"vendor": "google", "name": "Google Workspace"}
    )
    connection = SamlConnection.objects.get()
    assert response["Location"] == url("identity_provider", org, connection.connection_id)
    assert AuditEvent.objects.filter(action="org:idp:added").exists()


def test_add_with_bad_input_is_400_and_changes_nothing(admin_client, org):
    response = admin_client.post(url("identity_providers", org), {"vendor": "nope", "name": ""})
    assert response.status_code == 400 and not SamlConnection.objects.exists()


def test_detail_shows_sp_details_and_vendor_hints(admin_client, org, connection):
    response = admin_client.get(url("identity_provider", org, connection.connection_id))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"http://testserver/saml/{connection.connection_id}/acs" in html and "user.firstName" in html
    assert_csp_clean(response)


def test_configure_certificate_and_expiry_warning(admin_client, org, connection):
    cid = connection.connection_id
    response = admin_client.post(
        url("identity_provider", org, cid),
        {
            "idp_entity_id": IDP_ENTITY_ID,
            "idp_sso_url": IDP_SSO_URL,
            "attr_first_name": "fn",
            "allow_idp_initiated": "on",
        },
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert (
        connection.idp_sso_url == IDP_SSO_URL and connection.allow_idp_initiated and not connection.allow_sha1
    )
    response = admin_client.post(url("identity_provider", org, cid), {"idp_sso_url": "not a url"})
    assert response.status_code == 400
    response = admin_client.post(url("identity_provider_certificate_add", org, cid), {"pem": "nonsense"})
    assert response.status_code == 400 and b"not a PEM certificate" in response.content
    soon = make_key_pair(days=10).cert_pem
    assert (
        admin_client.post(url("identity_provider_certificate_add", org, cid), {"pem": soon}).status_code
        == 302
    )
    response = admin_client.get(url("identity_provider", org, cid))
    assert b"Expires in less than 30 days" in response.content
    assert b"Certificate expires" in admin_client.get(url("identity_providers", org)).content
    certificate = SamlCertificate.objects.get()
    response = admin_client.post(
        url("identity_provider_certificate_remove", org, cid, certificate.certificate_id)
    )
    assert response.status_code == 302 and not SamlCertificate.objects.exists()


def test_metadata_upload_and_refused_doctype(admin_client, org, connection):
    cid = connection.connection_id
    xml = idp_metadata_xml(make_key_pair())
    upload = SimpleUploadedFile("idp.xml", xml.encode(), content_type="text/xml")
    response = admin_client.post(url("identity_provider_metadata", org, cid), {"file": upload})
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.is_configured and connection.certificates.count() == 1
    evil = '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
    response = admin_client.post(url("identity_provider_metadata", org, cid), {"xml": evil})
    assert response.status_code == 400 and b"dtd_refused" in response.content
    assert admin_client.post(url("identity_provider_metadata", org, cid), {}).status_code == 400


def test_link_and_unlink_domain(admin_client, org, connection):
    domain = verified_domain(org, "example.com")
    cid = connection.connection_id
    response = admin_client.post(
        url("identity_provider_domain_link", org, cid), {"domain_id": domain.domain_id}
    )
    assert response.status_code == 302 and SamlDomainLink.objects.filter(domain=domain).exists()
    response = admin_client.post(url("identity_provider_domain_unlink", org, cid, domain.domain_id))
    assert response.status_code == 302 and not SamlDomainLink.objects.exists()
    assert (
        admin_client.post(url("identity_provider_domain_link", org, cid), {"domain_id": "nope"}).status_code
        == 404
    )


def _form_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))


def test_removing_a_certificate_asks_first_saying_whether_sign_ins_break(admin_client, org, connection):
    """The IdP's only certificate: every SSO sign-in is refused once it goes. Its "Remove…" opens a
    confirmation that says so and changes nothing; only its button removes."""
    cid = connection.connection_id
    admin_client.post(url("identity_provider_certificate_add", org, cid), {"pem": make_key_pair().cert_pem})
    certificate = SamlCertificate.objects.get()
    remove = url("identity_provider_certificate_remove", org, cid, certificate.certificate_id)
    page = admin_client.get(url("identity_provider", org, cid)).content.decode()
    assert (
        f'href="{remove}">Remove<span class="sr-only"> certificate {certificate.subject}</span>…</a>' in page
    )
    assert f'action="{remove}"' not in page
    events = AuditEvent.objects.count()

    confirm = admin_client.get(remove)
    text = unescape(confirm.content.decode())
    assert confirm.status_code == 200 and f"Remove the certificate {certificate.subject} from Okta?" in text
    assert "It is Okta's only signing certificate: every single sign-on through Okta is refused" in text
    assert (
        certificate.fingerprint_sha256 in text and 'class="button-danger">Remove certificate</button>' in text
    )
    assert SamlCertificate.objects.exists() and AuditEvent.objects.count() == events

    admin_client.post(url("identity_provider_certificate_add", org, cid), {"pem": make_key_pair().cert_pem})
    assert (
        "while Okta still signs with this certificate, every single sign-on through Okta fails"
        in unescape(admin_client.get(remove).content.decode())
    )
    done = admin_client.post(remove, _form_of(text), follow=True)
    assert "Certificate removed." in done.content.decode()
    assert not SamlCertificate.objects.filter(pk=certificate.pk).exists()
    assert AuditEvent.objects.filter(action="org:idp:certificate_removed").count() == 1
    stale = admin_client.get(remove, follow=True)  # opened again: the org's log says it went
    assert f"The certificate {certificate.subject} was removed from Okta already." in unescape(
        stale.content.decode()
    )


def test_unlinking_a_domain_asks_first(admin_client, org, org_admin, connection, other_org_admin):
    """Its people's single sign-on through the IdP stops at once: "Unlink…" opens a confirmation
    naming the domain and how many managed accounts are on it; only its button unlinks."""
    from orgwarden.accounts.tests.factories import AccountFactory
    from orgwarden.orgs.services import domains as domain_services

    domain = verified_domain(org, "example.com")
    person = AccountFactory(email="ada@example.com")
    domain_services.accounts_claim(
        org=org, actor=org_admin.account, domain_id=domain.domain_id, account_ids=[person.account_id]
    )
    cid = connection.connection_id
    admin_client.post(url("identity_provider_domain_link", org, cid), {"domain_id": domain.domain_id})
    unlink = url("identity_provider_domain_unlink", org, cid, domain.domain_id)
    page = admin_client.get(url("identity_provider", org, cid)).content.decode()
    assert f'href="{unlink}">Unlink<span class="sr-only"> example.com</span>…</a>' in page
    events = AuditEvent.objects.count()

    confirm = admin_client.get(unlink)
    text = unescape(confirm.content.decode())
    assert confirm.status_code == 200 and "Unlink example.com from Okta?" in text
    assert (
        "Okta stops speaking for example.com now: its single sign-ons of example.com addresses are refused"
        in text
    )
    assert "1 managed account is on example.com." in text
    assert SamlDomainLink.objects.exists() and AuditEvent.objects.count() == events

    done = admin_client.post(unlink, _form_of(text), follow=True)
    assert "Domain unlinked." in done.content.decode() and not SamlDomainLink.objects.exists()
    stale = admin_client.get(unlink, follow=True)
    assert "example.com was unlinked from Okta already." in stale.content.decode()
    assert AuditEvent.objects.filter(action="org:idp:domain_unlinked").count() == 1
    theirs = verified_domain(other_org_admin.org, "their.example")
    for domain_id in (theirs.domain_id, "nope"):
        assert (
            admin_client.get(url("identity_provider_domain_unlink", org, cid, domain_id)).status_code == 404
        )
    nul = url("identity_provider_domain_unlink", org, cid, "a-b").replace("a-b", "a%00b")
    assert admin_client.get(nul).status_code == 404  # PostgreSQL would refuse the NUL: not a 500


def test_test_button_needs_configuration_then_redirects_to_the_idp(admin_client, org, connection):
    cid = connection.connection_id
    response = admin_client.post(url("identity_provider_test", org, cid))
    assert response["Location"] == url("identity_provider", org, cid)
    connection.idp_entity_id, connection.idp_sso_url = IDP_ENTITY_ID, IDP_SSO_URL
    connection.save()
    admin_client.post(url("identity_provider_certificate_add", org, cid), {"pem": make_key_pair().cert_pem})
    response = admin_client.post(url("identity_provider_test", org, cid))
    assert continue_url(response).startswith(IDP_SSO_URL + "?SAMLRequest=")
    assert_csp_clean(response)


def test_remove(admin_client, org, connection):
    response = admin_client.post(url("identity_provider_remove", org, connection.connection_id))
    assert response["Location"] == url("identity_providers", org) and not SamlConnection.objects.exists()


def test_another_orgs_identity_provider_is_404(org, connection, other_org_admin):
    from django.test import Client

    client = Client()
    client.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    other = other_org_admin.org
    assert client.get(url("identity_provider", other, connection.connection_id)).status_code == 404
    assert client.post(url("identity_provider_remove", other, connection.connection_id)).status_code == 404
    assert client.get(url("identity_provider", org, connection.connection_id)).status_code == 404
    assert SamlConnection.objects.exists()


def test_get_on_post_only_endpoints_is_405(admin_client, org, connection):
    assert admin_client.get(url("identity_provider_test", org, connection.connection_id)).status_code == 405
