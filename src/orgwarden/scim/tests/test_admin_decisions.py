"""What an admin decides about a provisioned account, and what the IdP's updates then do to it.

An admin deactivates a provisioned person in the console (an incident does not wait for the IdP's
admins): Okta's next profile push sends the whole user again, ``active: true`` included, which used
to reactivate the account at once — and cancel a scheduled deletion — with no one asking for it.
The IdP now reactivates only a record it had deactivated itself.

The email of an account a SCIM record provisions is the IdP's: an admin's change in the console or
through the REST API was undone at the IdP's next update (and the person signed out twice); it is
now refused, saying where to change it. The other way round, the IdP still deactivates whom an
admin reactivated while its record says inactive, and the user's page says so before and after.
"""

from __future__ import annotations

import pytest

from orgwarden.accounts.models import Account
from orgwarden.api.tests.helpers import ApiClient, key_for
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import OrgUser
from orgwarden.scim.models import ProvisioningLog
from orgwarden.scim.tests.conftest import patch_body, user_body

pytestmark = pytest.mark.django_db


def _account(scim, user_id: str) -> Account:
    return Account.objects.get(scim_users__scim_id=user_id)


def _console(org, account, rest: str = "") -> str:
    return f"/admin/o/{org.org_id}/users/{account.account_id}/{rest}"


def _active(scim, user_id: str, value: bool) -> None:
    patched = scim.patch(f"/Users/{user_id}", patch_body({"op": "replace", "path": "active", "value": value}))
    assert patched.status_code == 200, patched.content


def test_an_idp_update_repeating_active_true_leaves_an_admins_deactivation(scim, admin_client, org):
    user_id = scim.post("/Users", user_body()).json()["id"]
    account = _account(scim, user_id)
    deactivated = admin_client.post(_console(org, account, "deactivate"), {"message": "Laptop stolen"})
    assert deactivated.status_code == 302

    pushed = scim.put(f"/Users/{user_id}", user_body(title="Countess"))  # Okta's profile push
    assert pushed.status_code == 200 and pushed.json()["active"] is True
    account.refresh_from_db()
    assert account.status == Account.Status.DEACTIVATED and account.job_title == "Countess"
    skipped = AuditEvent.objects.get(action="scim:user:reactivation_skipped")
    assert skipped.actor_type == "directory" and skipped.details["reason"] == "deactivated_by_admin"
    assert not AuditEvent.objects.filter(action="org:account:reactivated").exists()
    line = ProvisioningLog.objects.filter(operation="replace").get()
    assert line.status == 200 and "Deactivated by an admin of this organization" in line.error
    assert OrgUser.objects.get(account=account).deactivation_message == "Laptop stolen"

    _active(scim, user_id, False)  # the IdP deactivates the person too …
    _active(scim, user_id, True)  # … and reactivates them: its own change, applied
    account.refresh_from_db()
    assert account.status == Account.Status.ACTIVE
    assert AuditEvent.objects.get(action="org:account:reactivated").actor_type == "directory"


def test_an_idp_update_does_not_cancel_a_scheduled_deletion(scim, admin_client, org):
    user_id = scim.post("/Users", user_body()).json()["id"]
    account = _account(scim, user_id)
    assert admin_client.post(_console(org, account, "delete")).status_code == 302
    scheduled = OrgUser.objects.get(account=account).deletion_scheduled_for
    assert scheduled is not None

    assert scim.put(f"/Users/{user_id}", user_body(title="Countess")).status_code == 200
    _active(scim, user_id, True)
    account.refresh_from_db()
    assert account.status == Account.Status.DEACTIVATED
    assert OrgUser.objects.get(account=account).deletion_scheduled_for == scheduled
    skipped = AuditEvent.objects.filter(action="scim:user:reactivation_skipped")
    assert skipped.count() == 2 and all(event.details["deletion_scheduled"] for event in skipped)


def test_the_idp_still_deactivates_what_an_admin_reactivated(scim, admin_client, org):
    user_id = scim.post("/Users", user_body()).json()["id"]
    account = _account(scim, user_id)
    _active(scim, user_id, False)
    before = admin_client.get(_console(org, account)).content.decode()
    assert "Okta has this person as inactive. Reactivate them in Okta; reactivating them only here" in before
    assert admin_client.post(_console(org, account, "reactivate")).status_code == 302
    account.refresh_from_db()
    assert account.status == Account.Status.ACTIVE
    after = admin_client.get(_console(org, account)).content.decode()
    assert "Okta has this person as inactive: its next update deactivates them again." in after

    assert scim.put(f"/Users/{user_id}", user_body(active=False)).status_code == 200
    account.refresh_from_db()
    assert account.status == Account.Status.DEACTIVATED


def test_the_email_of_a_scim_provisioned_account_changes_in_the_idp_only(scim, admin_client, org, org_admin):
    user_id = scim.post("/Users", user_body()).json()["id"]
    account = _account(scim, user_id)
    page = admin_client.get(_console(org, account)).content.decode()
    assert "Change email" not in page and "Managed by Okta: change it and the email in your" in page

    refused = admin_client.post(_console(org, account, "email"), {"email": "ada.l@example.com"})
    assert refused.status_code == 400
    assert "Okta provisions this account by SCIM: change the email there" in refused.content.decode()
    api = ApiClient(key_for(org_admin)[1])
    response = api.put(f"/api/users/{account.account_id}/manage/email", {"email": "ada.l@example.com"})
    assert response.status_code == 409 and response.json()["code"] == "managed_by_identity_provider"
    assert "Okta provisions this account by SCIM" in response.json()["message"]
    account.refresh_from_db()
    assert account.email == "ada@example.com"
    assert not AuditEvent.objects.filter(action="org:account:email_changed").exists()

    moved = scim.put(f"/Users/{user_id}", user_body("ada.l@example.com"))  # where it does change
    assert moved.status_code == 200
    account.refresh_from_db()
    assert account.email == "ada.l@example.com"
