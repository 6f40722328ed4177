"""A removal sent twice — a double click, a second tab — says it was done already, back where the
first one left the admin, and records nothing the second time. It answered a 404 page.

Once a row is deleted only the org's audit log says it was there, so that is what tells "removed
already" from an id that was never the org's: another org's object — even one that org removed
itself — stays a 404 that confirms nothing, and a GET of a removed object stays a 404 too.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import Group, GroupMember, OrgAdmin, OrgUser, ProductSite, SiteAccess
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services import domains as domain_services
from orgwarden.orgs.services.claims import local_directory
from orgwarden.orgs.tests.factories import OrgAdminFactory
from orgwarden.policies import services as policy_services
from orgwarden.policies.models import AuthenticationPolicy, BreakGlassAdmin
from orgwarden.sso import services as sso_services
from orgwarden.sso.models import SamlCertificate, SamlConnection, SamlDomainLink
from orgwarden.sso.tests.conftest import verified_domain
from orgwarden.sso.tests.idp import make_key_pair

pytestmark = pytest.mark.django_db


def url(name: str, org, *args) -> str:
    return reverse(f"console:{name}", args=[org.org_id, *args])


@pytest.fixture
def them(other_org_admin):
    """The other org, its admin and a client signed in as them."""
    client = Client()
    client.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    return other_org_admin.org, other_org_admin.account, client


def twice(client: Client, path: str, lands_on: str) -> str:
    """POST ``path`` twice; both land on ``lands_on``. Returns the page the second one lands on."""
    first = client.post(path)
    assert first.status_code == 302 and first["Location"] == lands_on
    second = client.post(path)
    assert second.status_code == 302 and second["Location"] == lands_on  # not a 404 page
    page = client.get(lands_on)
    assert page.status_code == 200
    return page.content.decode()


def events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


# --- groups and product access ------------------------------------------------------------------------


def test_a_group_deleted_twice(admin_client, org, admin, them):
    devs = s.group_create(org=org, actor=admin, name="Devs")
    page = twice(admin_client, url("group_delete", org, devs.group_id), url("groups", org))
    assert "Group Devs was deleted already." in page
    assert events("org:group:deleted") == 1
    assert admin_client.get(url("group_delete", org, devs.group_id)).status_code == 404
    other_org, other_admin, other_client = them
    theirs = s.group_create(org=other_org, actor=other_admin, name="Theirs")
    assert admin_client.post(url("group_delete", org, theirs.group_id)).status_code == 404
    other_client.post(url("group_delete", other_org, theirs.group_id))  # gone, in their log only
    assert not Group.objects.filter(pk=theirs.pk).exists()
    assert admin_client.post(url("group_delete", org, theirs.group_id)).status_code == 404


def test_a_member_removed_twice(admin_client, org, admin, them):
    devs = s.group_create(org=org, actor=admin, name="Devs")
    member = AccountFactory(email="member@acme.example")
    OrgUser.objects.create(org=org, account=member, email=member.email)
    s.group_members_add(org=org, actor=admin, group_id=devs.group_id, account_ids=[member.account_id])
    path = url("group_member_remove", org, devs.group_id, member.account_id)
    page = twice(admin_client, path, url("group", org, devs.group_id))
    assert "member@acme.example was removed from Devs already." in page
    assert events("org:group:member_removed") == 1 and not GroupMember.objects.exists()
    other_org, other_admin, _ = them
    theirs = s.group_create(org=other_org, actor=other_admin, name="Theirs")
    assert (
        admin_client.post(url("group_member_remove", org, theirs.group_id, member.account_id)).status_code
        == 404
    )
    stranger = AccountFactory()  # never a member of Devs: nothing in the log says so
    assert (
        admin_client.post(url("group_member_remove", org, devs.group_id, stranger.account_id)).status_code
        == 404
    )


def test_a_site_removed_twice(admin_client, org, admin, them):
    site = s.site_add(
        org=org, actor=admin, product="jira-software", name="Acme Jira", url="https://j.acme.test"
    )
    page = twice(admin_client, url("site_remove", org, site.site_id), url("products", org))
    assert "Acme Jira was removed already." in page
    assert events("org:site:removed") == 1
    assert admin_client.get(url("site_remove", org, site.site_id)).status_code == 404
    other_org, other_admin, other_client = them
    theirs = s.site_add(
        org=other_org, actor=other_admin, product="confluence", name="Their wiki", url="https://w.other.test"
    )
    other_client.post(url("site_remove", other_org, theirs.site_id))
    assert not ProductSite.objects.exists()
    assert admin_client.post(url("site_remove", org, theirs.site_id)).status_code == 404


def test_an_access_revoked_twice(admin_client, org, admin, them):
    site = s.site_add(
        org=org, actor=admin, product="jira-software", name="Acme Jira", url="https://j.acme.test"
    )
    devs = s.group_create(org=org, actor=admin, name="Devs")
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=devs.group_id, role="user")
    path = url("site_access_revoke", org, site.site_id, devs.group_id)
    page = twice(admin_client, path, url("product_site", org, site.site_id))
    assert "The access of Devs to Acme Jira was revoked already." in page
    assert events("org:access:revoked") == 1 and not SiteAccess.objects.exists()
    other_org, other_admin, _ = them
    theirs = s.group_create(org=other_org, actor=other_admin, name="Theirs")
    assert admin_client.post(url("site_access_revoke", org, site.site_id, theirs.group_id)).status_code == 404


def test_an_external_users_access_removed_twice(admin_client, org, admin, them):
    site = s.site_add(
        org=org, actor=admin, product="jira-software", name="Acme Jira", url="https://j.acme.test"
    )
    partner = s.user_invite(org=org, actor=admin, email="partner@partner.example", site_ids=[site.site_id])
    path = url("external_user_remove", org, partner.account_id)
    page = twice(admin_client, path, url("external_users", org))
    assert "The access of partner@partner.example was removed already." in page
    assert events("org:user:removed") == 1
    other_org, other_admin, other_client = them
    their_site = s.site_add(
        org=other_org, actor=other_admin, product="confluence", name="Their wiki", url="https://w.other.test"
    )
    guest = s.user_invite(
        org=other_org, actor=other_admin, email="guest@guest.example", site_ids=[their_site.site_id]
    )
    other_client.post(url("external_user_remove", other_org, guest.account_id))
    assert not OrgUser.objects.filter(account=guest).exists()
    assert admin_client.post(url("external_user_remove", org, guest.account_id)).status_code == 404


# --- domains and identity providers -------------------------------------------------------------------


def test_a_domain_removed_twice(admin_client, org, admin, them):
    domain = domain_services.domain_add(org=org, actor=admin, name="bücher.example")
    page = twice(admin_client, url("domain_remove", org, domain.domain_id), url("domains", org))
    assert "bücher.example was removed already." in page
    assert events("org:domain:removed") == 1
    assert admin_client.get(url("domain", org, domain.domain_id)).status_code == 404
    other_org, other_admin, other_client = them
    theirs = domain_services.domain_add(org=other_org, actor=other_admin, name="other.example")
    other_client.post(url("domain_remove", other_org, theirs.domain_id))
    assert admin_client.post(url("domain_remove", org, theirs.domain_id)).status_code == 404


def test_an_identity_provider_removed_twice(admin_client, org, admin, them):
    connection = sso_services.idp_add(org=org, actor=admin, vendor="okta", name="Okta")
    path = url("identity_provider_remove", org, connection.connection_id)
    page = twice(admin_client, path, url("identity_providers", org))
    assert "Okta was removed already." in page
    assert events("org:idp:removed") == 1
    assert admin_client.get(url("identity_provider", org, connection.connection_id)).status_code == 404
    other_org, other_admin, other_client = them
    theirs = sso_services.idp_add(org=other_org, actor=other_admin, vendor="okta", name="Their Okta")
    other_client.post(url("identity_provider_remove", other_org, theirs.connection_id))
    assert not SamlConnection.objects.exists()
    assert admin_client.post(url("identity_provider_remove", org, theirs.connection_id)).status_code == 404


def test_a_domain_unlinked_twice(admin_client, org, admin, them):
    connection = sso_services.idp_add(org=org, actor=admin, vendor="okta", name="Okta")
    domain = verified_domain(org, "acme.example")
    sso_services.idp_domain_link(
        org=org, actor=admin, connection_id=connection.connection_id, domain_id=domain.domain_id
    )
    path = url("identity_provider_domain_unlink", org, connection.connection_id, domain.domain_id)
    page = twice(admin_client, path, url("identity_provider", org, connection.connection_id))
    assert "acme.example was unlinked from Okta already." in page
    assert events("org:idp:domain_unlinked") == 1 and not SamlDomainLink.objects.exists()
    other_org, _, _ = them
    theirs = verified_domain(other_org, "other.example")
    path = url("identity_provider_domain_unlink", org, connection.connection_id, theirs.domain_id)
    assert admin_client.post(path).status_code == 404


def test_a_certificate_removed_twice(admin_client, org, admin, them):
    """The removal's event names the certificate by its id: the second answer says it went; another
    org's certificate, even through this org's IdP, is a 404."""
    connection = sso_services.idp_add(org=org, actor=admin, vendor="okta", name="Okta")
    cid = connection.connection_id
    sso_services.idp_certificate_add(org=org, actor=admin, connection_id=cid, pem=make_key_pair().cert_pem)
    certificate = SamlCertificate.objects.get()
    path = url("identity_provider_certificate_remove", org, cid, certificate.certificate_id)
    page = twice(admin_client, path, url("identity_provider", org, cid))
    assert f"The certificate {certificate.subject} was removed from Okta already." in page
    assert events("org:idp:certificate_removed") == 1
    other_org, other_admin, _ = them
    theirs = sso_services.idp_add(org=other_org, actor=other_admin, vendor="okta", name="Their Okta")
    sso_services.idp_certificate_add(
        org=other_org, actor=other_admin, connection_id=theirs.connection_id, pem=make_key_pair().cert_pem
    )
    their_certificate = SamlCertificate.objects.get()
    mixed = admin_client.post(
        url("identity_provider_certificate_remove", org, cid, their_certificate.certificate_id)
    )
    assert mixed.status_code == 404 and SamlCertificate.objects.filter(pk=their_certificate.pk).exists()
    path = url(
        "identity_provider_certificate_remove", org, theirs.connection_id, their_certificate.certificate_id
    )
    assert admin_client.post(path).status_code == 404


# --- policies and admins ------------------------------------------------------------------------------


def test_a_policy_deleted_twice(admin_client, org, admin, them):
    policy_services.default_policy_create(local_directory(org))
    policy = policy_services.policy_create(
        org=org, actor=admin, directory_id=local_directory(org).directory_id, name="Strict"
    )
    page = twice(admin_client, url("policy_delete", org, policy.policy_id), url("policies", org))
    assert "Policy “Strict” was deleted already." in page
    assert events("org:policy:deleted") == 1
    assert admin_client.get(url("policy_delete", org, policy.policy_id)).status_code == 404
    other_org, other_admin, other_client = them
    policy_services.default_policy_create(local_directory(other_org))
    theirs = policy_services.policy_create(
        org=other_org, actor=other_admin, directory_id=local_directory(other_org).directory_id, name="Theirs"
    )
    other_client.post(url("policy_delete", other_org, theirs.policy_id))
    assert not AuthenticationPolicy.objects.filter(pk=theirs.pk).exists()
    assert admin_client.post(url("policy_delete", org, theirs.policy_id)).status_code == 404


def test_a_break_glass_admin_removed_twice(admin_client, org, admin, them):
    policy_services.default_policy_create(local_directory(org))
    second = OrgAdminFactory(org=org, account=AccountFactory(display_name="Sam Second")).account
    policy_services.break_glass_add(org=org, actor=admin, account_id=second.account_id)
    page = twice(admin_client, url("break_glass_remove", org, second.account_id), url("policies", org))
    assert "Sam Second was removed from the break-glass admins already." in page
    assert events("org:break_glass:removed") == 1 and not BreakGlassAdmin.objects.exists()
    other_org, other_admin, other_client = them
    policy_services.default_policy_create(local_directory(other_org))
    policy_services.break_glass_add(org=other_org, actor=other_admin, account_id=other_admin.account_id)
    other_client.post(url("break_glass_remove", other_org, other_admin.account_id))
    assert not BreakGlassAdmin.objects.exists()
    assert admin_client.post(url("break_glass_remove", org, other_admin.account_id)).status_code == 404


def test_an_admin_removed_twice(admin_client, org, them):
    second = OrgAdminFactory(
        org=org, account=AccountFactory(display_name="Sam Second", email="sam@acme.example")
    )
    path = url("admin_remove", org, second.account.account_id)
    page = twice(admin_client, path, url("admins", org))
    assert f"Sam Second (sam@acme.example) was removed as an admin of {org.name} already." in page
    assert events("org:admin:removed") == 1
    other_org, _, other_client = them
    theirs = OrgAdminFactory(org=other_org).account
    other_client.post(url("admin_remove", other_org, theirs.account_id))
    assert not OrgAdmin.objects.filter(account=theirs).exists()
    assert admin_client.post(url("admin_remove", org, theirs.account_id)).status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "group_delete",
        "site_remove",
        "external_user_remove",
        "domain_remove",
        "identity_provider_remove",
        "policy_delete",
        "break_glass_remove",
        "admin_remove",
    ],
)
def test_an_id_holding_a_nul_or_too_long_is_a_404_not_a_500(admin_client, org, name):
    """The log is asked only for ids a target could have: PostgreSQL refuses a NUL in a query."""
    assert admin_client.post(url(name, org, "nope\x00")).status_code == 404
    assert admin_client.post(url(name, org, "x" * 65)).status_code == 404
