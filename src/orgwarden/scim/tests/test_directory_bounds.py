"""One IdP directory's key reaches only its own people, and never locks out a break-glass admin."""

from __future__ import annotations

import pytest

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Directory, OrgAdmin, OrgUser
from orgwarden.orgs.services.claims import account_claim
from orgwarden.policies import services as policy_services
from orgwarden.scim.models import ProvisioningLog, ScimUser
from orgwarden.scim.services import BREAK_GLASS_KEPT
from orgwarden.scim.tests.conftest import patch_body, user_body
from orgwarden.sso import services as sso_services

pytestmark = pytest.mark.django_db


def test_a_directory_does_not_take_an_account_another_idp_directory_manages(
    org, org_admin, scim, directory, domain
):
    other = sso_services.idp_add(org=org, actor=org_admin.account, vendor="other", name="Entra").directory
    ada = AccountFactory(email="ada@example.com")
    account_claim(org=org, account=ada, domain=domain, actor=Actor.system(), directory=other)

    response = scim.post("/Users", user_body("ada@example.com"))
    assert response.status_code == 409 and response.json()["scimType"] == "uniqueness"
    assert "Entra" in response.json()["detail"]
    assert OrgUser.objects.get(org=org, account=ada).directory == other
    assert not ScimUser.objects.filter(directory=directory).exists()
    assert not AuditEvent.objects.filter(action="scim:user:created").exists()


def test_a_directory_adopts_an_account_claimed_into_the_local_directory(org, scim, directory, domain):
    ada = AccountFactory(email="ada@example.com")
    account_claim(org=org, account=ada, domain=domain, actor=Actor.system())
    assert OrgUser.objects.get(org=org, account=ada).directory.kind == Directory.Kind.LOCAL
    assert scim.post("/Users", user_body("ada@example.com")).status_code == 201
    assert OrgUser.objects.get(org=org, account=ada).directory == directory


def _break_glass(org, org_admin, domain, email: str) -> Account:
    account = AccountFactory(email=email)
    OrgAdmin.objects.create(org=org, account=account)
    policy_services.break_glass_add(org=org, actor=org_admin.account, account_id=account.account_id)
    account_claim(org=org, account=account, domain=domain, actor=Actor.system())
    return account


def _log_note(directory, operation: str) -> str:
    return ProvisioningLog.objects.filter(directory=directory, operation=operation).latest("pk").error


def test_deactivating_a_break_glass_admin_succeeds_on_the_record_and_leaves_the_account_active(
    org, org_admin, scim, directory, domain
):
    keeper = _break_glass(org, org_admin, domain, "keeper@example.com")
    scim_id = scim.post("/Users", user_body("keeper@example.com")).json()["id"]

    deactivate = patch_body({"op": "replace", "path": "active", "value": False})
    response = scim.patch(f"/Users/{scim_id}", deactivate)
    assert response.status_code == 200 and response.json()["active"] is False
    assert Account.objects.get(pk=keeper.pk).status == Account.Status.ACTIVE
    assert _log_note(directory, "patch") == BREAK_GLASS_KEPT
    skipped = AuditEvent.objects.get(action="scim:user:deactivation_skipped")
    assert skipped.actor_type == "directory" and skipped.details == {"reason": "break_glass_admin"}
    assert not AuditEvent.objects.filter(action="org:account:deactivated").exists()

    assert scim.delete(f"/Users/{scim_id}").status_code == 204
    assert Account.objects.get(pk=keeper.pk).status == Account.Status.ACTIVE
    assert _log_note(directory, "delete") == BREAK_GLASS_KEPT


def test_a_break_glass_admin_provisioned_inactive_stays_active(org, org_admin, scim, directory, domain):
    keeper = _break_glass(org, org_admin, domain, "keeper@example.com")
    response = scim.post("/Users", user_body("keeper@example.com", active=False))
    assert response.status_code == 201 and response.json()["active"] is False
    assert Account.objects.get(pk=keeper.pk).status == Account.Status.ACTIVE
    assert _log_note(directory, "create") == BREAK_GLASS_KEPT


def test_an_org_admin_who_is_not_break_glass_is_deactivated_like_anyone(org, scim, directory, domain):
    """The documented decision: the IdP is the source of truth for the admins it provisions."""
    boss = AccountFactory(email="boss@example.com")
    OrgAdmin.objects.create(org=org, account=boss)
    account_claim(org=org, account=boss, domain=domain, actor=Actor.system())
    assert scim.post("/Users", user_body("boss@example.com", active=False)).status_code == 201
    assert Account.objects.get(pk=boss.pk).status == Account.Status.DEACTIVATED
    assert _log_note(directory, "create") == ""
