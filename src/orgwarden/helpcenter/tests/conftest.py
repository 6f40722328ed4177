"""Fixtures of the help-center tests: a JSM site of the org, its help center connected to a real
pysaml2 IdP (the customers' IdP, with its own key), tested and with SSO turned on where asked."""

from __future__ import annotations

import pytest

from orgwarden.helpcenter import selectors, services
from orgwarden.orgs.services.access import site_add
from orgwarden.sso.processors.metadata import sp_metadata_xml
from orgwarden.sso.tests.idp import IDP_ENTITY_ID, IDP_SSO_URL, KeyPair, TestIdp, make_key_pair


@pytest.fixture(scope="session")
def customer_idp_keys() -> KeyPair:
    return make_key_pair("customers-idp.example.test")


def jsm_site(org, admin, name: str = "Acme Support", url: str = "https://acme-support.example.test"):
    return site_add(org=org, actor=admin, product="jira-service-management", name=name, url=url)


@pytest.fixture
def site(org, org_admin):
    return jsm_site(org, org_admin.account)


@pytest.fixture
def other_site(org, org_admin):
    return jsm_site(
        org, org_admin.account, name="Partner Support", url="https://partner-support.example.test"
    )


def help_center(org, site):
    return selectors.help_center_get(org=org, site_id=site.site_id)


def connect_idp(org, admin, site, keys: KeyPair):
    services.help_center_idp_update(
        org=org, actor=admin, site_id=site.site_id, idp_entity_id=IDP_ENTITY_ID, idp_sso_url=IDP_SSO_URL
    )
    services.help_center_certificate_add(org=org, actor=admin, site_id=site.site_id, pem=keys.cert_pem)
    return help_center(org, site)


def sso_on(org, admin, site, keys: KeyPair, *, password: bool = True):
    """Connect the IdP, record a passing test, and turn SSO on (password stays on unless told)."""
    hc = connect_idp(org, admin, site, keys)
    services.help_center_sso_test_record(help_center=hc, actor=admin, reason="ok")
    services.help_center_authentication_set(
        org=org, actor=admin, site_id=site.site_id, password_enabled=password, sso_enabled=True
    )
    return help_center(org, site)


def idp_for(hc, keys: KeyPair) -> TestIdp:
    metadata = sp_metadata_xml(sp_entity_id=selectors.sp_entity_id(hc), acs_url=selectors.acs_url(hc))
    return TestIdp(keys=keys, sp_metadata=metadata)


def sp(hc) -> dict:
    return {"sp_entity_id": selectors.sp_entity_id(hc), "acs_url": selectors.acs_url(hc)}


@pytest.fixture
def sso_help_center(org, org_admin, site, customer_idp_keys):
    return sso_on(org, org_admin.account, site, customer_idp_keys)


@pytest.fixture
def idp(sso_help_center, customer_idp_keys) -> TestIdp:
    return idp_for(sso_help_center, customer_idp_keys)
