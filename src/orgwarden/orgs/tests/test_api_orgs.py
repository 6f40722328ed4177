"""REST API: the key's org, its users, domains and groups — scoped to the key's org, paged by keyset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils.dateparse import parse_datetime

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.api.tests.helpers import ApiClient, api_client_for, key_for
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Directory, Domain, Group, GroupMember
from orgwarden.orgs.services.claims import account_claim, org_user_ensure

pytestmark = pytest.mark.django_db

BASE = "/api/admin/v1/orgs"


@pytest.fixture
def api(org_admin) -> ApiClient:
    return api_client_for(org_admin)


def walk(api: ApiClient, path: str, **params) -> list[list[dict]]:
    """Every page of a list, following ``next`` links; returns the pages' data."""
    pages = []
    response = api.get(path, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"data", "links", "meta"}
        pages.append(body["data"])
        if body["links"]["next"] is None:
            return pages
        assert body["links"]["next"].startswith("http://testserver/api/")
        response = api.get(body["links"]["next"])


def test_orgs_list_is_the_keys_org_only(api, org, other_org_admin):
    body = api.get(BASE).json()
    assert [o["id"] for o in body["data"]] == [org.org_id]
    assert body["data"][0]["name"] == org.name
    assert body["links"] == {"self": f"http://testserver{BASE}", "next": None}
    assert body["meta"] == {"page_size": 1}


