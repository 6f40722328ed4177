"""HTTP that reaches orgwarden past Django's usual path, through a real ``orgwarden serve``.

- What gunicorn refuses before Django sees it (``orgwarden.worker.Worker``) is answered in the
  caller's own format.
- Bodies sent with ``Transfer-Encoding: chunked`` reach the views (``orgwarden.wsgi``).

Requests are written byte by byte on a socket: no HTTP client sends a request line over gunicorn's
limit in absolute-form, or a NUL in a header, or broken chunked coding.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings

from orgwarden import wsgi
from orgwarden.scim import views as scim_views
from orgwarden.testing.serve import clean_env, serving

# An org with a verified domain, an identity provider and its SCIM key, in the served database.
SETUP = """
import json, sys
import django
django.setup()
from django.core.management import call_command
from django.utils import timezone
from orgwarden.accounts.services import account_create
from orgwarden.billing.services import subscription_trial_start
from orgwarden.orgs.models import Domain
from orgwarden.orgs.services import org_create
from orgwarden.scim.services import scim_key_generate
from orgwarden.sso.services import idp_add
call_command("migrate", interactive=False, verbosity=0)
admin = account_create(
    email="admin@edge.test", display_name="Admin", password=None, email_verified=True, via="test"
)
org = org_create(creator=admin, name="Edge Corp")
Domain.objects.create(org=org, name="edge.test", token="t" * 32, status=Domain.Status.VERIFIED,
                      method=Domain.Method.DNS, verified_at=timezone.now())
