"""orgs.services.access and orgs.selectors.access: sites, groups, access, invitations, external users."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.exceptions import GroupSynced, InvalidInput, NotFound
from orgwarden.orgs.models import Directory, Group, GroupMember, OrgUser, ProductSite, SiteAccess
from orgwarden.orgs.selectors import access as q
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services.claims import account_claim

pytestmark = pytest.mark.django_db


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def one_event(action: str) -> AuditEvent:
    found = events(action)
    assert len(found) == 1, f"expected one {action} event, found {len(found)}"
    return found[0]


@dataclass
class ApiKey:
    """Shaped like an org API key (``orgs.services.actors.ApiKeyLike``)."""

    org_id: int
    key_id: str = "key_1"
    name: str = "Provisioning script"


def add_site(org, admin, name="Acme Jira", url="https://acme.example.net", product="jira-software"):
    return s.site_add(org=org, actor=admin, product=product, name=name, url=url)


def user_of(org, **kwargs) -> Account:
    account = AccountFactory(**kwargs)
    OrgUser.objects.create(org=org, account=account, email=account.email)
    return account


def synced_group(org, name="Engineering") -> Group:
    directory = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name="Okta")
    return Group.objects.create(org=org, name=name, directory=directory)


def assert_nothing_recorded(before: int = 0) -> None:
    """No event since the count ``before`` (audit events are immutable: tests count, never delete)."""
    assert AuditEvent.objects.count() == before


# --- product sites ------------------------------------------------------------------------------------


def test_site_add_records_the_product_and_url(org, admin):
    site = add_site(org, admin, url="HTTPS://Acme.Example.net/")
    assert site.url == "https://acme.example.net" and site.org == org
    event = one_event("org:site:added")
    assert event.org_id == org.org_id and event.actor_id == admin.account_id
    assert event.details == {
        "product": "jira-software",
        "url": "https://acme.example.net",
        "name": "Acme Jira",
    }
    assert event.targets == [{"type": "site", "id": site.site_id, "name": "Acme Jira"}]


def test_site_add_by_an_api_key(org):
    site = s.site_add(
        org=org, actor=ApiKey(org_id=org.pk), product="confluence", name="Wiki", url="https://wiki.example"
    )
    event = one_event("org:site:added")
    assert event.actor_type == "api_key" and event.actor_id == "key_1" and site.product == "confluence"


@pytest.mark.parametrize(
    "product,name,url",
    [
        ("jira", "Jira", "https://a.example"),  # unknown product
        ("jira-software", "", "https://a.example"),
        ("jira-software", "x" * 101, "https://a.example"),
        ("jira-software", "Jira", "http://a.example"),  # http only for localhost
        ("jira-software", "Jira", "ftp://a.example"),
        ("jira-software", "Jira", "not a url"),
        ("jira-software", "Jira", "https://a.example/" + "x" * 300),
        ("jira-software", "Jira", "https://user:pw@a.example"),
        ("jira-software", "Jira", "https://a.example/\x00"),
        ("jira-software", "Jira", ""),
    ],
)
def test_site_add_refuses_bad_values(org, admin, product, name, url):
    with pytest.raises(InvalidInput):
        s.site_add(org=org, actor=admin, product=product, name=name, url=url)
    assert not ProductSite.objects.exists()
    assert_nothing_recorded()


@pytest.mark.parametrize("url", ["http://localhost:8080", "http://127.0.0.1/jira", "http://jira.localhost"])
def test_site_add_allows_http_on_localhost(org, admin, url):
    assert add_site(org, admin, url=url).url == url


def test_site_url_is_unique_per_org(org, admin, other_org_admin):
    add_site(org, admin)
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput, match="already registered"):
        add_site(org, admin, name="Again", url="https://ACME.example.net/")
    assert ProductSite.objects.count() == 1
    assert_nothing_recorded(before)
    # Another org may register the same address.
    add_site(other_org_admin.org, other_org_admin.account)


def test_site_update_renames_and_moves(org, admin):
    site = add_site(org, admin)
    s.site_update(org=org, actor=admin, site_id=site.site_id, name="Jira", url="https://jira.example.net")
    site.refresh_from_db()
    assert (site.name, site.url) == ("Jira", "https://jira.example.net")
    event = one_event("org:site:updated")
    assert event.details["changes"] == {
        "name": {"from": "Acme Jira", "to": "Jira"},
        "url": {"from": "https://acme.example.net", "to": "https://jira.example.net"},
    }
    assert event.details["product"] == "jira-software" and event.details["url"] == "https://jira.example.net"
    s.site_update(org=org, actor=admin, site_id=site.site_id, name="Jira")  # nothing changes
    assert len(events("org:site:updated")) == 1


def test_site_update_refuses_a_taken_url(org, admin):
    site = add_site(org, admin)
    add_site(org, admin, name="Other", url="https://other.example.net")
    with pytest.raises(InvalidInput):
        s.site_update(org=org, actor=admin, site_id=site.site_id, name="X", url="https://other.example.net")
    site.refresh_from_db()
    assert site.name == "Acme Jira" and not events("org:site:updated")


def test_site_remove_keeps_groups(org, admin):
    site = add_site(org, admin)
    group = s.group_create(org=org, actor=admin, name="Devs")
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role="user")
    s.site_remove(org=org, actor=admin, site_id=site.site_id)
    assert not ProductSite.objects.exists() and not SiteAccess.objects.exists()
    assert Group.objects.filter(pk=group.pk).exists()
    event = one_event("org:site:removed")
    assert event.details["url"] == "https://acme.example.net" and event.details["groups_with_access"] == [
        "Devs"
    ]


def test_default_groups_must_have_access_and_be_local(org, admin):
    site = add_site(org, admin)
    group = s.group_create(org=org, actor=admin, name="Devs")
    with pytest.raises(InvalidInput, match="Grant Devs access"):
        s.site_default_groups_set(org=org, actor=admin, site_id=site.site_id, group_ids=[group.group_id])
    synced = synced_group(org)
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=synced.group_id, role="user")
    with pytest.raises(GroupSynced):
        s.site_default_groups_set(org=org, actor=admin, site_id=site.site_id, group_ids=[synced.group_id])
    assert not site.default_groups.exists() and not events("org:site:updated")

    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role="user")
    s.site_default_groups_set(org=org, actor=admin, site_id=site.site_id, group_ids=[group.group_id])
    assert list(site.default_groups.all()) == [group]
    event = one_event("org:site:updated")
    assert event.details["changes"] == {"default_groups": {"from": [], "to": ["Devs"]}}
    # Revoking the access drops the default too.
    s.access_revoke(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id)
    assert not site.default_groups.exists()
    assert one_event("org:access:revoked").details["was_default_group"] is True


# --- groups -------------------------------------------------------------------------------------------


def test_group_create_and_its_event(org, admin):
    group = s.group_create(org=org, actor=admin, name="  Site   Reliability ", description="On call")
    assert group.name == "Site Reliability" and group.directory is None
    event = one_event("org:group:created")
    assert event.targets == [{"type": "group", "id": group.group_id, "name": "Site Reliability"}]
    assert event.details == {"name": "Site Reliability", "description": "On call"}


@pytest.mark.parametrize("name", ["devs", "DEVS", " Devs "])
def test_group_names_are_unique_case_insensitively(org, admin, name):
    s.group_create(org=org, actor=admin, name="Devs")
    with pytest.raises(InvalidInput, match="exists"):
        s.group_create(org=org, actor=admin, name=name)
    assert Group.objects.count() == 1 and len(events("org:group:created")) == 1


@pytest.mark.parametrize("name,description", [("", ""), ("x" * 256, ""), ("Ok", "d" * 501)])
def test_group_create_refuses_bad_values(org, admin, name, description):
    with pytest.raises(InvalidInput):
        s.group_create(org=org, actor=admin, name=name, description=description)
    assert not Group.objects.exists()
    assert_nothing_recorded()


def test_group_update_and_delete(org, admin):
    group = s.group_create(org=org, actor=admin, name="Devs")
    s.group_create(org=org, actor=admin, name="Ops")
    with pytest.raises(InvalidInput):
        s.group_update(org=org, actor=admin, group_id=group.group_id, name="OPS")
    s.group_update(org=org, actor=admin, group_id=group.group_id, name="Developers", description="All")
    assert one_event("org:group:updated").details["changes"]["name"] == {"from": "Devs", "to": "Developers"}
    s.group_update(org=org, actor=admin, group_id=group.group_id, name="developers ")  # case change only
    assert Group.objects.get(pk=group.pk).name == "developers"
    member = user_of(org)
    s.group_members_add(org=org, actor=admin, group_id=group.group_id, account_ids=[member.account_id])
    s.group_delete(org=org, actor=admin, group_id=group.group_id)
    assert not Group.objects.filter(pk=group.pk).exists() and not GroupMember.objects.exists()
    assert OrgUser.objects.filter(account=member).exists()
    assert one_event("org:group:deleted").details == {"name": "developers", "members": 1, "sites": []}


def test_synced_groups_are_read_only(org, admin):
    group = synced_group(org)
    member = user_of(org)
    GroupMember.objects.create(group=group, account=member)
    for call in [
        lambda: s.group_update(org=org, actor=admin, group_id=group.group_id, name="X"),
        lambda: s.group_delete(org=org, actor=admin, group_id=group.group_id),
        lambda: s.group_members_add(
            org=org, actor=admin, group_id=group.group_id, account_ids=[user_of(org).account_id]
        ),
        lambda: s.group_member_remove(
            org=org, actor=admin, group_id=group.group_id, account_id=member.account_id
        ),
    ]:
        with pytest.raises(GroupSynced, match="Okta"):
            call()
    assert Group.objects.get(pk=group.pk).name == "Engineering" and GroupMember.objects.count() == 1
    assert_nothing_recorded()


def test_group_members_add_one_event_each_and_skips_members(org, admin):
    group = s.group_create(org=org, actor=admin, name="Devs")
    a, b = user_of(org), user_of(org)
    assert s.group_members_add(org=org, actor=admin, group_id=group.group_id, account_ids=[a.account_id]) == 1
    added = s.group_members_add(
        org=org, actor=admin, group_id=group.group_id, account_ids=[a.account_id, b.account_id, b.account_id]
    )
    assert added == 1 and GroupMember.objects.filter(group=group).count() == 2
    found = events("org:group:member_added")
    assert [e.targets[1]["id"] for e in found] == [a.account_id, b.account_id]
    s.group_member_remove(org=org, actor=admin, group_id=group.group_id, account_id=a.account_id)
    assert one_event("org:group:member_removed").targets[1]["email"] == a.email
    with pytest.raises(NotFound):
        s.group_member_remove(org=org, actor=admin, group_id=group.group_id, account_id=a.account_id)


def test_group_members_add_refuses_non_users_and_big_batches(org, admin, other_org_admin):
    group = s.group_create(org=org, actor=admin, name="Devs")
    user = user_of(org)
    outsider = AccountFactory()
    other_user = user_of(other_org_admin.org)
    for ids in [[user.account_id, outsider.account_id], [other_user.account_id], ["nope"], []]:
        with pytest.raises(InvalidInput):
            s.group_members_add(org=org, actor=admin, group_id=group.group_id, account_ids=ids)
    with pytest.raises(InvalidInput, match="at most 500"):
        s.group_members_add(
            org=org, actor=admin, group_id=group.group_id, account_ids=[f"id{i}" for i in range(501)]
        )
    assert not GroupMember.objects.exists() and not events("org:group:member_added")


# --- access -------------------------------------------------------------------------------------------


def test_access_grant_update_and_revoke(org, admin):
    site = add_site(org, admin, product="jira-service-management")
    group = s.group_create(org=org, actor=admin, name="Agents")
    access = s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role="user")
    assert access.role == "user"
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role="user")
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role="admin")
    assert SiteAccess.objects.get().role == "admin"
    granted = events("org:access:granted")
    assert [(e.details["role"], e.details["previous_role"]) for e in granted] == [
        ("user", None),
        ("admin", "user"),
    ]
    assert granted[0].targets == [
        {"type": "site", "id": site.site_id, "name": site.name},
        {"type": "group", "id": group.group_id, "name": "Agents"},
    ]
    with pytest.raises(InvalidInput):
        s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role="owner")
    s.access_revoke(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id)
    assert not SiteAccess.objects.exists()
    assert one_event("org:access:revoked").details["role"] == "admin"
    with pytest.raises(NotFound):
        s.access_revoke(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id)


def test_synced_groups_may_be_granted_access(org, admin):
    site = add_site(org, admin)
    group = synced_group(org)
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role="user")
    assert SiteAccess.objects.filter(group=group).exists()


# --- tenant isolation ---------------------------------------------------------------------------------


def test_another_orgs_objects_are_not_found(org, admin, other_org_admin):
    other, other_admin = other_org_admin.org, other_org_admin.account
    mine_site, mine_group = add_site(org, admin), s.group_create(org=org, actor=admin, name="Devs")
    their_site = add_site(other, other_admin, url="https://theirs.example")
    their_group = s.group_create(org=other, actor=other_admin, name="Theirs")
    their_user = user_of(other)
    GroupMember.objects.create(group=their_group, account=their_user)
    before = AuditEvent.objects.count()
    calls = [
        # Another org's admin (or key) acting on this org.
        lambda: add_site(org, other_admin, url="https://x.example"),
        lambda: s.group_create(org=org, actor=ApiKey(org_id=other.pk), name="X"),
        # This org's admin naming another org's objects, in any position.
        lambda: s.site_update(org=org, actor=admin, site_id=their_site.site_id, name="X"),
        lambda: s.site_remove(org=org, actor=admin, site_id=their_site.site_id),
        lambda: s.site_default_groups_set(
            org=org, actor=admin, site_id=mine_site.site_id, group_ids=[their_group.group_id]
        ),
        lambda: s.group_update(org=org, actor=admin, group_id=their_group.group_id, name="X"),
        lambda: s.group_delete(org=org, actor=admin, group_id=their_group.group_id),
        lambda: s.group_members_add(
            org=org, actor=admin, group_id=their_group.group_id, account_ids=[their_user.account_id]
        ),
        lambda: s.group_member_remove(
            org=org, actor=admin, group_id=their_group.group_id, account_id=their_user.account_id
        ),
        lambda: s.access_grant(
            org=org, actor=admin, site_id=mine_site.site_id, group_id=their_group.group_id, role="user"
        ),
        lambda: s.access_grant(
            org=other,
            actor=other_admin,
            site_id=their_site.site_id,
            group_id=mine_group.group_id,
            role="user",
        ),
        lambda: s.access_grant(
            org=org, actor=admin, site_id=their_site.site_id, group_id=mine_group.group_id, role="user"
        ),
        lambda: s.access_revoke(
            org=org, actor=admin, site_id=their_site.site_id, group_id=their_group.group_id
        ),
        lambda: s.user_invite(org=org, actor=admin, email="x@example.com", site_ids=[their_site.site_id]),
        lambda: s.user_remove(org=org, actor=admin, account_id=their_user.account_id),
        lambda: q.site(org=org, site_id=their_site.site_id),
        lambda: q.group(org=org, group_id=their_group.group_id),
        lambda: q.group_members(org=org, group=their_group),
        lambda: q.user_by_email(org=org, email=their_user.email),
        lambda: q.site(org=org, site_id="bad\x00id"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
    assert_nothing_recorded(before)
    assert not SiteAccess.objects.exists() and not Account.objects.filter(email="x@example.com").exists()
    assert ProductSite.objects.get(pk=their_site.pk).name == their_site.name


# --- invitations --------------------------------------------------------------------------------------


def test_invite_a_new_person(org, admin, django_capture_on_commit_callbacks, mailoutbox, password):
    site = add_site(org, admin)
    with django_capture_on_commit_callbacks(execute=True):
        account = s.user_invite(
            org=org, actor=admin, email=" New.Person@Example.com ", site_ids=[site.site_id]
        )
    assert account.email == "new.person@example.com" and account.display_name == "new.person"
    assert not account.has_usable_password() and account.email_verified is False
    org_user = OrgUser.objects.get(org=org, account=account)
    assert org_user.is_managed is False
    # The site had no default group: "<site name> users" appears, with user access, as its default.
    group = Group.objects.get(org=org, name="Acme Jira users")
    assert list(site.default_groups.all()) == [group]
    assert SiteAccess.objects.get(site=site, group=group).role == "user"
    assert GroupMember.objects.filter(group=group, account=account).exists()
    event = one_event("org:user:invited")
    assert event.details["new_account"] is True and event.details["sites"][0]["id"] == site.site_id
    assert event.details["groups"] == ["Acme Jira users"]
    assert one_event("org:group:created") and one_event("org:access:granted")
    assert one_event("org:group:member_added").details == {"via": "invitation"}
    assert one_event("account:created").details == {"via": "invitation"}

    # One email, the invitation: its sign-in link is what proves the address.
    [invitation] = mailoutbox
    assert "Acme Jira" in invitation.subject
    assert invitation.to == ["new.person@example.com"] and "https://acme.example.net" in invitation.body
    link = re.search(r"http://testserver(/login/link/\S+)", invitation.body).group(1)
    # Follow the link through the real views: GET shows a button, POST signs in and asks for a password.
    client = Client()
    assert client.get(link).status_code == 200
    response = client.post(link)
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200
    assert client.session["_auth_user_id"] == str(account.pk)
    account.refresh_from_db()
    assert account.email_verified is True
    # The link works once.
    assert Client().post(link).status_code == 400


def test_invite_an_existing_account_and_a_default_group(
    org, admin, django_capture_on_commit_callbacks, mailoutbox
):
    site = add_site(org, admin)
    devs = s.group_create(org=org, actor=admin, name="Devs")
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=devs.group_id, role="user")
    s.site_default_groups_set(org=org, actor=admin, site_id=site.site_id, group_ids=[devs.group_id])
    existing = AccountFactory(email="known@elsewhere.example")
    with django_capture_on_commit_callbacks(execute=True):
        account = s.user_invite(
            org=org, actor=admin, email="KNOWN@elsewhere.example", site_ids=[site.site_id]
        )
    assert account == existing and Account.objects.filter(email="known@elsewhere.example").count() == 1
    assert GroupMember.objects.filter(group=devs, account=existing).exists()
    assert Group.objects.filter(org=org).count() == 1  # no "<site> users" group: Devs is the default
    assert one_event("org:user:invited").details["new_account"] is False
    assert not events("account:signin_link:created")
    [mail] = mailoutbox
    assert "Sign in with your existing account" in mail.body and "http://testserver/login" in mail.body
    # Inviting again changes nothing but records the invitation (and sends the note again).
    with django_capture_on_commit_callbacks(execute=True):
        s.user_invite(org=org, actor=admin, email="known@elsewhere.example", site_ids=[site.site_id])
    assert GroupMember.objects.filter(account=existing).count() == 1 and len(events("org:user:invited")) == 2


def test_invite_an_account_managed_by_another_org(org, admin, other_org_admin):
    site = add_site(org, admin)
    theirs = AccountFactory()
    account_claim(org=other_org_admin.org, account=theirs, domain=None, actor=Actor.system())
    s.user_invite(org=org, actor=admin, email=theirs.email, site_ids=[site.site_id])
    assert OrgUser.objects.get(org=org, account=theirs).is_managed is False
    page = q.external_users(org=org)
    assert [u.account for u in page.items] == [theirs]


def test_invite_as_admin_joins_the_sites_admin_group(org, admin):
    site = add_site(org, admin, product="jira-service-management", name="Help")
    account = s.user_invite(
        org=org, actor=admin, email="agent@example.com", site_ids=[site.site_id], role="admin"
    )
    names = set(Group.objects.filter(memberships__account=account).values_list("name", flat=True))
    assert names == {"Help users", "Help admins"}
    assert SiteAccess.objects.get(group__name="Help admins").role == "admin"
    # A second admin invitation reuses the admin group.
    s.user_invite(org=org, actor=admin, email="agent2@example.com", site_ids=[site.site_id], role="admin")
    assert Group.objects.filter(org=org).count() == 2


def test_invite_names_the_new_group_uniquely(org, admin):
    site = add_site(org, admin)
    s.group_create(org=org, actor=admin, name="Acme Jira users")  # taken, without access
    s.user_invite(org=org, actor=admin, email="a@example.com", site_ids=[site.site_id])
    assert list(site.default_groups.values_list("name", flat=True)) == ["Acme Jira users (2)"]


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "x" * 250 + "@example.com"])
def test_invite_refuses_bad_emails(org, admin, email, mailoutbox):
    site = add_site(org, admin)
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput):
        s.user_invite(org=org, actor=admin, email=email, site_ids=[site.site_id])
    assert not OrgUser.objects.exists() and not Group.objects.exists() and not mailoutbox
    assert_nothing_recorded(before)


def test_invite_refuses_no_site_a_bad_role_and_closed_accounts(org, admin):
    site = add_site(org, admin)
    closed = AccountFactory(status=Account.Status.CLOSED)
    before = AuditEvent.objects.count()
    for kwargs in [
        {"email": "a@example.com", "site_ids": []},
        {"email": "a@example.com", "site_ids": [site.site_id], "role": "owner"},
        {"email": closed.email, "site_ids": [site.site_id]},
    ]:
        with pytest.raises(InvalidInput):
            s.user_invite(org=org, actor=admin, **kwargs)
    assert not OrgUser.objects.exists() and not Account.objects.filter(email="a@example.com").exists()
    assert_nothing_recorded(before)


# --- removing external users --------------------------------------------------------------------------


def test_user_remove_takes_every_group_and_the_user_row(org, admin, other_org_admin):
    site = add_site(org, admin)
    account = s.user_invite(org=org, actor=admin, email="ext@partner.example", site_ids=[site.site_id])
    devs = s.group_create(org=org, actor=admin, name="Devs")
    s.group_members_add(org=org, actor=admin, group_id=devs.group_id, account_ids=[account.account_id])
    # Their membership in another org's group is none of this org's business.
    theirs = Group.objects.create(org=other_org_admin.org, name="Partners")
    GroupMember.objects.create(group=theirs, account=account)
    s.user_remove(org=org, actor=admin, account_id=account.account_id)
    assert not OrgUser.objects.filter(org=org, account=account).exists()
    assert list(GroupMember.objects.filter(account=account)) == list(GroupMember.objects.filter(group=theirs))
    event = one_event("org:user:removed")
    assert event.details == {"groups": ["Acme Jira users", "Devs"], "external": True}
    assert Account.objects.filter(pk=account.pk).exists()


def test_user_remove_refuses_managed_accounts(org, admin):
    managed = AccountFactory()
    account_claim(org=org, account=managed, domain=None, actor=Actor.system())
    group = s.group_create(org=org, actor=admin, name="Devs")
    s.group_members_add(org=org, actor=admin, group_id=group.group_id, account_ids=[managed.account_id])
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput, match="deactivate or release"):
        s.user_remove(org=org, actor=admin, account_id=managed.account_id)
    assert OrgUser.objects.filter(org=org, account=managed).exists() and GroupMember.objects.exists()
    assert_nothing_recorded(before)
    with pytest.raises(NotFound):
        s.user_remove(org=org, actor=admin, account_id=AccountFactory().account_id)


# --- selectors ----------------------------------------------------------------------------------------


def test_groups_of_counts_and_searches(org, admin):
    devs = s.group_create(org=org, actor=admin, name="Devs", description="Engineers")
    s.group_create(org=org, actor=admin, name="ops")
    a, b = user_of(org), user_of(org)
    s.group_members_add(
        org=org, actor=admin, group_id=devs.group_id, account_ids=[a.account_id, b.account_id]
    )
    rows = list(q.groups_of(org=org))
    assert [(g.name, g.member_count) for g in rows] == [("Devs", 2), ("ops", 0)]
    assert [g.name for g in q.groups_of(org=org, q="engin")] == ["Devs"]
    assert [g.name for g in q.groups_of(org=org, q="OP")] == ["ops"]


def test_group_counts_are_one_subquery_each_not_a_join_of_members_and_grants(org, admin):
    """The groups list, a group's page and a site's access count a group's members and its grants
    apart. One aggregate over both joined multiplied them — 50,000 members × 20 grants was a
    million rows to sort for one COUNT(DISTINCT) — and each group of the list paid its share."""
    sites = [add_site(org, admin, name=f"Site {i}", url=f"https://s{i}.example") for i in range(3)]
    big = s.group_create(org=org, actor=admin, name="All staff")
    s.group_create(org=org, actor=admin, name="Empty")
    people = [user_of(org) for _ in range(4)]
    s.group_members_add(
        org=org, actor=admin, group_id=big.group_id, account_ids=[p.account_id for p in people]
    )
    for site in sites:
        s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=big.group_id, role="user")
    with CaptureQueriesContext(connection) as listed:
        rows = [(g.name, g.member_count, g.site_count) for g in q.groups_of(org=org)]
    with CaptureQueriesContext(connection) as one:
        group = q.group(org=org, group_id=big.group_id)
    with CaptureQueriesContext(connection) as granted:
        [access] = q.site_access(org=org, site=sites[0])
    assert rows == [("All staff", 4, 3), ("Empty", 0, 0)]
    assert group.member_count == 4 and access.member_count == 4
    for query in listed.captured_queries + one.captured_queries + granted.captured_queries:
        sql = query["sql"].upper()
        assert "DISTINCT" not in sql and 'JOIN "ORGS_GROUPMEMBER"' not in sql, query["sql"]


def test_group_choices_name_the_groups_without_counting_them(org, admin):
    """A product site's "Grant access" list names every group of the org: it reads no membership."""
    devs = s.group_create(org=org, actor=admin, name="devs")
    s.group_create(org=org, actor=admin, name="Admins")
    s.group_members_add(org=org, actor=admin, group_id=devs.group_id, account_ids=[user_of(org).account_id])
    with CaptureQueriesContext(connection) as ctx:
        assert [g.name for g in q.group_choices(org=org)] == ["Admins", "devs"]
    assert not any("groupmember" in query["sql"].lower() for query in ctx.captured_queries)


