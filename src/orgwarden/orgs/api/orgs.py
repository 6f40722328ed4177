"""``/api/admin/v1/orgs``: the key's org, and its users, domains and groups; inviting people to
product sites, and an invitation sent again.

An API key belongs to one org, so the org list has exactly one entry; any other ``orgId`` is a 404
(as if it did not exist), never a 403.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from orgwarden.orgs.api import queries
from orgwarden.orgs.api.pagination import cursor_decode, cursor_encode, page
from orgwarden.orgs.api.schemas import (
    AccountId,
    Domain,
    DomainId,
    DomainPage,
    Error,
    GroupPage,
    InvitationResent,
    InviteRequest,
    Org,
    OrgId,
    OrgPage,
    UserPage,
    UsersInvited,
)
from orgwarden.orgs.exceptions import InvalidInput, NotFound
from orgwarden.orgs.models import Domain as DomainModel
from orgwarden.orgs.models import Organization
from orgwarden.orgs.selectors import users as users_selectors
from orgwarden.orgs.services import access, invitations
from orgwarden.tokens.auth import OrgApiKeyAuth

router = Router(auth=OrgApiKeyAuth(), tags=["organizations"])

ERRORS: dict[int | frozenset, Any] = {frozenset({400, 401, 404, 429}): Error}
WRITE_ERRORS: dict[int | frozenset, Any] = {frozenset({400, 401, 404, 409, 413, 429}): Error}


class ListQuery(Schema):
    cursor: str | None = Field(None, max_length=1500, description="The opaque cursor of a `next` link")
    limit: int = Field(50, ge=1, le=100)


class UserQuery(ListQuery):
    q: str = Field("", max_length=200, description="Email prefix or part of the name")
    kind: Literal["", "managed", "external"] = ""
    status: Literal["", "active", "invited", "deactivated", "deletion_scheduled"] = Field(
        "", description="invited: sent a one-time sign-in link (an invitation) and not signed in since"
    )
    last_active: Literal[
        "", "active_30", "active_90", "inactive_30", "inactive_60", "inactive_90", "never"
    ] = Field(
        "",
        description="active_N: active in the last N days; inactive_N: not active for N days, or never; "
        "never: never active (a product sign-in or an API token check is activity)",
    )


def _org(org: Organization) -> dict[str, Any]:
    return {"id": org.org_id, "name": org.name, "created_at": org.created_at}


def _domain(domain: DomainModel) -> dict[str, Any]:
    return {
        "id": domain.domain_id,
        "name": domain.name,
        "status": domain.status,
        "method": domain.method,
        "claim": domain.claim,
        "verified_at": domain.verified_at,
    }


def _user(row: users_selectors.UserRow) -> dict[str, Any]:
    return {
        "account_id": row.account_id,
        "email": row.email,
        "name": row.name,
        "managed": row.is_managed,
        "status": row.status,
        "last_active": row.last_active_at,
        "deletion_scheduled_for": row.deletion_scheduled_for,
    }


def _after(cursor: str | None) -> tuple[str, int] | None:
    if not cursor:
        return None
    value, pk = cursor_decode(cursor, types=(str, int))
    return value, pk


def _next(key: tuple[str, int] | None) -> str | None:
    return cursor_encode(list(key)) if key else None


@router.get("/orgs", response={200: OrgPage, **ERRORS})
def orgs_list(request: HttpRequest):
    """The organizations this key may read: its own."""
    return page(request, [_org(request.org)], next_cursor=None, size=1)


@router.get("/orgs/{orgId}", response={200: Org, **ERRORS})
def org_detail(request: HttpRequest, org_id: OrgId):
    return _org(queries.org_of_key(org=request.org, org_id=org_id))


@router.get("/orgs/{orgId}/users", response={200: UserPage, **ERRORS})
def users_list(request: HttpRequest, org_id: OrgId, params: Query[UserQuery]):
    """The org's users (managed accounts and external users), sorted by email.

    ``last_active`` is when the user last signed in to one of the org's product sites or used an API
    token with one (ISO 8601, UTC), or null if never; the ``last_active`` parameter filters on it.
    ``status`` is ``deletion_scheduled`` from the moment a deletion is scheduled (the account is
    deactivated then too), ``invited`` while an active account has not signed in since it was sent
    a one-time sign-in link (an invitation), else the account's status.
    """
    org = queries.org_of_key(org=request.org, org_id=org_id)
    filters = users_selectors.UserFilters(
        q=params.q, kind=params.kind, status=params.status, last_active=params.last_active
    )
    result = users_selectors.users_page(org=org, filters=filters, after=params.cursor, size=params.limit)
    return page(
        request, [_user(row) for row in result.rows], next_cursor=result.next_cursor, size=params.limit
    )


@router.get("/orgs/{orgId}/domains", response={200: DomainPage, **ERRORS})
def domains_list(request: HttpRequest, org_id: OrgId, params: Query[ListQuery]):
    """The org's domains, verified or not, sorted by name."""
    org = queries.org_of_key(org=request.org, org_id=org_id)
    rows, key = queries.domains_page(org=org, after=_after(params.cursor), size=params.limit)
    return page(request, [_domain(row) for row in rows], next_cursor=_next(key), size=params.limit)


