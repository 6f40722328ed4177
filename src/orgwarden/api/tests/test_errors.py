"""The REST API's error answers: JSON with a stable code and the right status, never a 500."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.test import Client

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.api.tests.helpers import ApiClient, key_for
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Domain
from orgwarden.orgs.services.claims import account_claim
from orgwarden.tokens.services import api_key_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(org_admin):
    return key_for(org_admin)


@pytest.fixture
def api(key) -> ApiClient:
    return ApiClient(key[1])


@pytest.fixture
def managed(org):
    domain = Domain.objects.create(org=org, name="acme.test", token="t", status=Domain.Status.VERIFIED)
    account = AccountFactory(email="mia@acme.test", display_name="Mia")
    account_claim(org=org, account=account, domain=domain, actor=Actor.system())
    return account


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and body["message"]
    return body


# --- 401 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer owk_nope", "Basic dXNlcjpwYXNz", "Bearer " + "owk_" + "x" * 5000],
)
def test_missing_or_bad_key_is_401(org, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = Client().get("/api/admin/v1/orgs", **headers)
    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_and_revoked_keys_are_401(org, org_admin):
    with time_machine.travel("2026-03-02T10:00:00Z", tick=False):
        _, short = key_for(org_admin)
    revoked, revoked_value = key_for(org_admin)
    api_key_revoke(org=org, actor=org_admin.account, key_id=revoked.key_id)
    with time_machine.travel("2026-03-10T10:00:00Z", tick=False):
        assert_error(ApiClient(short).get("/api/admin/v1/orgs"), 401, "unauthorized")
    assert_error(ApiClient(revoked_value).get("/api/admin/v1/orgs"), 401, "unauthorized")


def test_a_session_cookie_is_not_a_key(admin_client):
    assert_error(admin_client.get("/api/admin/v1/orgs"), 401, "unauthorized")


# --- 404, 405 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/", "/api/nope", "/api/admin/v1/nope", "/api/admin/v2/orgs", "/api/users/x"]
)
def test_unknown_routes_are_json_404(api, path):
    assert_error(api.get(path), 404, "not_found")
    assert_error(Client().post(path), 404, "not_found")


def test_wrong_method_is_json_405(api, org, managed):
    response = api.delete(f"/api/admin/v1/orgs/{org.org_id}")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
    assert_error(
        api.get(f"/api/users/{managed.account_id}/manage/lifecycle/disable"), 405, "method_not_allowed"
    )
    assert_error(api.post(f"/api/users/{managed.account_id}/manage/profile", {}), 405, "method_not_allowed")


# --- 429 ----------------------------------------------------------------------------------------------


def test_rate_limit(api, org, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    with time_machine.travel("2026-03-02T10:00:10Z", tick=False):
        for remaining in (2, 1, 0):
            response = api.get("/api/admin/v1/orgs")
            assert response.status_code == 200
            assert response["X-RateLimit-Limit"] == "3"
            assert response["X-RateLimit-Remaining"] == str(remaining)
            assert response["X-RateLimit-Reset"] == "50"
        limited = api.get(f"/api/admin/v1/orgs/{org.org_id}/users")
        assert_error(limited, 429, "rate_limited")
        assert limited["Retry-After"] == "50"
        assert limited["X-RateLimit-Limit"] == "3" and limited["X-RateLimit-Remaining"] == "0"
    with time_machine.travel("2026-03-02T10:01:00Z", tick=False):
        assert api.get("/api/admin/v1/orgs").status_code == 200


def test_in_the_windows_last_second_the_wait_is_one_second(api, settings):
    """The wait was rounded down: 0 seconds, then "a whole minute" (60) in the window's last second."""
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    with time_machine.travel("2026-03-02T10:00:59.5Z", tick=False):
        assert api.get("/api/admin/v1/orgs")["X-RateLimit-Reset"] == "1"
        assert api.get("/api/admin/v1/orgs")["Retry-After"] == "1"
    with time_machine.travel("2026-03-02T10:01:00.25Z", tick=False):
        assert api.get("/api/admin/v1/orgs").status_code == 200  # a new window


