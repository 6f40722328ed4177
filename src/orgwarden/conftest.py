"""Fixtures shared by every app's tests."""

from __future__ import annotations

import pytest
from django.test import Client

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.orgs.tests.factories import OrgAdminFactory, OrganizationFactory


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def account(db):
    return AccountFactory()


@pytest.fixture
def org_admin(db):
    """An org and its (only) admin."""
    return OrgAdminFactory()


@pytest.fixture
def org(org_admin):
    return org_admin.org


@pytest.fixture
def admin_client(org_admin) -> Client:
    """A test client signed in as ``org_admin.account`` (through Django's login, not the flow)."""
    client = Client()
    client.force_login(org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    return client


@pytest.fixture
def other_org_admin(db):
    """An admin of a second, unrelated org (for tenant-isolation tests)."""
    return OrgAdminFactory(org=OrganizationFactory(name="Other org"))