subscription_trial_start(org=org, actor=admin)
directory = idp_add(org=org, actor=admin, vendor="okta", name="Okta").directory
key = scim_key_generate(org=org, actor=admin, directory_id=directory.directory_id)
print(json.dumps({"users": f"/scim/directory/{directory.directory_id}/Users", "key": key}))
"""
LONG = "x" * 5000  # gunicorn reads request lines of at most 4094 bytes by default


@pytest.fixture(scope="module")
def served(tmp_path_factory, migrated) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("edges")
    migrated.install(tmp)
    made = subprocess.run(
        [sys.executable, "-c", SETUP], env=clean_env(tmp), capture_output=True, text=True, timeout=300
    )
    assert made.returncode == 0, made.stderr
    with serving(tmp) as (url, _log):
        yield {"base": url, **json.loads(made.stdout.strip().splitlines()[-1])}


@pytest.fixture(scope="module")
def base(served) -> str:
    return served["base"]


def exchange(base: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is and read the whole answer (gunicorn closes the connection)."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=20) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)
    }
    assert int(headers["content-length"]) == len(body)
    return int(status_line.split()[1]), headers, body


def test_a_scim_request_line_over_the_limit_is_a_scim_414(base):
    filter_ = f'userName eq "{LONG}@example.com"'
    request = f"GET /scim/directory/d1/Users?filter={filter_} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    status, headers, body = exchange(base, request)
    assert status == 414
    assert headers["content-type"] == "application/scim+json"
    error = json.loads(body)
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert error["status"] == "414"
    assert ".search" in error["detail"] and "4094 bytes" in error["detail"]


def test_absolute_form_request_lines_are_placed_by_their_path(base):
    address = urlsplit(base)
    request = f"GET http://{address.netloc}/scim/directory/d1/Users?filter={LONG} HTTP/1.1\r\nHost: x\r\n\r\n"
    status, headers, body = exchange(base, request.encode())
    assert (status, headers["content-type"]) == (414, "application/scim+json")
    assert json.loads(body)["status"] == "414"


def test_an_api_request_with_header_fields_too_large_is_an_api_431(base):
    request = f"GET /api/v1/org HTTP/1.1\r\nHost: x\r\nX-Padding: {'y' * 9000}\r\n\r\n".encode()
    status, headers, body = exchange(base, request)
    assert status == 431
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["code"] == "headers_too_large"
    assert "8190 bytes" in error["message"]


def test_a_nul_in_a_header_of_a_token_request_is_an_oauth_400(base):
    request = b"POST /oauth2/token/ HTTP/1.1\r\nHost: x\r\nX-Odd: a\x00b\r\nContent-Length: 0\r\n\r\n"
    status, headers, body = exchange(base, request)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert json.loads(body)["error"] == "invalid_request"


def test_people_keep_gunicorns_page_and_good_requests_are_served(base):
    status, headers, body = exchange(base, f"GET /admin/{LONG} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert (status, headers["content-type"]) == (414, "text/html")
    assert b"<html>" in body
    # the peek consumed nothing: gunicorn still reads the whole request
    answer = httpx.post(
        f"{base}/scim/directory/d1/Users", content=b"{}", headers={"Authorization": "Bearer no"}
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/scim+json"
    assert httpx.get(f"{base}/healthz").status_code == 200


def chunked(body: bytes, size: int = 4096) -> bytes:
    return (
        b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)
        )
        + b"0\r\n\r\n"
    )


def scim_post(served: dict, body: bytes) -> bytes:
    head = (
        f"POST {served['users']} HTTP/1.1\r\nHost: {urlsplit(served['base']).netloc}\r\n"
        f"Authorization: Bearer {served['key']}\r\nContent-Type: application/scim+json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    return head.encode() + body


def test_a_chunked_scim_create_creates_the_user(served):
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "chunk@edge.test"}
    status, _headers, body = exchange(
        served["base"], scim_post(served, chunked(json.dumps(user).encode(), 16))
    )
    assert status == 201, body
    created = json.loads(body)
    found = httpx.get(
        f"{served['base']}{served['users']}/{created['id']}",
        headers={"Authorization": f"Bearer {served['key']}"},
    )
    assert found.status_code == 200 and found.json()["userName"] == "chunk@edge.test"


def test_broken_chunked_coding_is_a_scim_400_and_creates_nothing(served):
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "broken@edge.test"}
    whole_user_then_garbage = (
        chunked(json.dumps(user).encode())[: -len(b"0\r\n\r\n")] + b"ZZ\r\nabc\r\n0\r\n\r\n"
    )
    status, headers, body = exchange(served["base"], scim_post(served, whole_user_then_garbage))
    assert (status, headers["content-type"]) == (400, "application/scim+json")
    assert json.loads(body)["detail"] == "The request body is not valid chunked transfer coding."
    listed = httpx.get(
        f"{served['base']}{served['users']}",
        params={"filter": 'userName eq "broken@edge.test"'},
        headers={"Authorization": f"Bearer {served['key']}"},
    )
    assert listed.status_code == 200 and listed.json()["totalResults"] == 0


def test_a_chunked_body_over_the_limit_is_a_scim_413(served):
    status, headers, body = exchange(
        served["base"], scim_post(served, chunked(b" " * (wsgi.CHUNKED_BODY_MAX + 1), 65536))
    )
    assert (status, headers["content-type"]) == (413, "application/scim+json")
    assert json.loads(body)["status"] == "413"


def test_the_chunked_limit_holds_every_body_a_view_reads():
    assert wsgi.CHUNKED_BODY_MAX >= scim_views.MAX_BODY
    assert wsgi.CHUNKED_BODY_MAX >= settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_forwarding_headers_mean_nothing_unless_orgwarden_is_behind_a_proxy(base):
    """Served without ``ORGWARDEN_BEHIND_PROXY``, a client's ``X-Forwarded-Proto`` or ``SCRIPT_NAME``
    changes nothing. gunicorn trusted them from 127.0.0.1 (and from any client of a unix socket),
    where the proxy that passes on what its clients send usually is."""
    host = urlsplit(base).netloc
    for header in ("X-Forwarded-Proto: https", "X-Forwarded-Ssl: on", "X-Forwarded-Protocol: ssl"):
        request = f"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: {host}\r\n{header}\r\n\r\n"
        status, _headers, body = exchange(base, request.encode())
        assert (status, json.loads(body)["token_endpoint"]) == (200, f"{base}/oauth2/token/"), header
    request = f"GET /x/ HTTP/1.1\r\nHost: {host}\r\nSCRIPT_NAME: /x\r\n\r\n"
    status, headers, _body = exchange(base, request.encode())
    assert status == 404 and "location" not in headers


def test_behind_a_proxy_its_x_forwarded_proto_counts(tmp_path, migrated):
    with serving(tmp_path, migrated=migrated, ORGWARDEN_BEHIND_PROXY="true") as (url, _log):
        host = urlsplit(url).netloc
        head = f"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: {host}\r\n"
        status, _headers, body = exchange(url, f"{head}X-Forwarded-Proto: https\r\n\r\n".encode())
    # The endpoints follow the request (the issuer is ORGWARDEN_BASE_URL, whatever the request).
    assert (status, json.loads(body)["token_endpoint"]) == (200, f"https://{host}/oauth2/token/")
