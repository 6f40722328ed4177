"""The SCIM endpoint over HTTP: key, discovery, lists, filters, attributes, errors."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.test import Client

from orgwarden.scim.models import ProvisioningLog, ScimUser
from orgwarden.scim.tests.conftest import ScimClient, patch_body, user_body


@pytest.fixture
def people(scim):
    ids = {}
    for name, dept, active in (("ada", "Maths", True), ("alan", "Computing", True), ("grace", "Navy", False)):
        body = user_body(f"{name}@example.com", active=active, title=name.title())
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = {"department": dept}
        ids[name] = scim.post("/Users", body).json()["id"]
    return ids


def test_without_or_with_a_wrong_key_is_401_in_scim_format(directory, scim):
    response = Client().get(scim.base + "/Users")
    assert response.status_code == 401 and response.json()["status"] == "401"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert ScimClient(directory, "scim_wrong").get("/Users").status_code == 401


def test_discovery_documents_tell_the_truth(scim):
    config = scim.get("/ServiceProviderConfig").json()
    assert config["patch"]["supported"] and config["filter"] == {"supported": True, "maxResults": 200}
    assert (
        not config["bulk"]["supported"]
        and not config["sort"]["supported"]
        and not config["etag"]["supported"]
    )
    assert not config["changePassword"]["supported"]
    types = scim.get("/ResourceTypes").json()
    assert {t["id"] for t in types["Resources"]} == {"User", "Group"}
    schemas = scim.get("/Schemas").json()
    assert len(schemas["Resources"]) == 3
    assert scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group").json()["name"] == "Group"
    assert scim.get("/ResourceTypes/Nope").status_code == 404


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('userName eq "ADA@example.com"', {"ada"}),
        ('userName sw "a"', {"ada", "alan"}),
        ('userName ew "example.com" and not (active eq true)', {"grace"}),
        ('title co "RAC" or department eq "maths"', {"grace", "ada"}),
        ('emails[type eq "work" and value co "alan"]', {"alan"}),
        ('emails.value eq "grace@example.com"', {"grace"}),
        ("externalId pr", set()),
        ('userName ne "ada@example.com"', {"alan", "grace"}),
        ('meta.created gt "2000-01-01T00:00:00Z"', {"ada", "alan", "grace"}),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alan@example.com"', {"alan"}),
        ('active eq "False"', {"grace"}),
        # Without an offset: UTC (was Django's naive-datetime RuntimeWarning, an error under tests).
        ('meta.created gt "2000-01-01"', {"ada", "alan", "grace"}),
        ('meta.lastModified lt "9999-12-31T23:59:59"', {"ada", "alan", "grace"}),
    ],
)
def test_filters(scim, people, filter_text, expected):
    response = scim.get("/Users", "filter=" + filter_text)
    assert response.status_code == 200, response.content
    got = {r["userName"].split("@")[0] for r in response.json()["Resources"]}
    assert got == expected


@pytest.mark.parametrize(
    "bad",
    [
        "userName eq",
        'nope eq "x"',
        'userName zz "x"',
        "active gt true",
        '(userName eq "a"',
        # A NUL written as a JSON escape: PostgreSQL can't hold it in text (was a 500 there).
        'title eq "a\\u0000b"',
        'userName eq "\\u0000"',
        # A lone UTF-16 surrogate: not Unicode text, no database can encode it (was a 500).
        'title eq "\\ud800"',
        'emails[value sw "a\\udfff"]',
        # Outside years 1-9999 once in UTC (SQLite stores UTC: was an OverflowError, a 500).
        'meta.created gt "0001-01-01T00:00:00%2B14:00"',  # %2B: +
        'meta.lastModified lt "9999-12-31T23:59:59-14:00"',
        # Not JSON numbers, though Python's float() reads them (they were taken as numbers).
        "title eq nan",
        "title eq -Infinity",
        "title eq 1_000",
        "title eq 1e999",
        "title eq %2B1",  # %2B: +
    ],
)
def test_invalid_filter_is_400_invalid_filter(scim, bad):
    response = scim.get("/Users", "filter=" + bad)
    assert response.status_code == 400 and response.json()["scimType"] == "invalidFilter"


def test_paging_is_stable_and_capped(scim, people):
    first = scim.get("/Users", "startIndex=1&count=2").json()
    second = scim.get("/Users", "startIndex=3&count=2").json()
    assert first["totalResults"] == 3 and first["itemsPerPage"] == 2 and second["itemsPerPage"] == 1
    assert [r["id"] for r in first["Resources"] + second["Resources"]] == list(people.values())
    assert scim.get("/Users", "count=100000").json()["itemsPerPage"] == 3
    beyond = scim.get("/Users", "startIndex=10").json()
    assert beyond["totalResults"] == 3 and beyond["Resources"] == []
    assert scim.get("/Users", 'filter=userName eq "nobody@example.com"').json()["totalResults"] == 0
    assert scim.get("/Users", "count=0").json() | {"Resources": []} == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 3,
        "itemsPerPage": 0,
        "startIndex": 1,
        "Resources": [],
    }


@pytest.mark.parametrize("start", [str(2**63 + 1), "1" + "0" * 30])
def test_a_start_index_past_any_database_integer_is_an_empty_page(scim, people, start):
    """An OFFSET past 2^63 - 1 overflowed (SQLite: datatype mismatch, PostgreSQL: bigint out of
    range): a 500. It is a page past the end, like any startIndex beyond the results."""
    for path, filter_text in (("/Users", ""), ("/Users", 'userName sw "a"'), ("/Groups", "")):
        response = scim.get(path, f"startIndex={start}&filter={filter_text}")
        assert response.status_code == 200, response.content
        assert response.json()["Resources"] == [] and response.json()["startIndex"] == int(start)
    found = scim.post("/.search", {"startIndex": int(start), "count": 5})
    assert found.status_code == 200 and found.json()["totalResults"] == 3 and found.json()["Resources"] == []


def test_attributes_and_excluded_attributes(scim, people):
    only = scim.get(f"/Users/{people['ada']}", "attributes=userName,name.givenName").json()
    assert set(only) == {"schemas", "id", "userName", "name"} and only["name"] == {"givenName": "Ada"}
    without = scim.get(f"/Users/{people['ada']}", "excludedAttributes=emails,meta").json()
    assert "emails" not in without and "meta" not in without and "userName" in without


def test_delete_keeps_user_readable_inactive(scim, people):
    assert scim.delete(f"/Users/{people['ada']}").status_code == 204
    assert scim.get(f"/Users/{people['ada']}").json()["active"] is False


def test_group_crud_and_member_filter(scim, people):
    created = scim.post("/Groups", {"displayName": "Eng", "members": [{"value": people["ada"]}]})
    assert created.status_code == 201 and created["Location"].endswith(created.json()["id"])
    gid = created.json()["id"]
    found = scim.get("/Groups", f'filter=members[value eq "{people["ada"]}"]').json()
    assert found["totalResults"] == 1
    assert scim.get("/Groups", 'filter=displayName eq "eng"').json()["totalResults"] == 1
    put = scim.put(f"/Groups/{gid}", {"displayName": "Engineering", "members": [{"value": people["alan"]}]})
    assert [m["value"] for m in put.json()["members"]] == [people["alan"]]
    assert scim.get(f"/Users/{people['alan']}").json()["groups"][0]["value"] == gid
    listed = {u["id"]: u.get("groups", []) for u in scim.get("/Users").json()["Resources"]}
    assert listed[people["alan"]] == [
        {"value": gid, "display": "Engineering", "$ref": f"http://testserver{scim.base}/Groups/{gid}"}
    ]
    assert listed[people["ada"]] == [] and listed[people["grace"]] == []
    patched = scim.patch(
        f"/Users/{people['alan']}", patch_body({"op": "replace", "path": "title", "value": "X"})
    )
    assert [g["value"] for g in patched.json()["groups"]] == [gid]
    assert scim.delete(f"/Groups/{gid}").status_code == 204
    assert scim.get(f"/Groups/{gid}").status_code == 404


def test_every_filterable_attribute_the_schema_lists_can_be_filtered(scim, people):
    """/Schemas lists ``name.formatted`` and the user's ``groups``; a filter on them was a 400
    "not an attribute you can filter on" (``phoneNumbers`` too: see the next test)."""
    gid = scim.post("/Groups", {"displayName": "Eng", "members": [{"value": people["alan"]}]}).json()["id"]
    scim.patch(
        f"/Users/{people['ada']}", patch_body({"op": "add", "path": "name.formatted", "value": "Ada L."})
    )

    def ids(text: str) -> set[str]:
        response = scim.get("/Users", "filter=" + quote(text))
        assert response.status_code == 200, (text, response.content)
        return {u["id"] for u in response.json()["Resources"]}

    assert ids('name.formatted sw "ada"') == {people["ada"]} and ids("name.formatted pr") == {people["ada"]}
    assert ids(f'groups eq "{gid}"') == {people["alan"]} == ids(f'groups.value eq "{gid}"')
    assert ids('groups[display eq "eng"]') == {people["alan"]}
    assert ids("not (groups pr)") == {people["ada"], people["grace"]}
    assert ids('groups.display eq "Eng" or name.formatted co "L."') == {people["alan"], people["ada"]}


def test_phone_numbers_filter_as_sql_like_the_other_multi_valued_attributes(scim, people):
    """Phone numbers are kept as one JSON array per user; a filter on them was a 400 invalidFilter.
    Each form a filter on emails takes works on them: the attribute alone (its value), a sub-attribute,
    a value filter, ``pr``, ``not``, null, primary as a boolean, text without regard to case, and the
    LIKE wildcards taken as plain characters."""
    phones = {
        "ada": [
            {"value": "+1 555 0100", "type": "work", "primary": True},
            {"value": "+1 555 0199", "type": "Mobile"},
        ],
        "alan": [{"value": "+44 20 7946 0000", "type": "home", "primary": False}],
        "grace": [{"value": "100%_direct"}],
    }
    for name, numbers in phones.items():
        patched = scim.patch(
            f"/Users/{people[name]}", patch_body({"op": "replace", "path": "phoneNumbers", "value": numbers})
        )
        assert patched.status_code == 200, patched.content
    ada, alan, grace = people["ada"], people["alan"], people["grace"]
    nobody = scim.post("/Users", user_body("nobody@example.com")).json()["id"]

    def ids(text: str) -> set[str]:
        response = scim.get("/Users", "filter=" + quote(text))
        assert response.status_code == 200, (text, response.content)
        assert response.json()["totalResults"] == len(response.json()["Resources"])
        return {u["id"] for u in response.json()["Resources"]}

    assert ids('phoneNumbers eq "+1 555 0100"') == {ada} == ids('phoneNumbers.value sw "+1 555"')
    assert ids('phoneNumbers[type eq "mobile"]') == {ada} == ids('phoneNumbers.type eq "MOBILE"')
    assert ids('phoneNumbers[type eq "work" and value ew "0100"]') == {ada}
    assert ids('phoneNumbers[type eq "work" and value ew "0199"]') == set()  # one element must match both
    assert ids('phoneNumbers co "7946"') == {alan}
    assert ids("phoneNumbers pr") == {ada, alan, grace} and ids("not (phoneNumbers pr)") == {nobody}
    assert ids("phoneNumbers.primary eq true") == {ada}
    assert ids('phoneNumbers[primary eq "False" and type eq "home"]') == {alan}
    assert ids("phoneNumbers[not (primary eq true)]") == {ada, alan, grace}  # missing is false: ada's 2nd
    assert ids("not (phoneNumbers.primary eq true)") == {alan, grace, nobody}
    assert ids("phoneNumbers.type eq null") == {grace} == ids("phoneNumbers[not (type pr)]")
    assert ids('phoneNumbers ne "+1 555 0100"') == {ada, alan, grace}  # some number of each differs
    assert ids('phoneNumbers co "%_"') == {grace} and ids('phoneNumbers co "0_0"') == set()
    assert ids('phoneNumbers.value lt "+2"') == {ada} and ids('phoneNumbers.value ge "+4"') == {alan, grace}
    assert ids('phoneNumbers[type eq "home"] or userName eq "nobody@example.com"') == {alan, nobody}
    for bad in (
        "phoneNumbers.primary gt true",
        'phoneNumbers.nope eq "x"',
        "phoneNumbers[value co 1 and x pr]",
    ):
        refused = scim.get("/Users", "filter=" + quote(bad))
        assert refused.status_code == 400 and refused.json()["scimType"] == "invalidFilter", bad
    root = scim.post("/.search", {"filter": 'phoneNumbers[type eq "home"]'})
    assert root.status_code == 200 and [r["id"] for r in root.json()["Resources"]] == [alan]


@pytest.mark.parametrize(
    ("operation", "status", "scim_type"),
    [
        ({"op": "remove"}, 400, "noTarget"),
        ({"op": "replace", "path": "id", "value": "x"}, 400, "mutability"),
        ({"op": "replace", "path": "nope", "value": "x"}, 400, "invalidPath"),
        ({"op": "replace", "path": "emails[type eq]", "value": "x"}, 400, "invalidPath"),
        ({"op": "move", "path": "title", "value": "x"}, 400, "invalidSyntax"),
        ({"op": "replace", "path": "active", "value": "maybe"}, 400, "invalidValue"),
        ({"op": "replace", "path": "userName", "value": "alan@example.com"}, 409, "uniqueness"),
        (
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ada@elsewhere.org"},
            400,
            "invalidValue",
        ),
    ],
)
def test_patch_errors(scim, people, operation, status, scim_type):
    response = scim.patch(f"/Users/{people['ada']}", patch_body(operation))
    assert response.status_code == status, response.content
    assert response.json()["scimType"] == scim_type
    assert scim.get(f"/Users/{people['ada']}").json()["userName"] == "ada@example.com"


def test_bad_bodies_are_scim_errors_never_500(scim, people):
    assert scim.call("POST", "/Users", raw=b"{nope").json()["scimType"] == "invalidSyntax"
    assert scim.call("POST", "/Users", raw=b"[1]").status_code == 400
    assert scim.post("/Users", {"userName": ""}).json()["scimType"] == "invalidValue"
    assert scim.post("/Users", {"userName": "a@example.com", "title": "x" * 500}).status_code == 400
    assert scim.post("/Users", {"userName": "a@example.com", "emails": "nope@example.com"}).status_code == 201
    assert scim.patch(f"/Users/{people['ada']}", {"Operations": "x"}).status_code == 400
    assert scim.get("/Users/nope").status_code == 404
    assert scim.call("PUT", "/Users").status_code == 405
    assert scim.get("/Nope").status_code == 404


@pytest.mark.parametrize("path", ["/Me", "/Me/", "/Bulk", "/Bulk/x"])
def test_unsupported_optional_endpoints_answer_501_in_the_scim_error_schema(scim, path):
    """RFC 7644 §3.11: a service provider without /Me SHOULD answer 501 (it was a 404, which reads as
    a wrong base URL); /Bulk, which ServiceProviderConfig says is not supported, the same."""
    for method in ["GET", "POST", "PATCH"]:
        response = scim.call(method, path, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]})
        assert response.status_code == 501, (method, response.content)
        body = response.json()
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["status"] == "501"
        assert "does not support" in body["detail"]
    assert scim.get("/ServiceProviderConfig").json()["bulk"]["supported"] is False


def test_a_group_body_over_djangos_form_limit_but_within_scims_is_read(scim, people):
    """10,000 members (the most one request may carry) with their display names and $ref URLs come
    to about 1.6 MB: over Django's 1 MB for forms, within SCIM's 5 MB."""
    member = {
        "value": people["ada"],
        "display": "Ada Lovelace",
        "$ref": f"https://idp.example/scim/v2/Users/{people['ada']}?tenant=00000000-0000-0000-0000-000000000000",
    }
    body = {"displayName": "Everyone", "members": [member] * 10_000}
    assert len(json.dumps(body)) > 1024 * 1024
    response = scim.post("/Groups", body)
    assert response.status_code == 201, response.content[:300]
    assert [m["value"] for m in response.json()["members"]] == [people["ada"]]


@pytest.mark.parametrize(
    ("raw", "status", "scim_type"),
    [
        # A lone UTF-16 surrogate is valid JSON syntax but not Unicode text (was a 500, the log too).
        (b'{"userName": "\\ud800@example.com"}', 400, "invalidSyntax"),
        (b'{"userName": "ada@example.com", "title": "\\udc00"}', 400, "invalidSyntax"),
        # The same surrogate written as raw bytes (CESU-8, not UTF-8): json.loads decodes bytes with
        # "surrogatepass", so it came through as a lone surrogate too (was a 500 at the database).
        (b'{"userName": "ada@example.com", "title": "\xed\xa0\x80"}', 400, "invalidSyntax"),
        (b'{"userName": "\xed\xb0\x80@example.com"}', 400, "invalidSyntax"),
        # Nested deeper than the JSON decoder's recursion limit (was a RecursionError, a 500).
        (b"[" * 100_000, 400, "invalidSyntax"),
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, 400, "invalidSyntax"),
        # NaN and Infinity are not JSON, though Python's json reads them: a title became "inf",
        # and a NaN in a phone number was a 500 on PostgreSQL.
        (b'{"userName": "new@example.com", "title": Infinity}', 400, "invalidSyntax"),
        (
            b'{"userName": "new@example.com", "phoneNumbers": [{"value": "1", "type": NaN}]}',
            400,
            "invalidSyntax",
        ),
        # Over SCIM's own 5 MB: refused before it is read (was Django's HTML "Bad request" page
        # over its 1 MB limit for forms).
        (json.dumps(user_body(title="x" * 6 * 1024 * 1024)).encode(), 413, "tooMany"),
    ],
)
def test_unusable_bodies_are_scim_errors_and_change_nothing(scim, people, raw, status, scim_type):
    from orgwarden.audit.models import AuditEvent

    events = AuditEvent.objects.count()
    for method, path in (("POST", "/Users"), ("PUT", f"/Users/{people['ada']}"), ("POST", "/Groups")):
        response = scim.call(method, path, raw=raw)
        assert response.status_code == status, response.content
        body = response.json()
        assert body["status"] == str(status) and body["scimType"] == scim_type
    assert AuditEvent.objects.count() == events
    assert scim.get(f"/Users/{people['ada']}").json()["title"] == "Ada"
    assert ProvisioningLog.objects.filter(status=status).count() == 3


def test_an_escaped_surrogate_pair_is_one_character_and_accepted(scim):
    created = scim.call("POST", "/Users", raw=json.dumps(user_body(title="Ada \U0001f600")).encode())
    assert created.status_code == 201 and created.json()["title"] == "Ada \U0001f600"


@pytest.mark.parametrize(
    "path",
    [
        "/Users/a%00b",
        # A newline in a path no route knows: the catch-all's "." stopped at it, and Django
        # answered its HTML 404 page.
        "/Nope%0A",
        "/a/b%0Ac",
    ],
)
def test_nul_or_newline_in_a_scim_path_is_a_scim_error(scim, path):
    response = scim.get(path)
    assert response.status_code == 404 and response.json()["schemas"] == [
        "urn:ietf:params:scim:api:messages:2.0:Error"
    ]


def test_application_json_is_accepted(scim):
    response = scim.client.post(
        scim.base + "/Users",
        json.dumps(user_body()),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {scim.key}",
    )
    assert response.status_code == 201


def test_requests_are_logged_refused_ones_too(scim, directory):
    scim.post("/Users", user_body())
    scim.post("/Users", user_body("x@elsewhere.org"))
    rows = list(ProvisioningLog.objects.filter(directory=directory).order_by("at", "pk"))
    assert [(r.operation, r.status) for r in rows] == [("create", 201), ("create", 400)]
    assert "verified domain" in rows[1].error


def test_nul_in_values_is_a_scim_error_or_dropped_never_500(scim):
    body = user_body(title="a\x00b")
    assert scim.post("/Users", body).json()["scimType"] == "invalidValue"
    body = user_body(
        phoneNumbers=[{"value": "1\x002"}], emails=[{"value": "ada@example.com", "type": "w\x00"}]
    )
    created = scim.post("/Users", body)
    assert created.status_code == 201 and "phoneNumbers" not in created.json()


def test_a_user_name_longer_than_its_column_once_lower_cased_is_400(scim):
    """İ lower-cases to two characters (i and a combining dot): 200 of them passed the 254-character
    check of userName, and its lower-cased key, 400 characters, was a 500 on PostgreSQL (too long
    for its column) and stored over its limit on SQLite."""
    response = scim.post("/Users", user_body("ada@example.com", userName="İ" * 200))
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    assert not ScimUser.objects.exists()


def test_an_email_longer_than_an_account_email_can_be_is_400(scim, people):
    """Django's email validator allows 320 characters, the account's email column 254: a primary
    email of 312 characters on the verified domain was a 500 on PostgreSQL (too long for the
    column) and an account email over its limit on SQLite, on a create and on a change."""
    long = "x" * 300 + "@example.com"
    created = scim.post("/Users", user_body("new@example.com", emails=[{"value": long, "primary": True}]))
    changed = scim.patch(
        f"/Users/{people['ada']}",
        patch_body({"op": "replace", "path": 'emails[type eq "work"].value', "value": long}),
    )
    for response in (created, changed):
        assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    assert not ScimUser.objects.filter(user_name="new@example.com").exists()
    assert scim.get(f"/Users/{people['ada']}").json()["emails"][0]["value"] == "ada@example.com"


def test_an_other_email_longer_than_its_column_once_lower_cased_is_left_out(scim):
    """A second email of 200 İ is 400 characters once lower-cased, as emails are stored: it passed
    the 254-character check and was a 500 on PostgreSQL. It is left out, as other unusable
    secondary emails are."""
    emails = [{"value": "ada@example.com", "primary": True}, {"value": "İ" * 200}]
    created = scim.post("/Users", user_body("ada@example.com", emails=emails))
    assert created.status_code == 201, created.content
    assert [e["value"] for e in created.json()["emails"]] == ["ada@example.com"]


def test_a_phone_number_path_seeded_with_an_infinite_type_is_an_invalid_path(scim, people):
    """``1e400`` in a PATCH path's filter is infinity, and the phone number the PATCH created took it
    as its type: PostgreSQL's JSON has no Infinity (a 500), and SQLite's JSON check failed, which
    answered 409 "already exists". A number out of range is now refused where it is read, and the
    user is left as it was."""
    before = scim.get(f"/Users/{people['ada']}").json()
    response = scim.patch(
        f"/Users/{people['ada']}",
        patch_body({"op": "add", "path": "phoneNumbers[type eq 1e400].value", "value": "+1 555 0100"}),
    )
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidPath" and "out of range" in response.json()["detail"]
    assert scim.get(f"/Users/{people['ada']}").json() == before


@pytest.mark.parametrize(
    "path",
    [
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
        "manager.value",
    ],
)
def test_a_manager_sub_attribute_path_is_accepted(scim, path):
    """RFC 7644 §3.5.2's attrPath takes a sub-attribute of a complex attribute: it was a 400
    invalidPath for ``manager.value`` while ``manager`` itself was accepted."""
    uid = scim.post("/Users", user_body()).json()["id"]
    for op in ["add", "replace", "remove"]:
        operation = {"op": op, "path": path} | ({} if op == "remove" else {"value": "m1"})
        response = scim.patch(f"/Users/{uid}", patch_body(operation))
        assert response.status_code == 200, (op, response.content)
    wrong = patch_body({"op": "add", "path": "manager.nope", "value": "x"})
    assert scim.patch(f"/Users/{uid}", wrong).json()["scimType"] == "invalidPath"


def test_entra_manager_as_a_bare_id(scim):
    uid = scim.post("/Users", user_body()).json()["id"]
    response = scim.patch(
        f"/Users/{uid}",
        patch_body(
            {
                "op": "Add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": "m1",
            }
        ),
    )
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_create_racing_a_sign_up_of_the_same_email_links_that_account(scim, directory):
    """A sign-up commits the email after the create checked it: the create's account insert waits for
    it (PostgreSQL) and fails on the unique email; the create links that account instead of a 500.
    On SQLite the create waits for the write lock and finds the account."""
    from orgwarden.accounts.models import Account
    from orgwarden.accounts.services import account_create
    from orgwarden.orgs.models import OrgUser
    from orgwarden.testing.races import behind_an_open_transaction

    response = behind_an_open_transaction(
        lambda: account_create(email="race@example.com", display_name="Race", password=None),
        lambda: scim.post("/Users", user_body("race@example.com")),
    )
    assert response.status_code == 201
    account = Account.objects.get(email="race@example.com")
    assert account.display_name == "Ada Lovelace"  # the provisioned profile, on the signed-up account
    assert OrgUser.objects.get(account=account).directory == directory
    assert response.json()["id"] == account.scim_users.get().scim_id


@pytest.mark.django_db(transaction=True)
def test_two_group_creates_of_one_name_at_once_answer_409_not_500(scim, directory):
    """Both pass the name check; the second's org group insert waits for the first (PostgreSQL) and
    fails on the unique name. It answers what it would have answered second: uniqueness."""
    from orgwarden.orgs.models import Group
    from orgwarden.scim import services
    from orgwarden.scim.models import ScimGroup
    from orgwarden.testing.races import behind_an_open_transaction

    response = behind_an_open_transaction(
        lambda: services.scim_group_create(directory=directory, data={"displayName": "Engineering"}),
        lambda: scim.post("/Groups", {"displayName": "engineering"}),
    )
    assert response.status_code == 409 and response.json()["scimType"] == "uniqueness"
    assert list(ScimGroup.objects.values_list("display_name", flat=True)) == ["Engineering"]
    assert Group.objects.get().name == "Engineering"


@pytest.mark.django_db(transaction=True)
def test_a_group_create_whose_name_another_create_commits_between_its_checks_answers_409(
    scim, directory, monkeypatch
):
    """The IdP sends the same group twice at once: the second passed the check of the directory's
    group names, then the first committed before the second looked for an org group of that name.
    It answered 201 with a synced group "clashing" with the directory's own group (waiting for an
    admin to merge a group into its twin); it answers 409 uniqueness, as when it came second.

    The first create commits while the second runs ``_member_users``, between its two checks: on
    PostgreSQL from another connection, as a concurrent request does; SQLite's one writer lets no
    other connection commit there, so it runs in the request's own transaction (and is rolled
    back with it)."""
    import threading

    from django.db import connection, connections

    from orgwarden.orgs.models import Group
    from orgwarden.scim import services
    from orgwarden.scim.models import ScimGroup

    real = services._member_users
    started: list[bool] = []

    def first_create() -> None:
        services.scim_group_create(directory=directory, data={"displayName": "Engineering"})

    def committed_elsewhere() -> None:
        try:
            first_create()
        finally:
            connections.close_all()

    def between_the_checks(directory_, flat):
        if not started:  # the first create calls this too
            started.append(True)
            if connection.vendor == "postgresql":
                other = threading.Thread(target=committed_elsewhere)
                other.start()
                other.join(timeout=30)
            else:
                first_create()
        return real(directory_, flat)

    monkeypatch.setattr(services, "_member_users", between_the_checks)
    response = scim.post("/Groups", {"displayName": "engineering"})
    assert response.status_code == 409 and response.json()["scimType"] == "uniqueness"
    assert not ScimGroup.objects.filter(clash_group__isnull=False).exists()
    if connection.vendor == "postgresql":
        assert list(ScimGroup.objects.values_list("display_name", flat=True)) == ["Engineering"]
        assert Group.objects.get().name == "Engineering"


@pytest.mark.django_db(transaction=True)
def test_a_group_create_racing_an_admins_local_group_of_that_name_waits_for_a_decision(
    scim, directory, org, org_admin
):
    """An admin creates the local group "Engineering" while the IdP creates its own: the synced group
    waits for the admin's decision (merge or rename), as when the local group came first."""
    from orgwarden.orgs.models import Group
    from orgwarden.orgs.services.access import group_create
    from orgwarden.scim.models import ScimGroup
    from orgwarden.testing.races import behind_an_open_transaction

    response = behind_an_open_transaction(
        lambda: group_create(org=org, actor=org_admin.account, name="Engineering"),
        lambda: scim.post("/Groups", {"displayName": "Engineering"}),
    )
    assert response.status_code == 201
    synced = ScimGroup.objects.get(scim_id=response.json()["id"])
    local = Group.objects.get()
    assert synced.group is None and synced.clash_group == local and local.directory is None


