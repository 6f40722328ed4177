"""Fixtures of the SAML tests: an org with a configured IdP connection, its verified domain linked,
and a real pysaml2 IdP holding the matching key."""

from __future__ import annotations

import pytest
from django.utils import timezone

from orgwarden.billing.tests.factories import SubscriptionFactory
from orgwarden.orgs.models import Domain
from orgwarden.policies.models import AuthenticationPolicy
from orgwarden.sso import selectors, services
from orgwarden.sso.processors.metadata import sp_metadata_xml
from orgwarden.sso.tests.idp import IDP_ENTITY_ID, IDP_SSO_URL, KeyPair, TestIdp, make_key_pair

URN = "urn:mace:dir:attribute-def:"


@pytest.fixture(scope="session")
def idp_keys() -> KeyPair:
    return make_key_pair()


def verified_domain(org, name: str, *, automatic: bool = True) -> Domain:
    return Domain.objects.create(
        org=org,
        name=name,
        token="t" * 32,
        status=Domain.Status.VERIFIED,
        method=Domain.Method.DNS,
        claim=Domain.Claim.AUTOMATIC if automatic else Domain.Claim.MANUAL,
        verified_at=timezone.now(),
    )


@pytest.fixture
def domain(org) -> Domain:
    return verified_domain(org, "example.com")


@pytest.fixture
def connection(org, org_admin, idp_keys, domain):
    """A configured connection of an org with a paid security subscription (SSO is enforced only
    under one; ``policies/tests/test_enforcement_pause.py`` covers the pause)."""
    SubscriptionFactory(org=org)
    connection = services.idp_add(org=org, actor=org_admin.account, vendor="other", name="Test IdP")
    services.idp_update(
        org=org,
        actor=org_admin.account,
        connection_id=connection.connection_id,
        idp_entity_id=IDP_ENTITY_ID,
        idp_sso_url=IDP_SSO_URL,
        attr_first_name=URN + "givenName",
        attr_last_name=URN + "sn",
        attr_user_id=URN + "uid",
    )
    services.idp_certificate_add(
        org=org, actor=org_admin.account, connection_id=connection.connection_id, pem=idp_keys.cert_pem
    )
    services.idp_domain_link(
        org=org, actor=org_admin.account, connection_id=connection.connection_id, domain_id=domain.domain_id
    )
    connection.refresh_from_db()
    return connection


def enforce_sso(connection) -> AuthenticationPolicy:
    policy = selectors.default_policy(connection)
    policy.enforce_sso = True
    policy.save(update_fields=["enforce_sso"])
    return policy


@pytest.fixture
def idp(connection, idp_keys) -> TestIdp:
    metadata = sp_metadata_xml(
        sp_entity_id=selectors.sp_entity_id(connection), acs_url=selectors.acs_url(connection)
    )
    return TestIdp(keys=idp_keys, sp_metadata=metadata)
