"""``/api/users/{accountId}/manage…``: managing the org's accounts from a script.

The account must be a user of the key's org; any other account id is a 404 (another org's account
is indistinguishable from none). The org's users are listed by ``/admin/v1/orgs/{orgId}/users``,
so for one of them the caller may know that it exists: a change that only the org managing the
account may make answers 403 ``not_managed`` for an external user, and a profile provisioned by
an identity provider answers 409 ``managed_by_identity_provider`` (change it in the IdP).
``GET …/manage`` tells in advance which of these operations the key may perform.

Writes go through ``orgs.services.users`` with the key as the actor, so every change is recorded
in the audit log with actor type ``api_key``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from orgwarden.accounts.models import Account
from orgwarden.orgs.api import queries
from orgwarden.orgs.api.schemas import (
    AccountId,
    DisableRequest,
    EmailChange,
    Error,
    Lifecycle,
    Permissions,
    Profile,
    ProfileChanges,
)
from orgwarden.orgs.models import OrgUser
from orgwarden.orgs.services import users as user_services
from orgwarden.tokens.auth import OrgApiKeyAuth

router = Router(auth=OrgApiKeyAuth(), tags=["user management"])

READ_ERRORS: dict[frozenset, Any] = {frozenset({400, 401, 404, 429}): Error}
WRITE_ERRORS: dict[frozenset, Any] = {frozenset({400, 401, 403, 404, 409, 413, 429}): Error}
# The API's names of profile fields -> the account's (``name`` is the display name).
PROFILE_FIELDS = {
    "name": "display_name",
    "job_title": "job_title",
    "department": "department",
    "organization": "organization",
    "location": "location",
}


def _profile(account: Account, managed: bool) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "email": account.email,
        "name": account.display_name,
        "job_title": account.job_title,
        "department": account.department,
        "organization": account.organization,
        "location": account.location,
        "status": account.status,
        "managed": managed,
    }


def _lifecycle(org_user: OrgUser) -> dict[str, Any]:
    return {
        "account_id": org_user.account.account_id,
        "status": org_user.account.status,
        "deletion_scheduled_for": org_user.deletion_scheduled_for,
    }


@router.get("/users/{accountId}/manage", response={200: Permissions, **READ_ERRORS}, by_alias=True)
def manage_permissions(request: HttpRequest, account_id: AccountId):
    """What this key may do to the account (false for all of it when the org does not manage it)."""
    return queries.user_permissions(org=request.org, account_id=account_id)


@router.get("/users/{accountId}/manage/profile", response={200: Profile, **READ_ERRORS})
def profile_get(request: HttpRequest, account_id: AccountId):
    org_user = queries.org_user_of(org=request.org, account_id=account_id)
    return _profile(org_user.account, org_user.is_managed)


@router.patch("/users/{accountId}/manage/profile", response={200: Profile, **WRITE_ERRORS})
def profile_update(request: HttpRequest, account_id: AccountId, payload: ProfileChanges):
    """Change profile fields of a managed account; fields left out (or null) stay as they are."""
    changes = {
        PROFILE_FIELDS[name]: value
        for name, value in payload.model_dump(exclude_none=True).items()
        if name in PROFILE_FIELDS
    }
    account = user_services.user_profile_update(
        org=request.org, actor=request.api_key, account_id=account_id, changes=changes
    )
    return _profile(account, True)


@router.put("/users/{accountId}/manage/email", response={200: Profile, **WRITE_ERRORS})
def email_set(request: HttpRequest, account_id: AccountId, payload: EmailChange):
    """Move a managed account to an address on one of the org's verified domains; ends its sessions."""
    account = user_services.user_email_change(
        org=request.org, actor=request.api_key, account_id=account_id, email=payload.email
    )
    return _profile(account, True)


@router.post("/users/{accountId}/manage/lifecycle/disable", response={200: Lifecycle, **WRITE_ERRORS})
def lifecycle_disable(request: HttpRequest, account_id: AccountId, payload: DisableRequest | None = None):
    """Deactivate a managed account; ``message`` is shown to the person when they try to sign in."""
    user_services.user_deactivate(
        org=request.org,
        actor=request.api_key,
        account_id=account_id,
        message=payload.message if payload else "",
    )
    return _lifecycle(queries.org_user_of(org=request.org, account_id=account_id))


@router.post("/users/{accountId}/manage/lifecycle/enable", response={200: Lifecycle, **WRITE_ERRORS})
def lifecycle_enable(request: HttpRequest, account_id: AccountId):
    """Reactivate a deactivated managed account (400 while its deletion is scheduled: cancel it)."""
    user_services.user_reactivate(org=request.org, actor=request.api_key, account_id=account_id)
    return _lifecycle(queries.org_user_of(org=request.org, account_id=account_id))


@router.post("/users/{accountId}/manage/lifecycle/delete", response={200: Lifecycle, **WRITE_ERRORS})
def lifecycle_delete(request: HttpRequest, account_id: AccountId):
    """Schedule the account's deletion in 14 days; it is deactivated at once."""
    org_user = user_services.user_deletion_schedule(
        org=request.org, actor=request.api_key, account_id=account_id
    )
    return _lifecycle(org_user)


@router.post("/users/{accountId}/manage/lifecycle/cancel-delete", response={200: Lifecycle, **WRITE_ERRORS})
def lifecycle_cancel_delete(request: HttpRequest, account_id: AccountId):
    """Cancel a scheduled deletion; the account is active again."""
    org_user = user_services.user_deletion_cancel(
        org=request.org, actor=request.api_key, account_id=account_id
    )
    return _lifecycle(org_user)