@pytest.mark.django_db(transaction=True)
def test_an_email_change_racing_a_sign_up_of_the_new_email_leaves_the_record_unlinked(scim, directory):
    """The IdP moves Ada to a new email while someone signs up with it: the move's update waits for
    the sign-up (PostgreSQL) and fails on the unique email. As when the sign-up came first, the record
    is listed as unlinked and the account keeps its email; no 500."""
    from orgwarden.accounts.models import Account
    from orgwarden.accounts.services import account_create
    from orgwarden.scim import selectors
    from orgwarden.scim.models import ScimUser
    from orgwarden.testing.races import behind_an_open_transaction

    created = scim.post("/Users", user_body("ada@example.com")).json()
    moved = user_body("ada@example.com", emails=[{"value": "countess@example.com", "primary": True}])
    response = behind_an_open_transaction(
        lambda: account_create(email="countess@example.com", display_name="Someone", password=None),
        lambda: scim.put(f"/Users/{created['id']}", moved),
    )
    assert response.status_code == 200
    record = ScimUser.objects.get(scim_id=created["id"])
    assert record.account.email == "ada@example.com" and "countess@example.com" in record.link_error
    assert selectors.unlinked_users(directory=directory).items == [record]
    assert Account.objects.get(email="countess@example.com").display_name == "Someone"