def test_org_detail_and_another_org_is_404(api, org, other_org_admin):
    assert api.get(f"{BASE}/{org.org_id}").json()["id"] == org.org_id
    for org_id in [other_org_admin.org.org_id, "nope", "x" * 300, "%00"]:
        response = api.get(f"{BASE}/{org_id}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_users_are_paged_by_email_without_overlap(api, org, org_admin):
    for n in range(7):
        org_user_ensure(org=org, account=AccountFactory(email=f"user{n:02d}@example.com"))
    pages = walk(api, f"{BASE}/{org.org_id}/users", limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    emails = [u["email"] for p in pages for u in p]
    assert emails == sorted(emails) and len(set(emails)) == 7
    first = pages[0][0]
    assert set(first) == {
        "account_id",
        "email",
        "name",
        "managed",
        "status",
        "last_active",
        "deletion_scheduled_for",
    }
    assert first["managed"] is False and first["status"] == "active" and first["last_active"] is None


def test_users_filters(api, org):
    managed = AccountFactory(email="alice@acme.test", display_name="Alice Managed")
    account_claim(org=org, account=managed, domain=None, actor=Actor.system())
    org_user_ensure(org=org, account=AccountFactory(email="bob@elsewhere.test", display_name="Bob"))
    url = f"{BASE}/{org.org_id}/users"
    assert [u["email"] for u in api.get(url, {"kind": "managed"}).json()["data"]] == ["alice@acme.test"]
    assert [u["email"] for u in api.get(url, {"kind": "external"}).json()["data"]] == ["bob@elsewhere.test"]
    assert [u["email"] for u in api.get(url, {"q": "bob@"}).json()["data"]] == ["bob@elsewhere.test"]
    assert [u["email"] for u in api.get(url, {"q": "managed"}).json()["data"]] == ["alice@acme.test"]
    assert api.get(url, {"kind": "robots"}).status_code == 400
    assert api.get(url, {"limit": 0}).status_code == 400
    assert api.get(url, {"limit": 101}).status_code == 400


def test_users_last_active_and_its_filter(api, org):
    """``last_active`` is kept by activity recording (a product sign-in here), answered in ISO 8601
    UTC or null, and ``last_active=…`` filters on it with the console's values."""
    from orgwarden.orgs.models import OrgUser, ProductSite
    from orgwarden.tokens.introspection import activity_record

    site = ProductSite.objects.create(org=org, product="jira-software", name="Jira", url="https://j.test")
    recent = AccountFactory(email="recent@acme.test")
    stale = AccountFactory(email="stale@acme.test")
    never = AccountFactory(email="never@acme.test")
    for account in (recent, stale, never):
        account_claim(org=org, account=account, domain=None, actor=Actor.system())
    with time_machine.travel(datetime(2026, 3, 1, 9, 30, tzinfo=UTC), tick=False):
        activity_record(site=site, account=stale, kind="signin")
    with time_machine.travel(datetime(2026, 6, 10, 8, 0, 5, tzinfo=UTC), tick=False):
        activity_record(site=site, account=recent, kind="api_call")
    assert OrgUser.objects.get(account=recent).last_active_at == datetime(2026, 6, 10, 8, 0, 5, tzinfo=UTC)
    url = f"{BASE}/{org.org_id}/users"
    with time_machine.travel(datetime(2026, 6, 20, tzinfo=UTC), tick=False):
        users = {u["email"]: u for u in api.get(url).json()["data"]}
        assert parse_datetime(users["recent@acme.test"]["last_active"]) == datetime(
            2026, 6, 10, 8, 0, 5, tzinfo=UTC
        )
        assert users["recent@acme.test"]["last_active"].startswith("2026-06-10T08:00:05")
        assert users["never@acme.test"]["last_active"] is None

        def emails(value: str) -> list[str]:
            response = api.get(url, {"last_active": value})
            assert response.status_code == 200, response.content
            return [u["email"] for u in response.json()["data"]]

        assert emails("active_30") == ["recent@acme.test"]
        assert emails("active_90") == ["recent@acme.test"]
        assert emails("inactive_30") == ["never@acme.test", "stale@acme.test"]
        assert emails("inactive_90") == ["never@acme.test", "stale@acme.test"]
        assert emails("never") == ["never@acme.test"]
        assert emails("") == ["never@acme.test", "recent@acme.test", "stale@acme.test"]
    for bad in ["30", "inactive_45", "NEVER", "x" * 300]:
        response = api.get(url, {"last_active": bad})
        assert response.status_code == 400, bad
        assert response.json()["code"] == "invalid_request"


def test_users_last_active_values_are_the_consoles(api):
    """One list of values for the selector, the console's filter and the API's parameter."""
    from orgwarden.console.views.users import LAST_ACTIVE_CHOICES
    from orgwarden.orgs.selectors.users import LAST_ACTIVE

    schema = api.get("/api/openapi.json").json()
    params = schema["paths"]["/api/admin/v1/orgs/{orgId}/users"]["get"]["parameters"]
    (param,) = [p for p in params if p["name"] == "last_active"]
    assert [value for value, _label in LAST_ACTIVE_CHOICES] == ["", *LAST_ACTIVE]
    assert sorted(param["schema"]["enum"]) == sorted(["", *LAST_ACTIVE])


def test_an_invited_person_is_invited_in_the_listing_and_its_filter(api, org, org_admin):
    """The listing says what the console says: "invited" until the first sign-in, and one list of
    status values for the selector, the console's filter, the parameter and the answer's schema."""
    from orgwarden.accounts.services import signin_link_create
    from orgwarden.console.views.users import STATUS_CHOICES
    from orgwarden.orgs.selectors.users import STATUSES
    from orgwarden.orgs.services.access import site_add, user_invite

    site = site_add(
        org=org, actor=org_admin.account, product="confluence", name="Wiki", url="https://w.acme.test"
    )
    invited = user_invite(org=org, actor=org_admin.account, email="new@acme.test", site_ids=[site.site_id])
    org_user_ensure(org=org, account=AccountFactory(email="old@else.test"))
    url = f"{BASE}/{org.org_id}/users"
    users = {u["email"]: u["status"] for u in api.get(url).json()["data"]}
    assert users["new@acme.test"] == "invited" and users["old@else.test"] == "active"
    assert [u["email"] for u in api.get(url, {"status": "invited"}).json()["data"]] == ["new@acme.test"]
    assert "new@acme.test" not in [u["email"] for u in api.get(url, {"status": "active"}).json()["data"]]
    Client().force_login(invited, backend="orgwarden.accounts.backends.AccountBackend")  # signs in
    assert api.get(url, {"status": "invited"}).json()["data"] == []
    # A link sent after that sign-in (an org taking over the address) is an invitation again.
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=1)):
        signin_link_create(account=invited, actor=Actor.system("test"))
    assert [u["email"] for u in api.get(url, {"status": "invited"}).json()["data"]] == ["new@acme.test"]

    schema = api.get("/api/openapi.json").json()
    params = schema["paths"]["/api/admin/v1/orgs/{orgId}/users"]["get"]["parameters"]
    (param,) = [p for p in params if p["name"] == "status"]
    assert [value for value, _label in STATUS_CHOICES] == ["", *STATUSES]
    assert sorted(param["schema"]["enum"]) == sorted(["", *STATUSES])
    answered = schema["components"]["schemas"]["User"]["properties"]["status"]["enum"]
    assert sorted(answered) == sorted([*STATUSES, "closed"])


