"""Property-based fuzzing of the SCIM endpoint through the real HTTP stack: no input is a 500.

Hypothesis generates, within bounded strategies, what an identity provider (or anyone holding a
directory key) can send: filters (grammar-aware and raw junk), paging and attribute query values,
PATCH bodies for users and groups, POST and PUT bodies around the valid shapes, unusable bodies
and content types, and ids in the URL. Every request goes through Django's test client (the real
middleware and URL routing) with the directory's key, and every answer must be:

- never a 5xx (a 500 makes Microsoft Entra retry every 20 minutes, forever);
- a 4xx in the SCIM error format (RFC 7644 §3.12): the Error schema, ``status`` as the status
  code's string, a ``scimType`` of the RFC's list when there is one, ``application/scim+json``;
- a 2xx that parses as JSON (or a 204 with no body);
- after a refused write, nothing changed: the rows (users, groups, members, emails, accounts,
  org groups), the audit log, and the target's own JSON.

Each example runs in a savepoint rolled back after it, so all start from the same world: a
directory with two users and a group, a second directory of the same org and a directory of
another org (whose ids are "other directories' ids").

``derandomize=True`` makes each run the same examples (CI is repeatable) and ``MAX_EXAMPLES`` keeps
the module well under a minute. To hunt, raise it and change the seed of the run::

    ORGWARDEN_SCIM_FUZZ_EXAMPLES=2000 ORGWARDEN_SCIM_FUZZ_RANDOM=1 pytest -q scim/tests/test_fuzz.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import transaction
from django.db.models import CharField, JSONField
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from orgwarden.accounts.models import Account
from orgwarden.audit.models import AuditEvent
from orgwarden.billing.tests.factories import SubscriptionFactory
from orgwarden.orgs.models import Group, GroupMember, OrgUser
from orgwarden.orgs.tests.factories import OrgAdminFactory
from orgwarden.scim import selectors, services
from orgwarden.scim.models import ScimEmail, ScimGroup, ScimGroupMember, ScimUser
from orgwarden.scim.processors.resources import ERROR_SCHEMA
from orgwarden.scim.tests import strategies
from orgwarden.scim.tests.conftest import ScimClient, fill, user_body, verified_domain
from orgwarden.scim.tests.strategies import GROUP_URN
from orgwarden.sso import services as sso_services

MAX_EXAMPLES = int(os.environ.get("ORGWARDEN_SCIM_FUZZ_EXAMPLES", "50"))
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("ORGWARDEN_SCIM_FUZZ_RANDOM"),
    database=None,
    # The world fixture is made once per test; each example rolls its own changes back.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
# RFC 7644 §3.12, Table 9.
SCIM_TYPES = {
    "invalidFilter",
    "tooMany",
    "uniqueness",
    "mutability",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "invalidValue",
    "invalidVers",
    "sensitive",
}


# --- the world --------------------------------------------------------------------------------------


@pytest.fixture
def world(org, org_admin, directory, scim) -> dict[str, Any]:
    """Ada and Alan in the directory, the group Eng (Ada in it); Carol in a second directory of the
    same org; Bob and his group in a directory of another org. ``ids`` fill the ``{name}``
    placeholders the strategies write."""
    ada = services.scim_user_create(directory=directory, data=user_body("ada@example.com", title="Ada"))
    alan = services.scim_user_create(directory=directory, data=user_body("alan@example.com"))
    eng = services.scim_group_create(
        directory=directory, data={"displayName": "Eng", "members": [{"value": ada.scim_id}]}
    )
    second = sso_services.idp_add(org=org, actor=org_admin.account, vendor="entra", name="Entra").directory
    carol = services.scim_user_create(directory=second, data=user_body("carol@example.com"))
    other_admin = OrgAdminFactory()
    verified_domain(other_admin.org, "other.test")
    SubscriptionFactory(org=other_admin.org)
    elsewhere = sso_services.idp_add(
        org=other_admin.org, actor=other_admin.account, vendor="okta", name="Okta"
    ).directory
    bob = services.scim_user_create(directory=elsewhere, data=user_body("bob@other.test"))
    bobs = services.scim_group_create(directory=elsewhere, data={"displayName": "Bobs"})
    ids = {
        "ada": ada.scim_id,
        "alan": alan.scim_id,
        "eng": eng.scim_id,
        "carol": carol.scim_id,
        "bob": bob.scim_id,
        "bobs": bobs.scim_id,
        "second": second.directory_id,
        "elsewhere": elsewhere.directory_id,
        "directory": directory.directory_id,
    }
    return {"scim": scim, "directory": directory, "ids": ids}


@contextmanager
def rolled_back() -> Iterator[None]:
    """One example's changes, undone after it: every example starts from the same world."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def state(world: dict[str, Any]) -> tuple:
    """What a refused request must leave as it was: row counts, the audit log, Ada and Eng."""
    directory, ids = world["directory"], world["ids"]
    base = "http://testserver/scim/directory/" + directory.directory_id
    ada = selectors.user_get(directory=directory, scim_id=ids["ada"])
    eng = selectors.group_get(directory=directory, scim_id=ids["eng"])
    account = Account.objects.values("email", "status", "display_name", "job_title").get(pk=ada.account_id)
    return (
        *(
            model.objects.count()
            for model in (
                ScimUser,
                ScimGroup,
                ScimGroupMember,
                ScimEmail,
                Account,
                OrgUser,
                Group,
                GroupMember,
                AuditEvent,
            )
        ),
        json.dumps(selectors.render_user(ada, base), sort_keys=True),
        json.dumps(selectors.render_group(eng, base), sort_keys=True),
        account,
    )


