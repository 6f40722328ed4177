"""Fixtures for the policies tests: managed accounts, an IdP directory, signing in through the real flow."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Directory, OrgUser
from orgwarden.orgs.services.claims import account_claim, local_directory
from orgwarden.policies.models import AuthenticationPolicy


@pytest.fixture
def org(org_admin):
    """The conftest's org, completed as ``org_create`` makes one: a local directory and its default policy.

    (The factories create bare ``Organization`` rows, and ``claims.local_directory`` creates a missing
    directory without running ``orgs.hooks.directory_created``.)
    """
    _complete(org_admin.org)
    return org_admin.org


def _complete(org) -> None:
    """… and a paid security subscription, without which nothing is enforced (tests of the pause
    take it away: ``test_enforcement_pause``)."""
    from orgwarden.billing.tests.factories import SubscriptionFactory
    from orgwarden.policies.services import default_policy_create

    default_policy_create(local_directory(org))
    SubscriptionFactory(org=org)


@pytest.fixture
def one_event() -> Callable[..., AuditEvent]:
    def check(action: str) -> AuditEvent:
        events = list(AuditEvent.objects.filter(action=action))
        assert len(events) == 1, f"expected one {action} event, found {len(events)}"
        return events[0]

    return check


@pytest.fixture
def manage(org) -> Callable[..., Account]:
    """Make an account managed by ``org`` (notice already seen, so the sign-in goes straight through)."""

    def run(account: Account | None = None, *, in_org=None, directory: Directory | None = None) -> Account:
        account = account or AccountFactory()
        target = in_org or org
        _complete(target)
        account_claim(org=target, account=account, domain=None, actor=Actor.system())
        updates = {"managed_notice_seen_at": timezone.now()}
        if directory is not None:
            updates["directory"] = directory
        OrgUser.objects.filter(org=target, account=account).update(**updates)
        return account

    return run


@pytest.fixture
def default_policy(org) -> AuthenticationPolicy:
    return AuthenticationPolicy.objects.get(directory=local_directory(org), is_default=True)


@pytest.fixture
def idp_directory(org) -> Directory:
    """An identity-provider directory (as the SAML issue creates them), with its default policy."""
    from orgwarden.orgs import hooks

    directory = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name="Okta")
    hooks.run_directory_created(directory)
    return directory


@pytest.fixture
def sign_in(password) -> Callable[..., object]:
    """Run the email and password steps; returns the response of the password step."""

    def run(client: Client, email: str, secret: str | None = None):
        first = client.post("/login", {"email": email})
        assert first.status_code == 302 and first["Location"] == "/login/step/password", first
        return client.post("/login/step/password", {"password": secret or password})

    return run
