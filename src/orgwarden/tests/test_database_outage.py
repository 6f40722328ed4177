"""The database out of reach: 503 with ``Retry-After`` in each caller's format, then service again.

Each outage is a real one for the suite's database: on PostgreSQL the server's port refuses
connections (in-process) or a relay between ``orgwarden serve`` and PostgreSQL is cut under open
connections (``testing.relay``); on SQLite the file cannot be opened (in-process) or its write lock
is held past the busy timeout by another process (``orgwarden serve``).
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from django.db import OperationalError, connection
from psycopg import errors as pg_errors

from orgwarden.console.views.setup import setup_token_create
from orgwarden.db import outage
from orgwarden.db.outage import database_unavailable
from orgwarden.orgs.models import Organization
from orgwarden.testing.relay import Relay
from orgwarden.testing.serve import Migrated, serving
from orgwarden.testing.wsgi import wsgi_call
from orgwarden.wsgi import OrgwardenWSGIHandler

SETUP_FORM = {
    "email": "founder@example.com",
    "display_name": "Grace Hopper",
    "password": "a long and unusual passphrase",
    "org_name": "Acme Inc",
}


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def raised(call) -> BaseException:
    try:
        call()
    except BaseException as exc:
        return exc
    raise AssertionError("it did not raise")


def test_an_unreachable_or_locked_database_is_told_from_a_defect(tmp_path):
    path = tmp_path / "db.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    locked = raised(lambda: waiter.execute("BEGIN IMMEDIATE"))
    no_table = raised(lambda: waiter.execute("SELECT * FROM missing"))
    unopenable = raised(lambda: sqlite3.connect(tmp_path / "no-such-dir" / "db.sqlite3").execute("SELECT 1"))
    holder.execute("ROLLBACK")
    holder.close()
    waiter.close()
    with refusing_port() as port:
        refused = raised(
            lambda: psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/x", connect_timeout=5)
        )
    assert "database is locked" in str(locked) and "unable to open" in str(unopenable)

    wrapped = OperationalError(str(refused))
    wrapped.__cause__ = refused  # Django raises its own class from the driver's
    for exc in [locked, unopenable, refused, wrapped]:
        assert database_unavailable(exc), exc
    # PostgreSQL's own refusals, by SQLSTATE (psycopg's classes for them)
    for cls in [pg_errors.AdminShutdown, pg_errors.CannotConnectNow, pg_errors.TooManyConnections]:
        assert database_unavailable(cls("server says no")), cls
    # … and a transaction it rolled back to break a deadlock or a serialization conflict: send it again
    for cls in [pg_errors.DeadlockDetected, pg_errors.SerializationFailure]:
        assert database_unavailable(cls("rolled back, retry")), cls
    for cls in [pg_errors.QueryCanceled, pg_errors.UndefinedTable, pg_errors.UniqueViolation]:
        assert not database_unavailable(cls("a defect or a bad request")), cls
    assert not database_unavailable(no_table)
    try:
        try:
            raise refused
        except psycopg.OperationalError:
            raise KeyError("a defect of its own, met while handling the outage") from None
    except KeyError as exc:
        assert exc.__context__ is refused
        assert not database_unavailable(exc)
    assert not database_unavailable(ValueError("not a database error"))
    assert not database_unavailable(None)


@contextmanager
def database_unreachable(tmp_path: Path) -> Iterator[None]:
    """The suite's database is down for the duration: PostgreSQL's port refuses connections, or
    SQLite's file can't be opened. Django's next connection attempt meets it."""
    saved = dict(connection.settings_dict)
    connection.close()
    with refusing_port() as port:
        if connection.vendor == "postgresql":
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(port))
        else:
            connection.settings_dict["NAME"] = str(tmp_path / "no-such-dir" / "db.sqlite3")
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


def ask(app, path: str, *, method: str = "GET", body: bytes = b"", **meta: str) -> tuple[int, dict, bytes]:
    status, headers, content = wsgi_call(app, path, method=method, body=body, **meta)
    return int(status.split()[0]), dict(headers), content


