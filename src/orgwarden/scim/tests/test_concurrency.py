"""An identity provider's concurrent provisioning, through a real ``orgwarden serve`` with 2 workers.

Okta and Entra ID send several requests at once. Six clients create, update (Okta's path-less
``replace`` of ``active``, and back), replace and delete the same users, and add the same users to
the same groups in different orders, replace and delete those groups: the pattern in which two
transactions each hold a lock the other waits for. No answer may be a 500 — a deadlock or a
serialization failure on PostgreSQL is a moment to retry (503 with ``Retry-After``), not a defect —
every answer is in SCIM's format, and what is read back at the end holds together.

On PostgreSQL, a second session makes real lock cycles with a request, in a chosen order: a request
PostgreSQL rolls back to break one is a SCIM 503 to retry, and an IdP's update locks a person's rows
in the order an admin's deactivation in the console does, so the two never make a cycle.
On SQLite, which has one writer and no row locks, the same two tests have a second connection
hold its write lock: past the request's (shortened) busy timeout the request is a 503 to retry;
let go within it, the request goes on.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from django.db import connection
from psycopg import sql

from orgwarden.accounts.models import Account
from orgwarden.db import outage
from orgwarden.orgs.models import OrgUser
from orgwarden.scim import services
from orgwarden.scim.models import ScimUser
from orgwarden.testing.serve import clean_env, serving, wait_until
from orgwarden.tests.test_backup import databases
from orgwarden.tests.test_database_outage import ask
from orgwarden.tests.test_http_edges import SETUP
from orgwarden.wsgi import OrgwardenWSGIHandler

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
CLIENTS = 6
OPERATIONS = 40  # per client, after the creates
USERS = [f"person{i}@edge.test" for i in range(8)]
GROUPS = [f"Team {i}" for i in range(4)]
# What an IdP may be answered while others change the same users and groups: done, created, gone
# (deleted by another client), taken (created by another client), or "try again" — never a 500.
EXPECTED = {200, 201, 204, 404, 409, 503}


class Idp:
    """One client of the identity provider: its own connection, every answer checked and counted."""

    def __init__(self, served: dict, seed: int) -> None:
        self.http = httpx.Client(
            base_url=served["base"] + served["users"].removesuffix("/Users"),
            headers={"Authorization": f"Bearer {served['key']}", "Content-Type": "application/scim+json"},
            timeout=60,
        )
        self.random = random.Random(seed)
        self.statuses: Counter[int] = Counter()
        self.faults: list[str] = []

    def send(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        answer = self.http.request(method, path, content=json.dumps(body) if body is not None else None)
        self.statuses[answer.status_code] += 1
        what = f"{method} {path} -> {answer.status_code}: {answer.text[:300]}"
        if answer.status_code not in EXPECTED:
            self.faults.append(what)
        elif answer.status_code != 204:
            if answer.headers.get("content-type") != "application/scim+json":
                self.faults.append(f"not SCIM's format: {what}")
            elif answer.status_code >= 400:
                error = answer.json()
                if error.get("schemas") != [ERROR_SCHEMA] or error.get("status") != str(answer.status_code):
                    self.faults.append(f"not SCIM's error schema: {what}")
                if answer.status_code == 503 and not answer.headers.get("retry-after"):
                    self.faults.append(f"a 503 without Retry-After: {what}")
        return answer


def user_body(name: str, *, title: str = "", active: bool = True) -> dict:
    return {
        "schemas": [USER_SCHEMA],
        "userName": name,
        "name": {"givenName": name.split("@")[0], "familyName": "Edge"},
        "emails": [{"value": name, "primary": True, "type": "work"}],
        "title": title,
        "active": active,
    }


def group_body(name: str, members: list[str]) -> dict:
    return {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": m} for m in members]}


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def create_all(idp: Idp) -> None:
    """Every client creates every user and group, each in its own order: one wins, the others 409."""
    for name in idp.random.sample(USERS, len(USERS)):
        idp.send("POST", "/Users", user_body(name))
    for name in idp.random.sample(GROUPS, len(GROUPS)):
        idp.send("POST", "/Groups", group_body(name, []))


def storm(idp: Idp, users: list[str], groups: dict[str, str], guard: threading.Lock) -> None:
    """``OPERATIONS`` random writes on the shared users and groups (``groups``: name -> id, as last
    created; a deleted group is created again by the next client to pick it)."""
    for _ in range(OPERATIONS):
        user = idp.random.choice(users)
        name = idp.random.choice(GROUPS)
        with guard:
            group = groups.get(name)
        some = idp.random.sample(users, idp.random.randint(2, 5))  # the same users, in any order
        kind = idp.random.choice(
            [
                "deactivate",
                "reactivate",
                "put_user",
                "delete_user",
                "add",
                "remove",
                "put_group",
                "delete_group",
            ]
        )
        if kind in ("deactivate", "reactivate"):  # Okta's path-less replace
            value = {"active": kind == "reactivate"}
            idp.send("PATCH", f"/Users/{user}", patch({"op": "replace", "value": value}))
        elif kind == "put_user":
            name_of = idp.send("GET", f"/Users/{user}").json()["userName"]
            idp.send("PUT", f"/Users/{user}", user_body(name_of, title=f"t{idp.random.randint(0, 9)}"))
        elif kind == "delete_user":
            idp.send("DELETE", f"/Users/{user}")
        elif group is None:  # deleted: create it again, with members
            created = idp.send("POST", "/Groups", group_body(name, some))
            if created.status_code == 201:
                with guard:
                    groups[name] = created.json()["id"]
        elif kind == "add":
            idp.send(
                "PATCH",
                f"/Groups/{group}",
                patch({"op": "add", "path": "members", "value": [{"value": u} for u in some]}),
            )
        elif kind == "remove":
            for member in some[:2]:
                idp.send(
                    "PATCH",
                    f"/Groups/{group}",
                    patch({"op": "remove", "path": f'members[value eq "{member}"]'}),
                )
        elif kind == "put_group":
            idp.send("PUT", f"/Groups/{group}", group_body(name, some))
        else:
            if idp.send("DELETE", f"/Groups/{group}").status_code == 204:
                with guard:
                    if groups.get(name) == group:
                        del groups[name]


def read_all(idp: Idp, resource: str) -> list[dict]:
    listed = idp.send("GET", f"/{resource}?count=100")
    assert listed.status_code == 200, listed.text
    return listed.json()["Resources"]


@pytest.mark.django_db
def test_concurrent_provisioning_never_answers_500_and_reads_back_whole(tmp_path, migrated):
    with (
        databases(1) as (database,),
        serving(tmp_path, migrated=migrated, workers=2, **database) as (base, log),
    ):
        made = subprocess.run(
            [sys.executable, "-c", SETUP],
            env=clean_env(tmp_path, **database),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert made.returncode == 0, made.stderr
        served = {"base": base, **json.loads(made.stdout.strip().splitlines()[-1])}
        idps = [Idp(served, seed) for seed in range(CLIENTS)]

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(create_all, idps))
        reader = idps[0]
        users = sorted(u["id"] for u in read_all(reader, "Users"))
        groups = {g["displayName"]: g["id"] for g in read_all(reader, "Groups")}
        assert len(users) == len(USERS) and sorted(groups) == GROUPS  # each created once
        guard = threading.Lock()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda idp: storm(idp, users, groups, guard), idps))

        statuses = sum((idp.statuses for idp in idps), Counter())
        faults = [fault for idp in idps for fault in idp.faults]
        print("answers by status:", dict(sorted(statuses.items())))
        assert not faults, "\n".join(faults[:10]) + "\n" + log.read_text()[-6000:]

        # What is read back holds together: every member is a user of the directory, each user's
        # groups are the groups it is a member of, and each group last answered deleted is gone.
        final_users = {u["id"]: u for u in read_all(reader, "Users")}
        final_groups = {g["id"]: g for g in read_all(reader, "Groups")}
        assert sorted(final_users) == users
        assert sorted(g["displayName"] for g in final_groups.values()) == sorted(groups)
        assert {g["id"] for g in final_groups.values()} == set(groups.values())
        members = {gid: {m["value"] for m in g.get("members", [])} for gid, g in final_groups.items()}
        assert set().union(*members.values()) <= set(final_users)
        for uid, found in final_users.items():
            assert {g["value"] for g in found.get("groups", [])} == {
                gid for gid, ids in members.items() if uid in ids
            }, found


# --- real lock cycles, inside a request ----------------------------------------------------------------

# PostgreSQL looks for a cycle once per wait, deadlock_timeout after a session began waiting, and
# rolls back the session that finds it. The request waits first, and the cycle closes well within
# its 5 s; the other session would look only 30 s after it began waiting: the request is the victim.
REQUEST_DEADLOCK_TIMEOUT = "5s"
OTHER_DEADLOCK_TIMEOUT = "30s"
LOCK_ROW = sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR UPDATE")


def other_session() -> psycopg.Connection:
    """A second session on the suite's database, as another process's request would hold one."""
    params = connection.settings_dict
    return psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"] or "postgres",
        password=params["PASSWORD"] or None,
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
    )


def deactivation(directory, scim_key: str, user: ScimUser) -> Callable[[], tuple[int, dict, bytes]]:
    """Okta's path-less ``replace`` of ``active: false`` for ``user``, sent through the WSGI handler
    ``orgwarden serve`` runs, in this thread's database session."""
    app = OrgwardenWSGIHandler()
    body = json.dumps(patch({"op": "replace", "value": {"active": False}})).encode()
    return lambda: ask(
        app,
        f"/scim/directory/{directory.directory_id}/Users/{user.scim_id}",
        method="PATCH",
        body=body,
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {scim_key}",
    )