def test_users_of_another_org_never_show(api, org, other_org_admin):
    org_user_ensure(org=other_org_admin.org, account=AccountFactory(email="secret@other.test"))
    assert api.get(f"{BASE}/{org.org_id}/users").json()["data"] == []
    assert api.get(f"{BASE}/{other_org_admin.org.org_id}/users").status_code == 404


@pytest.mark.parametrize("cursor", ["%%%", "bm90LWFuLWVtYWls", "AA", "x" * 1501, "\x00"])
def test_a_bad_cursor_is_400(api, org, cursor):
    for path in ["users", "domains", "groups"]:
        response = api.get(f"{BASE}/{org.org_id}/{path}", {"cursor": cursor})
        assert response.status_code == 400, (path, response.content)
        assert response.json()["code"] == "invalid_request"


def test_domains_list_and_detail(api, org, other_org_admin):
    names = ["b.test", "a.test", "c.test", "d.test"]
    for name in names:
        Domain.objects.create(org=org, name=name, token="t")
    verified = Domain.objects.get(name="a.test")
    verified.status, verified.method = Domain.Status.VERIFIED, Domain.Method.DNS
    verified.save()
    theirs = Domain.objects.create(org=other_org_admin.org, name="theirs.test", token="t")
    pages = walk(api, f"{BASE}/{org.org_id}/domains", limit=3)
    assert [d["name"] for p in pages for d in p] == sorted(names)
    detail = api.get(f"{BASE}/{org.org_id}/domains/{verified.domain_id}").json()
    assert detail == {
        "id": verified.domain_id,
        "name": "a.test",
        "status": "verified",
        "method": "dns",
        "claim": "manual",
        "verified_at": None,
    }
    for domain_id in [theirs.domain_id, "nope", "%00"]:
        response = api.get(f"{BASE}/{org.org_id}/domains/{domain_id}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api.get(f"{BASE}/{other_org_admin.org.org_id}/domains/{theirs.domain_id}").status_code == 404
    assert api.get(f"{BASE}/{other_org_admin.org.org_id}/domains").status_code == 404


def test_groups_with_member_counts(api, org, other_org_admin):
    idp = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name="Okta")
    staff = Group.objects.create(org=org, name="Staff", description="Everyone")
    synced = Group.objects.create(org=org, name="Engineering", directory=idp)
    for _ in range(3):
        GroupMember.objects.create(group=staff, account=AccountFactory())
    Group.objects.create(org=other_org_admin.org, name="Theirs")
    pages = walk(api, f"{BASE}/{org.org_id}/groups", limit=1)
    groups = [g for p in pages for g in p]
    assert groups == [
        {
            "group_id": synced.group_id,
            "name": "Engineering",
            "description": "",
            "synced": True,
            "member_count": 0,
        },
        {
            "group_id": staff.group_id,
            "name": "Staff",
            "description": "Everyone",
            "synced": False,
            "member_count": 3,
        },
    ]
    assert api.get(f"{BASE}/{other_org_admin.org.org_id}/groups").status_code == 404


def test_every_org_endpoint_is_404_for_another_orgs_key(org, other_org_admin):
    """A key of org B learns nothing about org A: every path with A's ids answers 404."""
    domain = Domain.objects.create(org=org, name="a.test", token="t")
    _, value = key_for(other_org_admin)
    theirs = ApiClient(value)
    for path in [
        f"{BASE}/{org.org_id}",
        f"{BASE}/{org.org_id}/users",
        f"{BASE}/{org.org_id}/domains",
        f"{BASE}/{org.org_id}/domains/{domain.domain_id}",
        f"{BASE}/{org.org_id}/groups",
        f"{BASE}/{org.org_id}/events",
        f"{BASE}/{org.org_id}/event-actions",
        f"{BASE}/{org.org_id}/events-stream",
    ]:
        response = theirs.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"code": "not_found", "message": "Not found."}
