"""An IdP's identity links end with its org's hold on the account: a former org's IdP cannot sign
in, by the old stable id, as an account its org released (whatever the account's email is now)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import OrgUser
from orgwarden.orgs.services import domains as domain_services
from orgwarden.orgs.services.claims import account_claim
from orgwarden.sso import services
from orgwarden.sso.models import SamlIdentity
from orgwarden.sso.tests.conftest import verified_domain
from orgwarden.sso.tests.test_acs import acs, signed_in_as, sp, sso_failures

pytestmark = pytest.mark.django_db


def _ada_signed_in_once(org, org_admin, connection, idp, domain) -> Account:
    """Ada (a managed account) signs in once: her IdP id 00u-ada is linked. The
    org's second domain, a2.com, is linked to the same IdP."""
    services.idp_domain_link(
        org=org,
        actor=org_admin.account,
        connection_id=connection.connection_id,
        domain_id=verified_domain(org, "a2.com", automatic=False).domain_id,
    )
    ada = AccountFactory(email="ada@example.com")
    account_claim(org=org, account=ada, domain=domain, actor=Actor.system())
    OrgUser.objects.filter(account=ada).update(managed_notice_seen_at=timezone.now())
    client = Client()
    client.post(acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="ada@example.com")})
    assert signed_in_as(client) == str(ada.pk)
    assert SamlIdentity.objects.filter(connection=connection, account=ada).exists()
    return ada


def _former_idp_signs_in_as_someone_on_a2(connection, idp) -> Client:
    client = Client()
    client.post(acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="whoever@a2.com")})
    return client


def test_releasing_an_account_deletes_its_identity_links(org, org_admin, connection, idp, domain):
    ada = _ada_signed_in_once(org, org_admin, connection, idp, domain)
    domain_services.domain_remove(org=org, actor=org_admin.account, domain_id=domain.domain_id)
    assert not SamlIdentity.objects.filter(account=ada).exists()
    event = AuditEvent.objects.get(action="org:account:released")
    assert event.details["saml_identities_removed"] == 1
    Account.objects.filter(pk=ada.pk).update(email="ada@personal.test")
    assert signed_in_as(_former_idp_signs_in_as_someone_on_a2(connection, idp)) != str(ada.pk)


def test_a_link_to_an_account_the_org_no_longer_manages_is_not_matched(
    org, org_admin, connection, idp, domain
):
    """A link left by a release from before releases deleted them: the email rules decide."""
    ada = _ada_signed_in_once(org, org_admin, connection, idp, domain)
    OrgUser.objects.filter(org=org, account=ada).update(is_managed=False, domain=None)
    Account.objects.filter(pk=ada.pk).update(email="ada@personal.test")

    client = _former_idp_signs_in_as_someone_on_a2(connection, idp)
    assert signed_in_as(client) is None
    assert sso_failures("no_account").exists()
    assert Account.objects.get(pk=ada.pk).email == "ada@personal.test"