def test_a_filter_sent_unescaped_in_utf_8_is_read_as_utf_8(org, scim):
    """A client that does not percent-encode its query sends "müller" as its UTF-8 bytes. They were
    read as Latin-1 ("mÃ¼ller"), so the lookup an IdP makes before each create found nobody."""
    from orgwarden.scim.tests.conftest import verified_domain

    verified_domain(org, "xn--mller-kva.de")
    assert scim.post("/Users", user_body("anna@müller.de")).status_code == 201
    found = scim.get("/Users", query='filter=userName eq "anna@müller.de"')
    assert found.status_code == 200 and found.json()["totalResults"] == 1


def test_a_user_on_an_internationalized_verified_domain_is_provisioned(org, scim):
    """müller.de is verified as xn--mller-kva.de (its DNS form); an IdP sends the address as people
    write it. Before, its domain was "not verified" (400) however the admin had verified it."""
    from urllib.parse import quote

    from orgwarden.accounts.models import Account
    from orgwarden.orgs.models import OrgUser
    from orgwarden.scim.tests.conftest import verified_domain

    verified_domain(org, "xn--mller-kva.de")
    created = scim.post("/Users", user_body("Anna@Müller.de"))
    assert created.status_code == 201, created.json()
    assert created.json()["userName"] == "Anna@Müller.de"  # the IdP's value, as it sent it
    account = Account.objects.get(scim_users__scim_id=created.json()["id"])
    assert account.email == "anna@xn--mller-kva.de"
    assert OrgUser.objects.get(account=account, org=org).is_managed
    found = scim.get("/Users", query="filter=" + quote('userName eq "anna@müller.de"')).json()
    assert found["totalResults"] == 1
