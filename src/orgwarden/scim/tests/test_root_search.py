"""``POST /.search`` at the root (RFC 7644 §3.4.3): one filter over Users and Groups, over HTTP.

An attribute only one resource type has is unassigned on the other: ``userName eq "x"`` finds the
user and no group rather than failing, and an attribute that no type has is a 400 ``invalidFilter``.
"""

from __future__ import annotations

import pytest

from orgwarden.scim.models import ProvisioningLog
from orgwarden.scim.tests.conftest import user_body

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.fixture
def tenants(scim):
    """Three users (ada, alan, grace) and two groups (Maths with ada, Navy with grace), in that order."""
    ids = {}
    for name in ("ada", "alan", "grace"):
        ids[name] = scim.post("/Users", user_body(f"{name}@example.com", displayName=name.title())).json()[
            "id"
        ]
    for group, member in (("Maths", "ada"), ("Navy", "grace")):
        body = {"displayName": group, "members": [{"value": ids[member]}]}
        ids[group] = scim.post("/Groups", body).json()["id"]
    return ids


def search(scim, **body):
    return scim.post("/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], **body})


def found(response) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.content
    return [(r["meta"]["resourceType"], r["id"]) for r in response.json()["Resources"]]


def test_without_a_filter_lists_users_then_groups(scim, tenants):
    response = search(scim)
    assert response.json()["schemas"] == [LIST] and response.json()["totalResults"] == 5
    assert found(response) == [("User", tenants[n]) for n in ("ada", "alan", "grace")] + [
        ("Group", tenants[g]) for g in ("Maths", "Navy")
    ]


def test_paging_crosses_from_users_to_groups_stably(scim, tenants):
    pages = [search(scim, startIndex=start, count=2).json() for start in (1, 3, 5)]
    assert [p["totalResults"] for p in pages] == [5, 5, 5]
    assert [p["startIndex"] for p in pages] == [1, 3, 5]
    assert [p["itemsPerPage"] for p in pages] == [2, 2, 1]
    ids = [r["id"] for p in pages for r in p["Resources"]]
    assert ids == [tenants[k] for k in ("ada", "alan", "grace", "Maths", "Navy")]
    beyond = search(scim, startIndex=9, count=2).json()
    assert beyond["totalResults"] == 5 and beyond["Resources"] == []
    assert search(scim, count=0).json()["itemsPerPage"] == 0


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        # attributes only Users have: the groups don't match, nothing fails
        ('userName eq "ADA@example.com"', {"ada"}),
        ('emails[type eq "work" and value sw "gr"]', {"grace"}),
        ('emails.value eq "alan@example.com"', {"alan"}),
        ("userName pr", {"ada", "alan", "grace"}),
        ("active eq true", {"ada", "alan", "grace"}),
        # unassigned on groups, as it is on a user: ne and "not" take them in
        ('userName ne "ada@example.com"', {"alan", "grace", "Maths", "Navy"}),
        ('not (userName eq "ada@example.com")', {"alan", "grace", "Maths", "Navy"}),
        ("userName eq null", {"Maths", "Navy"}),
        # attributes only Groups have
        ("members pr", {"Maths", "Navy"}),
        ('members[value eq "{ada}"]', {"Maths"}),
        ('members.value eq "{grace}"', {"Navy"}),
        # attributes both have
        ('displayName sw "a"', {"ada", "alan"}),
        ('displayName eq "navy" or userName eq "alan@example.com"', {"alan", "Navy"}),
        ('id eq "{Maths}" or id eq "{ada}"', {"ada", "Maths"}),
        # the resource type itself
        ('meta.resourceType eq "Group"', {"Maths", "Navy"}),
        ('meta.resourceType eq "User" and displayName co "a"', {"ada", "alan", "grace"}),
        ("meta.resourceType pr", {"ada", "alan", "grace", "Maths", "Navy"}),
    ],
)
def test_a_filter_runs_over_every_resource_type(scim, tenants, filter_text, expected):
    response = search(scim, filter=filter_text.format(**tenants))
    got = {name for name, scim_id in tenants.items() if scim_id in {i for _, i in found(response)}}
    assert got == expected
    assert response.json()["totalResults"] == len(expected)


@pytest.mark.parametrize(
    ("filter_text", "detail"),
    [
        ('nickName eq "x"', "nickname"),
        ('userName eq "x" or nope pr', "nope"),
        ('members[nope eq "x"]', "nope"),
        ("active gt true", "true or false"),
        ("userName gt null", "gt null"),
        ('userName eq "x" and', "ends too early"),
    ],
)
def test_a_filter_no_type_can_evaluate_is_400_invalid_filter(scim, tenants, filter_text, detail):
    response = search(scim, filter=filter_text)
    assert response.status_code == 400
    body = response.json()
    assert body["scimType"] == "invalidFilter" and body["status"] == "400"
    assert detail in body["detail"]


def test_attributes_apply_to_each_type(scim, tenants):
    body = search(scim, filter="meta.resourceType pr", attributes=["userName", "displayName"]).json()
    user, group = body["Resources"][0], body["Resources"][3]
    assert set(user) == {"schemas", "id", "userName", "displayName"}
    assert set(group) == {"schemas", "id", "displayName"}
    excluded = search(scim, excludedAttributes="members,emails").json()["Resources"]
    assert not any("members" in r or "emails" in r for r in excluded)


def test_bad_requests_are_scim_errors(scim, tenants):
    assert scim.get("/.search").status_code == 405
    assert scim.call("POST", "/.search", raw=b"[1]").json()["scimType"] == "invalidSyntax"
    assert scim.call("POST", "/.search", raw=b"{nope").json()["scimType"] == "invalidSyntax"
    assert search(scim, count="many").json()["scimType"] == "invalidValue"


def test_root_search_is_logged(scim, directory, tenants):
    search(scim, filter='userName eq "ada@example.com"')
    search(scim, filter="nope pr")
    rows = ProvisioningLog.objects.filter(directory=directory, resource="Users, Groups").order_by("pk")
    assert [(r.operation, r.status) for r in rows] == [("list", 200), ("list", 400)]


def test_type_endpoints_filter_on_resource_type_too(scim, tenants):
    assert scim.get("/Users", 'filter=meta.resourceType eq "User"').json()["totalResults"] == 3
    assert scim.get("/Groups", 'filter=meta.resourceType eq "User"').json()["totalResults"] == 0
    assert scim.get("/Users", "filter=not (active pr)").json()["totalResults"] == 0
    # on a type's own endpoint an attribute the type lacks is still an error, as before
    assert scim.get("/Groups", 'filter=userName eq "x"').json()["scimType"] == "invalidFilter"