def check(response, what: str) -> Any:
    """Assert the answer is a SCIM answer (see the module doc); returns its JSON (None for a 204)."""
    status = response.status_code
    assert status < 500, (what, status, response.content[:500])
    content_type = response.get("Content-Type", "")
    if status == 204:
        assert not response.content, what
        return None
    assert content_type.startswith("application/scim+json"), (what, status, content_type)
    body = json.loads(response.content)
    if status >= 400:
        assert body["schemas"] == [ERROR_SCHEMA], (what, body)
        assert body["status"] == str(status), (what, body)
        assert isinstance(body["detail"], str) and body["detail"], (what, body)
        assert body.get("scimType", "invalidValue") in SCIM_TYPES, (what, body)
    return body


def send(world, method: str, path: str, *, query: str = "", body: Any = None, raw: bytes | None = None, **kw):
    scim: ScimClient = world["scim"]
    if raw is None:
        raw = b"" if body is None else json.dumps(fill(body, world["ids"])).encode()
    url = scim.base + fill(path, world["ids"]) + ("?" + query if query else "")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {scim.key}", **kw}
    content_type = headers.pop("content_type", "application/scim+json")
    return scim.client.generic(method, url, raw, content_type=content_type, **headers)


def refused_changes_nothing(world, method: str, path: str, **kw) -> Any:
    """Send the request; a 4xx must leave ``state`` as it was. Returns the checked JSON."""
    before = state(world)
    note(f"{method} {path} {kw}")  # printed with a failing example: the request as sent
    response = send(world, method, path, **kw)
    body = check(response, f"{method} {path} {kw}")
    # What the examples reached (``--hypothesis-show-statistics``): a strategy whose every example
    # is refused at the first check tests little.
    event(f"{method} {path.split('/')[1]} {response.status_code} {(body or {}).get('detail', '')[:40]}")
    if response.status_code >= 400:
        assert state(world) == before, (method, path, kw, body)
    elif method != "GET":
        stored_values_fit()
    return body


def stored_values_fit() -> None:
    """What an accepted write stored, PostgreSQL would store too — SQLite does not enforce it, so
    on SQLite this is how a 500 waiting on PostgreSQL shows: no string longer than its column, no
    NaN or Infinity in a JSON column."""
    for model in (ScimUser, ScimEmail, ScimGroup, Account, Group, OrgUser):
        fields = [f for f in model._meta.concrete_fields if isinstance(f, CharField | JSONField)]
        for row in model.objects.values_list(*(f.attname for f in fields)):
            for field, value in zip(fields, row, strict=True):
                if isinstance(field, JSONField):
                    json.dumps(value, allow_nan=False)  # ValueError for NaN, Infinity
                elif field.max_length and value is not None:
                    assert len(value) <= field.max_length, (model.__name__, field.name, value[:80])


# --- the properties -----------------------------------------------------------------------------------

LISTINGS = ["GET /Users", "GET /Groups", "POST /.search", "POST /Users/.search", "POST /Groups/.search"]


@pytest.mark.django_db
@FUZZ
@given(filter_text=strategies.filters, where=st.sampled_from(LISTINGS))
def test_no_filter_causes_a_server_error(world, filter_text, where):
    method, path = where.split(" ")
    with rolled_back():
        if method == "GET":
            body = refused_changes_nothing(
                world, method, path, query="filter=" + strategies.encode(filter_text)
            )
        else:
            body = refused_changes_nothing(world, method, path, body={"filter": filter_text})
        if body is not None and "totalResults" in body:
            assert body["totalResults"] >= len(body["Resources"]) == body["itemsPerPage"]