def crossing(
    send: Callable[[], tuple], first: tuple[type, int], then: tuple[type, int]
) -> tuple[tuple, bool]:
    """``send()``'s answer while another session holds the row ``first`` (a model and a primary key)
    and, once the request waits for it, asks for the row ``then`` too; and whether it asked. The
    other session lets both go at the end."""
    with connection.cursor() as cursor:  # the session the request runs in (in this thread)
        cursor.execute(f"SET deadlock_timeout = '{REQUEST_DEADLOCK_TIMEOUT}'")
        cursor.execute("SELECT pg_backend_pid()")
        request_pid = cursor.fetchone()[0]
    other = other_session()
    other.execute(f"SET deadlock_timeout = '{OTHER_DEADLOCK_TIMEOUT}'")
    (first_model, first_pk), (then_model, then_pk) = first, then
    other.execute(LOCK_ROW.format(sql.Identifier(first_model._meta.db_table)), [first_pk])
    asked: list[bool] = []

    def ask_for_then() -> None:
        def request_waits_on_other() -> bool:
            blocking = other.execute("SELECT pg_blocking_pids(%s)", [request_pid]).fetchone()[0]
            return other.info.backend_pid in blocking

        if wait_until(request_waits_on_other, 30):
            # Waits while the request holds that row, if it does.
            other.execute(LOCK_ROW.format(sql.Identifier(then_model._meta.db_table)), [then_pk])
            asked.append(True)
        other.rollback()

    try:
        with ThreadPoolExecutor(1) as pool:
            cycle = pool.submit(ask_for_then)
            answer = send()
            cycle.result(timeout=60)
    finally:
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET deadlock_timeout")
    return answer, asked == [True]


