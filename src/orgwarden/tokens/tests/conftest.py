"""Fixtures for the tokens tests: a complete org, managed accounts, a product site with access."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.utils import timezone

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Group, OrgUser, ProductSite
from orgwarden.orgs.services import access
from orgwarden.orgs.services.claims import account_claim, local_directory
from orgwarden.policies.models import AuthenticationPolicy
from orgwarden.tokens.introspection import site_credential_create


def _complete(org) -> None:
    from orgwarden.policies.services import default_policy_create

    default_policy_create(local_directory(org))


@pytest.fixture
def org(org_admin):
    """The conftest's org with its local directory and default policy, as ``org_create`` makes it."""
    _complete(org_admin.org)
    return org_admin.org


@pytest.fixture
def one_event() -> Callable[..., AuditEvent]:
    def check(action: str) -> AuditEvent:
        events = list(AuditEvent.objects.filter(action=action))
        assert len(events) == 1, f"expected one {action} event, found {len(events)}"
        return events[0]

    return check


@pytest.fixture
def manage(org) -> Callable[..., Account]:
    """Make an account managed by ``org`` (or ``in_org``)."""

    def run(account: Account | None = None, *, in_org=None) -> Account:
        account = account or AccountFactory()
        target = in_org or org
        _complete(target)
        account_claim(org=target, account=account, domain=None, actor=Actor.system())
        OrgUser.objects.filter(org=target, account=account).update(managed_notice_seen_at=timezone.now())
        return account

    return run


@pytest.fixture
def default_policy(org) -> AuthenticationPolicy:
    return AuthenticationPolicy.objects.get(directory=local_directory(org), is_default=True)


@dataclass
class Site:
    site: ProductSite
    group: Group
    client_id: str
    secret: str


@pytest.fixture
def site(org, org_admin) -> Site:
    """A Jira site of ``org`` whose "jira-users" group has access, with its client secret."""
    actor = org_admin.account
    jira = access.site_add(
        org=org, actor=actor, product="jira-software", name="Jira", url="https://jira.acme.test"
    )
    group = access.group_create(org=org, actor=actor, name="jira-users")
    access.access_grant(org=org, actor=actor, site_id=jira.site_id, group_id=group.group_id, role="user")
    credential, secret = site_credential_create(org=org, actor=actor, site_id=jira.site_id)
    return Site(jira, group, credential.client_id, secret)


@pytest.fixture
def grant(org, org_admin, site) -> Callable[[Account], None]:
    """Give ``account`` access to the site through its group."""

    def run(account: Account) -> None:
        access.group_members_add(
            org=org, actor=org_admin.account, group_id=site.group.group_id, account_ids=[account.account_id]
        )

    return run