@pytest.mark.django_db
@FUZZ
@given(
    pairs=strategies.query_pairs,
    raw=st.one_of(st.none(), strategies.raw_query_strings),
    where=st.sampled_from(
        ["GET /Users", "GET /Groups", "GET /Users/{ada}", "GET /Groups/{eng}", "POST /.search"]
    ),
    search=strategies.search_bodies,
)
def test_no_query_parameter_causes_a_server_error(world, pairs, raw, where, search):
    method, path = where.split(" ")
    query = raw if raw is not None else strategies.query_string(pairs)
    with rolled_back():
        refused_changes_nothing(world, method, path, query=query, body=search if method == "POST" else None)


@pytest.mark.django_db
@FUZZ
@given(body=strategies.patch_bodies(strategies.USER_PATCH_PATHS), target=st.sampled_from(["{ada}", "{alan}"]))
def test_no_user_patch_causes_a_server_error(world, body, target):
    with rolled_back():
        refused_changes_nothing(world, "PATCH", f"/Users/{target}", body=body)


@pytest.mark.django_db
@FUZZ
@given(body=strategies.patch_bodies(strategies.GROUP_PATCH_PATHS))
def test_no_group_patch_causes_a_server_error(world, body):
    with rolled_back():
        refused_changes_nothing(world, "PATCH", "/Groups/{eng}", body=body)


@pytest.mark.django_db
@FUZZ
@given(
    user=strategies.user_bodies(user_body("new@example.com")),
    group=strategies.group_bodies(
        {"schemas": [GROUP_URN], "displayName": "New", "members": [{"value": "{alan}"}]}
    ),
    where=st.sampled_from(["POST /Users", "PUT /Users/{ada}", "POST /Groups", "PUT /Groups/{eng}"]),
)
def test_no_create_or_replace_body_causes_a_server_error(world, user, group, where):
    method, path = where.split(" ")
    if method == "PUT" and isinstance(user, dict) and user.get("userName") == "new@example.com":
        user = {**user, "userName": "ada@example.com"}  # Ada's own name: the PUT reaches the store
    with rolled_back():
        refused_changes_nothing(world, method, path, body=user if "Users" in path else group)


@pytest.mark.django_db
@FUZZ
@given(
    raw=strategies.unusable_bodies,
    content_type=strategies.content_types,
    where=st.sampled_from(
        [
            "POST /Users",
            "PUT /Users/{ada}",
            "PATCH /Users/{ada}",
            "POST /Groups",
            "PUT /Groups/{eng}",
            "PATCH /Groups/{eng}",
            "POST /.search",
            "POST /Users/.search",
        ]
    ),
)
def test_no_unusable_body_or_content_type_causes_a_server_error(world, raw, content_type, where):
    method, path = where.split(" ")
    with rolled_back():
        refused_changes_nothing(world, method, path, raw=raw, content_type=content_type)


@pytest.mark.django_db
@FUZZ
@given(
    scim_id=strategies.ids_in_paths,
    directory_id=strategies.directory_ids,
    resource=st.sampled_from(["Users", "Groups", "Nope", "Schemas", "ResourceTypes"]),
    method=st.sampled_from(["GET", "PUT", "PATCH", "DELETE", "POST", "HEAD", "OPTIONS"]),
    body=st.one_of(
        st.none(),
        st.just(user_body("new@example.com")),
        strategies.patch_bodies(strategies.GROUP_PATCH_PATHS),
    ),
)
def test_no_id_in_the_path_causes_a_server_error(world, scim_id, directory_id, resource, method, body):
    """Ids of other directories' resources are 404s; other directories (the key is not theirs) 401s."""
    scim: ScimClient = world["scim"]
    path = f"/scim/directory/{fill(directory_id, world['ids'])}/{resource}/{fill(scim_id, world['ids'])}"
    with rolled_back():
        before = state(world)
        response = scim.client.generic(
            method,
            path,
            json.dumps(fill(body, world["ids"])).encode() if body is not None else b"",
            content_type="application/scim+json",
            HTTP_AUTHORIZATION=f"Bearer {scim.key}",
        )
        if method == "HEAD":  # no body: only the status can be checked
            assert response.status_code < 500, (path, response.status_code)
        else:
            check(response, f"{method} {path}")
        if response.status_code >= 400:
            assert state(world) == before, (method, path)
        if directory_id != "{directory}" or scim_id in ("{carol}", "{bob}", "{bobs}"):
            assert response.status_code in (401, 404, 405), (path, method, response.status_code)