# SQLite has one writer at a time and no row locks, so no cycle: what a request may meet there is
# another process's write under way. It waits up to the busy timeout (settings: 20 s), then is
# answered 503 to retry, as PostgreSQL's rolled-back request is.
SQLITE_BUSY_MS = 20_000


def another_writer(send: Callable[[], tuple], *, busy_ms: int, done: threading.Event) -> tuple:
    """``send()``'s answer while another connection holds SQLite's write lock until ``done`` is
    set (or ``send()`` returns), with the request's busy timeout ``busy_ms``."""
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    released = threading.Lock()

    def release() -> None:
        with released:
            if other.in_transaction:
                other.execute("ROLLBACK")

    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
    try:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(lambda: done.wait(60) and release())
            try:
                return send()
            finally:
                done.set()
    finally:
        release()
        other.close()
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")


def provisioned(directory) -> ScimUser:
    return services.scim_user_create(
        directory=directory, data={"schemas": [USER_SCHEMA], "userName": "dee.lock@example.com"}
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("keep_the_test_connection")
def test_a_request_postgresql_rolls_back_to_break_a_deadlock_is_a_scim_503_to_retry(directory, scim_key):
    user = provisioned(directory)
    deactivate = deactivation(directory, scim_key, user)

    if connection.vendor == "postgresql":
        # The other session holds the account's row. The PATCH locks its SCIM record, then waits for
        # the account's row; once it waits, the other session asks for the SCIM record: a cycle.
        (status, headers, content), asked = crossing(
            deactivate, (Account, user.account_id), (ScimUser, user.pk)
        )
        assert asked  # the request waited on the other session, which then waited on it
    else:  # another writer holds SQLite past the request's (shortened) busy timeout
        status, headers, content = another_writer(deactivate, busy_ms=200, done=threading.Event())
    assert status == 503, content
    assert headers["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
    assert headers["Content-Type"] == "application/scim+json"
    assert json.loads(content) == {
        "schemas": [ERROR_SCHEMA],
        "status": "503",
        "detail": outage.MESSAGE,
    }
    # Nothing of it was applied, and the same request, sent again, is done.
    user.refresh_from_db()
    assert user.active is True and user.account.status != Account.Status.DEACTIVATED
    again, _, body = deactivate()
    assert again == 200 and json.loads(body)["active"] is False, body
    user.refresh_from_db()
    assert user.account.status == Account.Status.DEACTIVATED


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("keep_the_test_connection")
def test_an_idp_update_locks_a_person_in_the_consoles_order_so_an_admin_never_deadlocks_it(
    directory, scim_key
):
    """An admin deactivating someone in the console (``orgs.services.users._org_user``) locks the
    person's org user row, then the account. The IdP's update of the same person takes them in the
    same order: the other session here, holding the user row as the console does and then asking
    for the account, gets it at once, and the request then goes on. (Taken the other way round, the
    two each held what the other needed next: a deadlock, one of them rolled back.)"""
    user = provisioned(directory)
    org_user = OrgUser.objects.get(org=directory.org, account_id=user.account_id)

    if connection.vendor == "postgresql":
        (status, _headers, content), asked = crossing(
            deactivation(directory, scim_key, user), (OrgUser, org_user.pk), (Account, user.account_id)
        )
        assert asked
    else:  # SQLite: the request waits for the admin's write under way, then goes on
        done = threading.Event()
        threading.Timer(0.5, done.set).start()
        status, _headers, content = another_writer(
            deactivation(directory, scim_key, user), busy_ms=SQLITE_BUSY_MS, done=done
        )
    assert status == 200 and json.loads(content)["active"] is False, content
    user.refresh_from_db()
    assert user.account.status == Account.Status.DEACTIVATED