@router.get("/orgs/{orgId}/domains/{domainId}", response={200: Domain, **ERRORS})
def domain_detail(request: HttpRequest, org_id: OrgId, domain_id: DomainId):
    org = queries.org_of_key(org=request.org, org_id=org_id)
    return _domain(queries.domain_of(org=org, domain_id=domain_id))


@router.get("/orgs/{orgId}/groups", response={200: GroupPage, **ERRORS})
def groups_list(request: HttpRequest, org_id: OrgId, params: Query[ListQuery]):
    """The org's groups with their member counts, sorted by name."""
    org = queries.org_of_key(org=request.org, org_id=org_id)
    rows, key = queries.groups_page(org=org, after=_after(params.cursor), size=params.limit)
    data = [
        {
            "group_id": group.group_id,
            "name": group.name,
            "description": group.description,
            "synced": group.directory_id is not None,
            "member_count": group.member_count,
        }
        for group in rows
    ]
    return page(request, data, next_cursor=_next(key), size=params.limit)


@router.post("/orgs/{orgId}/users/invite", response={200: UsersInvited, **WRITE_ERRORS})
def users_invite(request: HttpRequest, org_id: OrgId, payload: InviteRequest):
    """Invite people to product sites of the org, all or nothing, as Users → Invite people does.

    Each joins each site's default groups (and its admin group with ``role`` admin) and is emailed:
    a new account gets a one-time sign-in link, an existing one a note that access was granted.
    400 ``invalid_request`` for a bad address or an unknown product site (nobody is invited); 429
    ``rate_limited`` (with ``Retry-After``; nobody is invited) past 3 invitation emails an hour to
    one address, 100 an hour from this key to people invited before, or
    ``ORGWARDEN_FIRST_INVITATIONS_PER_HOUR`` (5,000 by default) to people new to the org, counted
    for the whole org (all its admins and API keys together): a script onboarding more than that
    waits ``Retry-After`` seconds, then goes on.
    """
    org = queries.org_of_key(org=request.org, org_id=org_id)
    try:
        invited = access.users_invite(
            org=org,
            actor=request.api_key,
            emails=payload.emails,
            site_ids=payload.site_ids,
            role=payload.role,
        )
    except NotFound as exc:  # a site id of the body, not of the path: the request is wrong, not the URL
        raise InvalidInput("Unknown product site: use the id of one of the org's product sites.") from exc
    return {"invited": [{"account_id": a.account_id, "email": a.email} for a in invited]}


@router.post(
    "/orgs/{orgId}/users/{accountId}/invitation/resend",
    response={200: InvitationResent, **WRITE_ERRORS},
)
def invitation_resend(request: HttpRequest, org_id: OrgId, account_id: AccountId):
    """Send the invitation email again to a user whose ``status`` is ``invited``.

    The email lists the product sites the person can use now; a person without a password gets a new
    one-time sign-in link, and their earlier links stop working. 409 ``not_invited`` for someone who
    signed in since, was never sent a sign-in link, or is deactivated; 409 ``no_product_access``
    when no product site is left to list; 429 ``rate_limited`` (with ``Retry-After``) past 3 an hour
    to one address or 100 an hour from one key; 404 for an account that is not a user of the org.
    """
    org = queries.org_of_key(org=request.org, org_id=org_id)
    done = invitations.user_invitation_resend(org=org, actor=request.api_key, account_id=account_id)
    return {
        "account_id": done.account.account_id,
        "email": done.account.email,
        "sites": [{"id": s.site_id, "name": s.name, "url": s.url} for s in done.sites],
        "signin_link": done.signin_link,
    }