def test_group_members_and_external_users_page_by_email(org, admin):
    group = s.group_create(org=org, actor=admin, name="Devs")
    people = [user_of(org, email=f"p{i:02}@partner.example") for i in range(5)]
    s.group_members_add(
        org=org, actor=admin, group_id=group.group_id, account_ids=[p.account_id for p in people]
    )
    managed = AccountFactory(email="a-managed@acme.example")
    account_claim(org=org, account=managed, domain=None, actor=Actor.system())
    s.group_members_add(org=org, actor=admin, group_id=group.group_id, account_ids=[managed.account_id])
    user_of(org, email="b-no-groups@partner.example")  # a user without groups is not listed

    first = q.group_members(org=org, group=group, size=4)
    assert [m.account.email for m in first.items] == ["a-managed@acme.example"] + [
        f"p{i:02}@partner.example" for i in range(3)
    ]
    second = q.group_members(org=org, group=group, after=first.next_after, size=4)
    assert [m.account.email for m in second.items] == ["p03@partner.example", "p04@partner.example"]
    assert second.next_after is None

    page = q.external_users(org=org, size=3)
    assert [u.email for u in page.items] == [
        "p00@partner.example",
        "p01@partner.example",
        "p02@partner.example",
    ]
    assert [g.name for g in page.items[0].org_groups] == ["Devs"]
    rest = q.external_users(org=org, after=page.next_after, size=3)
    assert [u.email for u in rest.items] == ["p03@partner.example", "p04@partner.example"]