@pytest.mark.django_db(transaction=True)
def test_while_the_database_is_down_every_caller_gets_a_503_in_its_format_then_service(tmp_path):
    app = OrgwardenWSGIHandler()  # what `orgwarden serve` runs, the SCIM and introspection lanes too
    bearer = {"HTTP_AUTHORIZATION": "Bearer owk_nosuchkey"}
    basic = {"HTTP_AUTHORIZATION": "Basic bm9zdWNoc2l0ZTpvd2NzX3g="}  # nosuchsite:owcs_x
    requests = {
        "scim": dict(path="/scim/directory/dir_x/Users", **bearer),
        "api": dict(path="/api/admin/v1/orgs", **bearer),
        "introspect": dict(path="/oauth2/introspect", method="POST", body=b"token=owt_x", **basic),
        "token": dict(
            path="/oauth2/token/", method="POST", body=b"grant_type=authorization_code&code=x", **basic
        ),
        "page": dict(path=f"/setup/{setup_token_create()}"),
    }

    with database_unreachable(tmp_path):
        down = {name: ask(app, **request) for name, request in requests.items()}
        ready_down = ask(app, "/readyz")
        alive = ask(app, "/healthz")

    for name, (status, headers, _) in down.items():
        assert status == 503, name
        assert headers["Retry-After"] == str(outage.RETRY_AFTER_SECONDS), name
    status, headers, content = down["scim"]
    assert headers["Content-Type"] == "application/scim+json"
    assert json.loads(content) == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "503",
        "detail": outage.MESSAGE,
    }
    assert json.loads(down["api"][2]) == {"code": "unavailable", "message": outage.MESSAGE}
    for name in ["introspect", "token"]:
        assert json.loads(down[name][2]) == {
            "error": "temporarily_unavailable",
            "error_description": outage.MESSAGE,
        }
        assert down[name][1]["Cache-Control"] == "no-store"
    assert down["page"][1]["Content-Type"].startswith("text/html")
    assert b"Temporarily unavailable" in down["page"][2] and b"Try again in a few seconds" in down["page"][2]

    # For a load balancer: alive, not ready.
    assert alive[0] == 200 and alive[2] == b"ok"
    assert ready_down[0] == 503 and ready_down[2] == b"database unavailable"
    assert ready_down[1]["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)

    # The database is back: the same handler serves the same requests, no restart.
    up = {name: ask(app, **request)[0] for name, request in requests.items()}
    assert up == {"scim": 401, "api": 401, "introspect": 401, "token": 401, "page": 200}
    assert ask(app, "/readyz")[::2] == (200, b"ok")


@pytest.mark.django_db
@pytest.mark.usefixtures("keep_the_test_connection")
def test_a_defect_is_still_a_500_in_the_callers_format(monkeypatch):
    """Not every database error is an outage: a missing table is a defect, and says so (500)."""
    from orgwarden.scim import selectors

    def broken(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(selectors, "directory_for_key", broken)
    status, headers, content = ask(
        OrgwardenWSGIHandler(), "/scim/directory/dir_x/Users", HTTP_AUTHORIZATION="Bearer owk_x"
    )
    assert status == 500 and "Retry-After" not in headers
    assert json.loads(content)["status"] == "500" and headers["Content-Type"] == "application/scim+json"


# --- through a real `orgwarden serve` -------------------------------------------------------------


def _setup_link(log: Path, base: str) -> str:
    found = re.search(rf"{re.escape(base)}/setup/\S+", log.read_text())
    assert found, log.read_text()
    return found.group(0)


@contextmanager
def _served_outage(tmp_path: Path, migrated: Migrated) -> Iterator[tuple[str, Path, object, object]]:
    """``orgwarden serve`` on a database of the suite's kind, with the means to take it away and
    give it back: yields the base URL, the log, ``down()`` and ``up()``."""
    if connection.vendor == "sqlite":  # the write lock, held by another process's transaction
        with serving(tmp_path, migrated=migrated) as (base, log):
            holder = sqlite3.connect(tmp_path / "data" / "orgwarden.sqlite3", isolation_level=None)
            try:
                yield base, log, lambda: holder.execute("BEGIN IMMEDIATE"), lambda: holder.execute("ROLLBACK")
            finally:
                holder.close()
        return
    params = connection.get_connection_params()
    host, port = params.get("host") or "127.0.0.1", int(params.get("port") or 5432)
    name = f"{connection.settings_dict['NAME']}_outage"
    admin = f"postgresql://{params.get('user') or 'postgres'}@{host}:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        pg.execute(f'CREATE DATABASE "{name}"')
    migrated.install(tmp_path, ORGWARDEN_DATABASE_URL=f"{admin.rpartition('/')[0]}/{name}")
    try:
        with Relay((host, port)) as relay:
            url = f"postgresql://{params.get('user') or 'postgres'}@127.0.0.1:{relay.port}/{name}"
            with serving(tmp_path, ORGWARDEN_DATABASE_URL=url) as (base, log):
                yield base, log, relay.cut, relay.restore
    finally:
        with psycopg.connect(admin, autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db
def test_orgwarden_serve_answers_503_while_its_database_is_away_and_recovers(
    tmp_path, chromium_browser, migrated
):
    """The whole HTTP stack (gunicorn, the WSGI lanes) and a browser: the setup form submitted while
    the database is away (PostgreSQL cut off under open connections; SQLite's write lock held past
    the 20-second busy timeout) shows the 503 page and creates nothing; a SCIM request gets SCIM's
    503 (PostgreSQL: a read; SQLite reads go on during a write lock). Once it is back, "Try again"
    and the same form set the installation up."""
    with _served_outage(tmp_path, migrated) as (base, log, down, up):
        context = chromium_browser.new_context(base_url=base)
        context.set_default_timeout(30_000)
        page = context.new_page()
        try:
            link = _setup_link(log, base)
            page.goto(link)
            page.get_by_label("Your work email").fill(SETUP_FORM["email"])
            page.get_by_label("Full name").fill(SETUP_FORM["display_name"])
            page.get_by_label("Password").fill(SETUP_FORM["password"])
            page.get_by_label("Organization name").fill(SETUP_FORM["org_name"])

            down()
            with page.expect_response(lambda r: r.request.method == "POST") as posted:
                page.get_by_role("button", name=re.compile("create", re.I)).click()
            if connection.vendor == "postgresql":
                scim = httpx.get(f"{base}/scim/directory/dir_x/Users", headers={"Authorization": "Bearer x"})
                assert scim.status_code == 503 and scim.json()["status"] == "503"
                assert scim.headers["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
            up()

            refused = posted.value
            assert refused.status == 503
            assert refused.headers["retry-after"] == str(outage.RETRY_AFTER_SECONDS)
            assert page.get_by_role("heading", name="Temporarily unavailable").is_visible()

            page.get_by_role("link", name="Try again").click()  # the setup form again: nothing was set up
            page.get_by_label("Your work email").fill(SETUP_FORM["email"])
            page.get_by_label("Full name").fill(SETUP_FORM["display_name"])
            page.get_by_label("Password").fill(SETUP_FORM["password"])
            page.get_by_label("Organization name").fill(SETUP_FORM["org_name"])
            page.get_by_role("button", name=re.compile("create", re.I)).click()
            page.get_by_text("Acme Inc is ready").wait_for()
            assert httpx.get(link).status_code == 410  # set up once
        finally:
            context.close()
    assert "Service Unavailable: /setup/" in log.read_text()  # logged for the operator
    assert not Organization.objects.exists()  # the served database was not the suite's


@pytest.mark.django_db(transaction=True)
def test_while_redis_is_down_readyz_says_so_and_callers_get_a_503(org_admin):
    """With ORGWARDEN_REDIS_URL the shared cache (throttles, rate limits, one-time values) is
    Redis: every sign-in and API call needs it. Down, it made each such request a 500 while
    /readyz, which read only the database, told the load balancer all was well."""
    from django.test import override_settings

    from orgwarden.tokens.services import api_key_create

    _key, value = api_key_create(org=org_admin.org, actor=org_admin.account, name="script")
    app = OrgwardenWSGIHandler()
    with refusing_port() as port:
        redis = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/0",
            }
        }
        with override_settings(CACHES=redis):
            api = ask(app, "/api/admin/v1/orgs", HTTP_AUTHORIZATION=f"Bearer {value}")
            ready = ask(app, "/readyz")
    assert (api[0], json.loads(api[2])) == (503, {"code": "unavailable", "message": outage.MESSAGE})
    assert ready[0] == 503 and ready[2] == b"cache unavailable"
    assert ready[1]["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
    assert ask(app, "/readyz")[::2] == (200, b"ok")  # the database cache again: ready
    assert ask(app, "/api/admin/v1/orgs", HTTP_AUTHORIZATION=f"Bearer {value}")[0] == 200


def test_a_command_that_cannot_reach_redis_says_so_in_one_line(tmp_path):
    import subprocess
    import sys

    from orgwarden.testing.serve import clean_env

    with refusing_port() as port:
        result = subprocess.run(
            [sys.executable, "-m", "orgwarden.cli", "daily"],
            env=clean_env(tmp_path, ORGWARDEN_REDIS_URL=f"redis://127.0.0.1:{port}/0"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("orgwarden: Redis can't be reached (ORGWARDEN_REDIS_URL): ") and "refused" in line