def test_rate_limits_are_per_key(org, org_admin, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    first, second = ApiClient(key_for(org_admin)[1]), ApiClient(key_for(org_admin)[1])
    with time_machine.travel("2026-03-02T10:00:10Z", tick=False):
        assert first.get("/api/admin/v1/orgs").status_code == 200
        assert first.get("/api/admin/v1/orgs").status_code == 429
        assert second.get("/api/admin/v1/orgs").status_code == 200


# --- bad input to every write endpoint: 400, never 500, nothing changed ---------------------------------

WRITES = [
    ("patch", "/profile"),
    ("put", "/email"),
    ("post", "/lifecycle/disable"),
    ("post", "/lifecycle/enable"),
    ("post", "/lifecycle/delete"),
    ("post", "/lifecycle/cancel-delete"),
]
BODYLESS = {"/lifecycle/enable", "/lifecycle/delete", "/lifecycle/cancel-delete"}
BAD_BODIES = [
    b"{",
    b"not json",
    b"[]",
    b"null",
    b"123",
    b'"string"',
    b'{"name": 1, "email": 2, "message": 3, "job_title": {"a": 1}}',
    b'{"name": ["x"], "email": ["x"], "message": ["x"]}',
    (
        '{"name": "'
        + "x" * 100_000
        + '", "email": "'
        + "x" * 100_000
        + '", "message": "'
        + "x" * 100_000
        + '"}'
    ).encode(),
    b'{"name": "a\\u0000b", "email": "a\\u0000b@acme.test", "message": "a\\u0000b"}',
    '{"name": "Zoë 🦊 ‮", "email": "zoë@acme.test", "message": "ünïcödé 🦊"}'.encode(),
    b"\xff\xfe\x00garbage",
    b'{"extra": true}',
]


@pytest.mark.parametrize(("method", "rest"), WRITES)
def test_bad_bodies_never_500(api, managed, method, rest):
    url = f"/api/users/{managed.account_id}/manage{rest}"
    for body in BAD_BODIES:
        response = getattr(api, method)(url, raw=body)
        assert response.status_code < 500, (body[:60], response.content[:300])
        assert response["Content-Type"].startswith("application/json")
        if rest in BODYLESS or body == b"null":  # a body is ignored where none is expected
            continue
        assert response.json()["code"] in {"invalid_request", "conflict"}, (body[:60], response.content[:300])
    # A form post instead of JSON is refused too (or ignored where no body is expected).
    response = getattr(api.client, method)(
        url,
        "name=x",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {api.value}",
    )
    assert response.status_code < 500


def test_bad_bodies_change_nothing(api, managed):
    url = f"/api/users/{managed.account_id}/manage"
    for body in BAD_BODIES:
        api.patch(url + "/profile", raw=body)
        api.put(url + "/email", raw=body)
    managed.refresh_from_db()
    assert managed.display_name == "Mia" and managed.email == "mia@acme.test"
    assert not AuditEvent.objects.filter(
        action__in=["org:account:profile_updated", "org:account:email_changed"]
    ).exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/admin/v1/orgs/{org}/users?q=%00&kind=%00&cursor=%00",
        "/api/admin/v1/orgs/{org}/events?q=%00&actor=%00&action=%00",
        "/api/admin/v1/orgs/{org}/events?from=%00&to=9999-99-99",
        "/api/admin/v1/orgs/{org}/events-stream?sortOrder=%00&limit=1e9",
        "/api/admin/v1/orgs/{org}/domains/%F0%9F%A6%8A",
        "/api/admin/v1/orgs/{org}/events/%00",
        "/api/users/%00/manage",
    ],
)
def test_odd_query_and_path_values_never_500(api, org, path):
    response = api.get(path.format(org=org.org_id))
    assert response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")


def test_a_body_over_the_upload_limit_is_413_json_and_changes_nothing(api, managed, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    url = f"/api/users/{managed.account_id}/manage"
    body = ('{"name": "' + "x" * 2000 + '"}').encode()
    assert_error(api.patch(url + "/profile", raw=body), 413, "too_large")
    assert_error(api.post(url + "/lifecycle/disable", raw=body), 413, "too_large")
    managed.refresh_from_db()
    assert managed.display_name == "Mia" and managed.status == "active"


def test_every_operation_that_writes_documents_the_413(client):
    """A body over the upload limit is a 413 on any write (above); the OpenAPI document said so on
    none, so a client generated from it had no type for that answer."""
    schema = client.get("/api/openapi.json").json()
    writes = [
        (path, method, operation["responses"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch", "delete")
    ]
    assert writes
    assert [(path, method) for path, method, responses in writes if "413" not in responses] == []


def test_too_many_query_parameters_are_400_json(api, org, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"p{i}=1" for i in range(11))
    assert_error(api.get(f"/api/admin/v1/orgs/{org.org_id}/users?{query}"), 400, "invalid_request")


# --- OpenAPI and the docs page ------------------------------------------------------------------------


def test_openapi_document_lists_every_operation(client):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    for path in [
        "/api/admin/v1/orgs",
        "/api/admin/v1/orgs/{orgId}",
        "/api/admin/v1/orgs/{orgId}/users",
        "/api/admin/v1/orgs/{orgId}/domains",
        "/api/admin/v1/orgs/{orgId}/domains/{domainId}",
        "/api/admin/v1/orgs/{orgId}/groups",
        "/api/admin/v1/orgs/{orgId}/events",
        "/api/admin/v1/orgs/{orgId}/events/{eventId}",
        "/api/admin/v1/orgs/{orgId}/event-actions",
        "/api/admin/v1/orgs/{orgId}/events-stream",
        "/api/users/{accountId}/manage",
        "/api/users/{accountId}/manage/profile",
        "/api/users/{accountId}/manage/email",
        "/api/users/{accountId}/manage/lifecycle/disable",
        "/api/users/{accountId}/manage/lifecycle/enable",
        "/api/users/{accountId}/manage/lifecycle/delete",
        "/api/users/{accountId}/manage/lifecycle/cancel-delete",
    ]:
        assert path in paths, path
    assert set(paths["/api/users/{accountId}/manage/profile"]) == {"get", "patch"}
    assert "OrgApiKeyAuth" in schema["components"]["securitySchemes"]


def test_docs_page_works_offline_under_the_csp(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "default-src 'self'" in response["Content-Security-Policy"]
    # Only same-origin assets; no inline script (the settings block is JSON, which never runs).
    assert not re.search(r"https?://", re.sub(r'"url": "[^"]*"', "", html).split("<noscript>")[0])
    assert "<style" not in html and "style=" not in html
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'type="application/json"' in tag or "src=" in tag
    for asset in re.findall(r'(?:src|href)="(/api/docs/assets/[^"]+)"', html):
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content)
    assert_error(client.get("/api/docs/assets/..%2F..%2Fsettings.py"), 404, "not_found")
    assert_error(client.get("/api/docs/assets/redoc.standalone.js.map"), 404, "not_found")
