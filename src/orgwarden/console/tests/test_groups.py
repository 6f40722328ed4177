"""Directory → Groups, through the real views."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import pytest
from django.test import Client

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import Directory, Group, GroupMember, OrgUser
from orgwarden.orgs.services import access as s
from orgwarden.orgs.tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def base(org) -> str:
    return f"/admin/o/{org.org_id}"


@pytest.fixture
def devs(org, admin):
    return s.group_create(org=org, actor=admin, name="Devs", description="Engineers")


@pytest.fixture
def synced(org):
    directory = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name="Okta")
    return Group.objects.create(org=org, name="Okta Engineering", directory=directory)


def user_of(org, email=None):
    account = AccountFactory(**({"email": email} if email else {}))
    OrgUser.objects.create(org=org, account=account, email=account.email)
    return account


def test_groups_page_lists_searches_and_counts(admin_client, org, admin, devs, synced):
    s.group_create(org=org, actor=admin, name="Ops")
    member = user_of(org)
    s.group_members_add(org=org, actor=admin, group_id=devs.group_id, account_ids=[member.account_id])
    response = admin_client.get(f"{base(org)}/groups/")
    assert response.status_code == 200
    assert b" style=" not in response.content and b"<script>" not in response.content
    body = response.content.decode()
    assert "Devs" in body and "Ops" in body and "Synced from Okta" in body
    assert 'for="id_q"' in body and 'for="id_create-name"' in body
    found = admin_client.get(f"{base(org)}/groups/", {"q": "engin"}).content.decode()
    assert "Devs" in found and "Okta Engineering" in found and ">Ops<" not in found


def _walk(client, url: str, params: dict) -> tuple[list[str], int]:
    """Every group name the list shows, following its Next links; and how many pages."""
    names, pages, query = [], 0, params
    while True:
        body = client.get(url, query).content.decode()
        pages += 1
        names += re.findall(r'/groups/[^/"]+/">([^<]+)</a>', body)
        following = re.search(r'href="\?([^"]*)" rel="next"', body)
        if not following:
            return names, pages
        query = dict(parse_qsl(following.group(1).replace("&amp;", "&")))


def test_every_group_is_reachable_page_by_page(admin_client, org):
    """An org with thousands of groups (one per team, synced or not) reaches each of them, 50 a
    page by name: the list showed the first 500 and no more. A search pages the same way."""
    names = [f"Team {i:04}" for i in range(520)] + [f"Project {i:02}" for i in range(60)]
    Group.objects.bulk_create(Group(org=org, name=name) for name in names)
    Group.objects.create(org=OrganizationFactory(), name="Team 9999")  # another org's: never listed
    shown, pages = _walk(admin_client, f"{base(org)}/groups/", {})
    assert shown == sorted(names, key=str.lower) and pages == 12
    shown, pages = _walk(admin_client, f"{base(org)}/groups/", {"q": "project"})
    assert shown == [f"Project {i:02}" for i in range(60)] and pages == 2
    last = admin_client.get(f"{base(org)}/groups/", {"q": "project", "after": "project 59"}).content.decode()
    assert "No more groups match “project”." in last and "← First page" in last


def test_create_a_group(admin_client, org, admin):
    response = admin_client.post(f"{base(org)}/groups/", {"create-name": "Design", "create-description": ""})
    group = Group.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{base(org)}/groups/{group.group_id}/"
    assert AuditEvent.objects.get(action="org:group:created").actor_id == admin.account_id


@pytest.mark.parametrize(
    "data", [{"create-name": ""}, {"create-name": "x" * 256}, {"create-name": "DEVS"}, {}]
)
def test_create_a_group_with_bad_input_is_a_form_error(admin_client, org, devs, data):
    before = AuditEvent.objects.count()
    response = admin_client.post(f"{base(org)}/groups/", data)
    assert response.status_code == 400 and b'class="errorlist' in response.content
    assert Group.objects.count() == 1 and AuditEvent.objects.count() == before


def test_group_page_shows_members_and_access(admin_client, org, admin, devs):
    site = s.site_add(org=org, actor=admin, product="confluence", name="Wiki", url="https://wiki.example")
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=devs.group_id, role="admin")
    member = user_of(org, "member@acme.example")
    s.group_members_add(org=org, actor=admin, group_id=devs.group_id, account_ids=[member.account_id])
    response = admin_client.get(f"{base(org)}/groups/{devs.group_id}/")
    assert response.status_code == 200
    assert b" style=" not in response.content and b"<script>" not in response.content
    body = response.content.decode()
    assert "member@acme.example" in body and "Wiki" in body and "Admin" in body and "Delete group" in body


def test_add_and_remove_members_by_email(admin_client, org, devs):
    member = user_of(org, "member@acme.example")
    url = f"{base(org)}/groups/{devs.group_id}/members"
    assert admin_client.post(url, {"member-email": "Member@Acme.example"}).status_code == 302
    assert GroupMember.objects.filter(group=devs, account=member).exists()
    again = admin_client.post(url, {"member-email": "member@acme.example"}, follow=True)
    assert b"is already a member" in again.content
    assert AuditEvent.objects.filter(action="org:group:member_added").count() == 1
    remove = f"{base(org)}/groups/{devs.group_id}/members/{member.account_id}/remove"
    assert admin_client.post(remove).status_code == 302
    assert not GroupMember.objects.exists()
    assert admin_client.post(remove).status_code == 302  # says: removed already (test_removals_sent_twice)


@pytest.mark.parametrize("email", ["", "nope", "stranger@elsewhere.example"])
def test_adding_a_non_user_is_a_form_error(admin_client, org, devs, email):
    AccountFactory(email="stranger@elsewhere.example")
    before = AuditEvent.objects.count()
    response = admin_client.post(f"{base(org)}/groups/{devs.group_id}/members", {"member-email": email})
    assert response.status_code == 400 and b'class="errorlist' in response.content
    assert not GroupMember.objects.exists() and AuditEvent.objects.count() == before


def test_rename_and_delete_a_group(admin_client, org, admin, devs):
    s.group_create(org=org, actor=admin, name="Ops")
    edit = f"{base(org)}/groups/{devs.group_id}/edit"
    response = admin_client.post(edit, {"group-name": "ops", "group-description": ""})
    assert response.status_code == 400 and b"exists already" in response.content
    assert (
        admin_client.post(edit, {"group-name": "Developers", "group-description": "All"}).status_code == 302
    )
    assert Group.objects.get(pk=devs.pk).name == "Developers"
    delete = f"{base(org)}/groups/{devs.group_id}/delete"
    confirm = admin_client.get(delete)
    assert confirm.status_code == 200 and b"Delete Developers?" in confirm.content
    response = admin_client.post(delete)
    assert response.status_code == 302 and response["Location"] == f"{base(org)}/groups/"
    assert not Group.objects.filter(pk=devs.pk).exists()
    assert AuditEvent.objects.filter(action="org:group:deleted").count() == 1


def test_synced_groups_are_read_only_in_the_console(admin_client, org, synced):
    member = user_of(org)
    GroupMember.objects.create(group=synced, account=member)
    page = admin_client.get(f"{base(org)}/groups/{synced.group_id}/")
    assert page.status_code == 200 and b"Synced from Okta" in page.content
    assert b"Delete group" not in page.content and b"Add a member" not in page.content
    before = AuditEvent.objects.count()
    deleted = admin_client.post(f"{base(org)}/groups/{synced.group_id}/delete", follow=True)
    assert b"synced from Okta" in deleted.content
    renamed = admin_client.post(f"{base(org)}/groups/{synced.group_id}/edit", {"group-name": "X"})
    assert renamed.status_code == 400
    added = admin_client.post(f"{base(org)}/groups/{synced.group_id}/members", {"member-email": member.email})
    assert added.status_code == 400
    removed = admin_client.post(
        f"{base(org)}/groups/{synced.group_id}/members/{member.account_id}/remove", follow=True
    )
    assert b"synced from Okta" in removed.content
    assert Group.objects.get(pk=synced.pk).name == "Okta Engineering" and GroupMember.objects.count() == 1
    assert AuditEvent.objects.count() == before


def test_another_orgs_admin_gets_404_everywhere(org, devs, other_org_admin):
    member = user_of(org)
    GroupMember.objects.create(group=devs, account=member)
    other = Client()
    other.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    their = base(other_org_admin.org)
    before = AuditEvent.objects.count()
    for path in [
        f"{base(org)}/groups/",
        f"{base(org)}/groups/{devs.group_id}/",
        f"{their}/groups/{devs.group_id}/",
        f"{their}/groups/{devs.group_id}/delete",
    ]:
        assert other.get(path).status_code == 404, path
    for path, data in [
        (f"{their}/groups/{devs.group_id}/edit", {"group-name": "X"}),
        (f"{their}/groups/{devs.group_id}/delete", {}),
        (f"{their}/groups/{devs.group_id}/members", {"member-email": member.email}),
        (f"{their}/groups/{devs.group_id}/members/{member.account_id}/remove", {}),
        (f"{their}/groups/bad%00id/", {}),
    ]:
        assert other.post(path, data).status_code in (404, 405), path
    assert AuditEvent.objects.count() == before
    assert Group.objects.get(pk=devs.pk).name == "Devs" and GroupMember.objects.count() == 1


def test_member_pages(admin_client, org, admin, devs):
    people = [user_of(org, f"p{i:02}@acme.example") for i in range(51)]
    s.group_members_add(
        org=org, actor=admin, group_id=devs.group_id, account_ids=[p.account_id for p in people]
    )
    first = admin_client.get(f"{base(org)}/groups/{devs.group_id}/")
    assert b"p49@acme.example" in first.content and b"p50@acme.example" not in first.content
    second = admin_client.get(f"{base(org)}/groups/{devs.group_id}/", {"after": "p49@acme.example"})
    assert b"p50@acme.example" in second.content and b"p49@acme.example" not in second.content


def test_a_group_without_product_access_links_to_product_sites(admin_client, org, devs):
    """It said "Grant it from a product site's page" and left the admin to find those pages."""
    body = admin_client.get(f"{base(org)}/groups/{devs.group_id}/").content.decode()
    assert "No product access" in body
    assert re.search(rf'<a href="{base(org)}/products/">Product sites</a>', body)
