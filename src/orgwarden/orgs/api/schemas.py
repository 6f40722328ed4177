"""Every input and output shape of the Organizations REST API (one small schema per use)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Path, Schema
from pydantic import ConfigDict


class Error(Schema):
    code: str = Field(description="Stable, machine-readable: invalid_request, unauthorized, not_found …")
    message: str


class Links(Schema):
    self: str
    next: str | None


class Meta(Schema):
    page_size: int


class Org(Schema):
    id: str
    name: str
    created_at: datetime


class User(Schema):
    account_id: str
    email: str
    name: str
    managed: bool
    status: Literal["active", "invited", "deactivated", "deletion_scheduled", "closed"] = Field(
        description="invited: an active account not signed in since it was sent a one-time sign-in "
        "link (an invitation)"
    )
    last_active: datetime | None = Field(
        description="The last product sign-in or API token check, in any of the org's product sites "
        "(UTC; null: never)"
    )
    deletion_scheduled_for: datetime | None


class Domain(Schema):
    id: str
    name: str
    status: Literal["unverified", "verified"]
    method: str = Field(description='"dns", "https", or "" before the first verification')
    claim: Literal["manual", "automatic"]
    verified_at: datetime | None


class Group(Schema):
    group_id: str
    name: str
    description: str
    synced: bool = Field(description="Synced from an identity provider's directory (read-only here)")
    member_count: int


class EventActor(Schema):
    type: str
    id: str
    name: str
    email: str


class EventAction(Schema):
    key: str
    name: str


class Event(Schema):
    id: str
    time: str
    action: EventAction
    category: str
    actor: EventActor
    targets: list[dict[str, Any]]
    ip: str | None
    user_agent: str
    details: dict[str, Any]


class CatalogueAction(Schema):
    key: str
    name: str
    category: str


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The page envelope around ``item`` (a named class, so OpenAPI shows one schema per list)."""
    return type(name, (Schema,), {"__annotations__": {"data": list[item], "links": Links, "meta": Meta}})


OrgPage = page_of(Org, "OrgPage")
UserPage = page_of(User, "UserPage")
DomainPage = page_of(Domain, "DomainPage")
GroupPage = page_of(Group, "GroupPage")
EventPage = page_of(Event, "EventPage")
CatalogueActionPage = page_of(CatalogueAction, "CatalogueActionPage")


class InviteRequest(Schema):
    emails: list[Annotated[str, Field(max_length=320)]] = Field(
        min_length=1,
        max_length=50,
        description="The people to invite, 1 to 50 addresses; all of them are invited, or none",
    )
    site_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1,
        max_length=50,
        description="The product sites to invite them to (a site's id is its sign-in client id)",
    )
    role: Literal["user", "admin"] = Field("user", description="admin: also added to each site's admin group")


class InvitedUser(Schema):
    account_id: str
    email: str


class UsersInvited(Schema):
    invited: list[InvitedUser] = Field(description="Everyone invited, in the order asked")


class InvitedSite(Schema):
    id: str
    name: str
    url: str


class InvitationResent(Schema):
    account_id: str
    email: str
    sites: list[InvitedSite] = Field(
        description="The product sites the email lists: those the person can use now"
    )
    signin_link: bool = Field(
        description="true: the email carries a new one-time sign-in link and the person's earlier links "
        "no longer work; false: the person has a password, and the email links to the sign-in page"
    )


# --- user management --------------------------------------------------------------------------------


class Permissions(Schema):
    model_config = ConfigDict(populate_by_name=True)

    profile_write: bool = Field(alias="profile.write")
    email_set: bool = Field(alias="email.set")
    lifecycle_enablement: bool = Field(alias="lifecycle.enablement")
    lifecycle_delete: bool = Field(alias="lifecycle.delete")


class Profile(Schema):
    account_id: str
    email: str
    name: str
    job_title: str
    department: str
    organization: str
    location: str
    status: Literal["active", "deactivated", "closed"]
    managed: bool


class ProfileChanges(Schema):
    """The fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=150)
    job_title: str | None = Field(None, max_length=150)
    department: str | None = Field(None, max_length=150)
    organization: str | None = Field(None, max_length=150)
    location: str | None = Field(None, max_length=150)


class EmailChange(Schema):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)


class DisableRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    message: str = Field("", max_length=500, description="Shown to the person when they try to sign in")


class Lifecycle(Schema):
    account_id: str
    status: Literal["active", "deactivated", "closed"]
    deletion_scheduled_for: datetime | None


# --- path parameters, named as in Atlassian's API ------------------------------------------------------

OrgId = Annotated[str, Path(alias="orgId", description="The organization's id")]
DomainId = Annotated[str, Path(alias="domainId")]
EventId = Annotated[str, Path(alias="eventId")]
AccountId = Annotated[str, Path(alias="accountId", description="The account's id")]