def test_sites_by_product_and_site_access(org, admin):
    wiki = add_site(org, admin, product="confluence", name="Wiki", url="https://wiki.example")
    add_site(org, admin)
    group = s.group_create(org=org, actor=admin, name="Devs")
    s.access_grant(org=org, actor=admin, site_id=wiki.site_id, group_id=group.group_id, role="admin")
    s.site_default_groups_set(org=org, actor=admin, site_id=wiki.site_id, group_ids=[group.group_id])
    grouped = q.sites_by_product(org=org)
    assert [(g.product.key, [x.name for x in g.sites]) for g in grouped] == [
        ("jira-software", ["Acme Jira"]),
        ("confluence", ["Wiki"]),
    ]
    [row] = q.site_access(org=org, site=wiki)
    assert (row.group.name, row.role, row.is_default, row.member_count) == ("Devs", "admin", True, 0)
    assert [a.site.name for a in q.group(org=org, group_id=group.group_id).site_access.all()] == ["Wiki"]


def test_access_revoke_impact_counts_whom_the_grant_alone_gives_the_site_or_its_admin_role(
    org, admin, other_org_admin
):
    """Ada has Jira only through Devs and Eve only through Devs (her other group has the wiki):
    both lose it. Bob keeps it through Ops but loses admin; Cy keeps admin through Admins; Dan is
    not in Devs. Revoking Ops instead takes Jira from Dan only: Bob has Devs too."""
    jira, wiki = add_site(org, admin), add_site(org, admin, name="Wiki", url="https://wiki.example")
    groups = {n: s.group_create(org=org, actor=admin, name=n) for n in ("Devs", "Ops", "Admins", "Wiki")}
    for name, site, role in [
        ("Devs", jira, "admin"),
        ("Ops", jira, "user"),
        ("Admins", jira, "admin"),
        ("Wiki", wiki, "admin"),
    ]:
        s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=groups[name].group_id, role=role)
    s.site_default_groups_set(org=org, actor=admin, site_id=jira.site_id, group_ids=[groups["Devs"].group_id])
    for person, names in [
        ("ada", ["Devs"]),
        ("bob", ["Devs", "Ops"]),
        ("cy", ["Devs", "Admins"]),
        ("dan", ["Ops"]),
        ("eve", ["Devs", "Wiki"]),
    ]:
        account = user_of(org, email=f"{person}@acme.example")
        for name in names:
            s.group_members_add(
                org=org, actor=admin, group_id=groups[name].group_id, account_ids=[account.account_id]
            )

    devs = q.site_grant(org=org, site=jira, group_id=groups["Devs"].group_id)
    assert (devs.group.name, devs.role, devs.is_default) == ("Devs", "admin", True)
    assert q.access_revoke_impact(org=org, grant=devs) == q.RevokeImpact(
        members=4, lose_access=2, lose_admin=1
    )
    ops = q.site_grant(org=org, site=jira, group_id=groups["Ops"].group_id)
    assert q.access_revoke_impact(org=org, grant=ops) == q.RevokeImpact(
        members=2, lose_access=1, lose_admin=0
    )
    SiteAccess.objects.filter(site=jira, group=groups["Devs"]).update(role="user")
    devs = q.site_grant(org=org, site=jira, group_id=groups["Devs"].group_id)
    assert q.access_revoke_impact(org=org, grant=devs).lose_admin == 0  # a user grant gives no admin

    theirs = s.group_create(org=other_org_admin.org, actor=other_org_admin.account, name="Devs")
    for group_id in [groups["Wiki"].group_id, theirs.group_id, "no-such-group", "x\x00"]:
        with pytest.raises(NotFound):
            q.site_grant(org=org, site=jira, group_id=group_id)


def test_users_invite_is_all_or_nothing_and_bounded(
    org, admin, mailoutbox, django_capture_on_commit_callbacks
):
    site = add_site(org, admin)
    closed = AccountFactory(status=Account.Status.CLOSED)
    before = AuditEvent.objects.count()
    for emails in [[], [f"p{i}@example.com" for i in range(51)], ["ok@example.com", closed.email]]:
        with pytest.raises(InvalidInput):
            s.users_invite(org=org, actor=admin, emails=emails, site_ids=[site.site_id])
    assert not Account.objects.filter(email="ok@example.com").exists() and not OrgUser.objects.exists()
    assert_nothing_recorded(before)
    with django_capture_on_commit_callbacks(execute=True):
        invited = s.users_invite(
            org=org,
            actor=ApiKey(org_id=org.pk),
            emails=["a@example.com", "A@example.com", "b@example.com"],
            site_ids=[site.site_id],
        )
    assert [a.email for a in invited] == ["a@example.com", "b@example.com"]
    invitation = next(m for m in mailoutbox if m.to == ["a@example.com"] and "Acme Jira" in m.subject)
    assert "Provisioning script gave you access" in invitation.body
    assert {e.actor_type for e in events("org:user:invited")} == {"api_key"}
