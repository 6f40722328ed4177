"""``ORGWARDEN_WORKER_TIMEOUT`` on a real ``orgwarden serve``: gunicorn's arbiter ends a worker whose
request sends nothing for longer than it, while the audit log's CSV export, streaming to a client
that reads it slowly, goes on for longer than the timeout and arrives whole (``orgwarden.worker``
beats as the stream hands out its parts)."""

from __future__ import annotations

import csv
import io
import re
import socket
import sqlite3
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from django.db import connection

from orgwarden import worker
from orgwarden.testing.serve import clean_env, serving, wait_until
from orgwarden.tests.test_backup import SETUP_FORM, databases, orgwarden

TIMEOUT = 3  # seconds: ORGWARDEN_WORKER_TIMEOUT of the server under test
EVENTS = 6000  # ~2 KB each: a CSV larger than the sockets' buffers, so the server waits on the reader


def set_up_org(base: str, log: Path) -> tuple[httpx.Client, str]:
    """The first organization, through the setup form: the signed-in browser and the org's id."""
    link = re.search(rf"{re.escape(base)}/setup/\S+", log.read_text()).group(0)
    browser = httpx.Client(timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get(link).text).group(1)
    done = browser.post(link, data={**SETUP_FORM, "csrfmiddlewaretoken": token}, headers={"Referer": link})
    assert done.status_code == 302, done.text[:500]
    return browser, re.search(r"/admin/o/([^/]+)/", done.headers["location"]).group(1)


def seed_events(env: dict[str, str], org_id: str) -> None:
    """``EVENTS`` audit events in the org's log (test data, written as rows: the app never bulk-writes
    its log, and the test needs a long one quickly)."""
    code = (
        "from django.utils import timezone\n"
        "from orgwarden.audit.models import AuditEvent\n"
        "now = timezone.now()\n"
        f"AuditEvent.objects.bulk_create([AuditEvent(org_id={org_id!r}, occurred_at=now,"
        " action='org:domain:verified', actor_type='system', actor_name='domain re-check',"
        " user_agent='u' * 500, details={'note': 'n' * 1500, 'n': i})"
        f" for i in range({EVENTS})], batch_size=1000)\n"
    )
    done = orgwarden("shell", "-c", code, env=env)
    assert done.returncode == 0, done.stderr


def read_slowly(base: str, path: str, cookies: dict[str, str], *, seconds: float) -> bytes:
    """GET ``path`` as a client on a slow link: a small receive window, 8 KB at a time, paced so that
    the body takes at least about ``seconds`` to arrive. Returns the whole answer, head and body."""
    host, port = base.removeprefix("http://").split(":")
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # before connect: the window stays small
    client.connect((host, int(port)))
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    # HTTP/1.0: the body as sent, not in chunks, and the connection closed at its end
    client.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n\r\n".encode())
    received = []
    pause = seconds / 1500  # ~12 MB in 8 KB reads: some 1,500 of them
    with client:
        client.settimeout(30)
        while part := client.recv(8192):
            received.append(part)
            time.sleep(pause)  # the slow link: the server must wait for this reader
    return b"".join(received)


def request_time_ms(log: Path, path: str) -> int:
    """How long the server spent on ``path``: the access log line's last field (``…" 1234ms``)."""
    lines = [line for line in log.read_text().splitlines() if f"GET {path} " in line and line.endswith("ms")]
    assert lines, log.read_text()[-3000:]
    return int(lines[-1].rsplit(" ", 1)[1].removesuffix("ms"))


@pytest.mark.django_db
def test_a_streamed_export_outlives_the_worker_timeout_and_a_silent_request_does_not(tmp_path, migrated):
    with (
        databases(1) as (database,),
        serving(tmp_path, migrated=migrated, ORGWARDEN_WORKER_TIMEOUT=str(TIMEOUT), **database) as (
            base,
            log,
        ),
    ):
        browser, org_id = set_up_org(base, log)
        seed_events(clean_env(tmp_path, **database), org_id)
        export = f"/admin/o/{org_id}/audit-log/export.csv"

        answer = read_slowly(base, export, dict(browser.cookies), seconds=4 * TIMEOUT)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b"\r\n")[0].endswith(b" 200 OK"), head
        rows = list(csv.reader(io.StringIO(body.decode())))
        assert rows[0][0] == "id" and {len(row) for row in rows} == {len(rows[0])}  # every row whole
        assert sum(row[-1].startswith('{"n": ') for row in rows) == EVENTS
        assert rows[-1][2] == "account:created", rows[-1][:3]  # the oldest event, the founder's account, last
        assert request_time_ms(log, export) > 2 * TIMEOUT * 1000  # the worker streamed past its timeout
        assert "WORKER TIMEOUT" not in log.read_text()

        # A request that sends nothing for longer than the timeout — the export's audit event waits
        # on another process's write lock — is ended, and its worker replaced.
        if connection.vendor == "sqlite":
            holder = sqlite3.connect(tmp_path / "data" / "orgwarden.sqlite3", isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
        else:
            holder = psycopg.connect(database["ORGWARDEN_DATABASE_URL"])
            holder.execute("LOCK TABLE audit_auditevent IN EXCLUSIVE MODE")
        try:
            try:
                answered = browser.get(f"{base}{export}", timeout=15).status_code
            except httpx.TransportError:
                answered = None
            # gunicorn's 500 when the abort reached Python (psycopg waits in Python); a connection
            # closed without an answer when the worker had to be killed (SQLite waits in C)
            assert answered in (500, None), log.read_text()[-3000:]
            assert "WORKER TIMEOUT" in log.read_text(), log.read_text()[-3000:]
        finally:
            holder.rollback() if connection.vendor == "postgresql" else holder.execute("ROLLBACK")
            holder.close()

        def serves_again() -> bool:  # by a new worker
            try:
                return browser.get(f"{base}/admin/o/{org_id}/", timeout=10).status_code == 200
            except httpx.TransportError:
                return False

        assert wait_until(serves_again, 30), log.read_text()[-3000:]


def test_a_stream_beats_as_it_hands_out_its_parts_and_closes_what_it_wraps(monkeypatch):
    """``worker.beating`` without gunicorn: each part handed out at least ``BEAT_SECONDS`` after the
    last beat beats (here 0: every part); closing the answer closes the application's response; a
    file for ``sendfile`` is handed back as it is."""
    monkeypatch.setattr(worker, "BEAT_SECONDS", 0)
    beats, closed = [], []

    class Response:
        def __iter__(self):
            yield from (b"one", b"two", b"three")

        def close(self):
            closed.append(True)

    class FileWrapper:
        pass

    app = worker.beating(lambda environ, start_response: Response(), lambda: beats.append(True))
    answer = app({"wsgi.file_wrapper": FileWrapper}, None)
    assert [(part, len(beats)) for part in answer] == [(b"one", 1), (b"two", 2), (b"three", 3)]
    answer.close()
    assert closed == [True]

    static = FileWrapper()
    assert (
        worker.beating(lambda environ, start_response: static, beats.append)(
            {"wsgi.file_wrapper": FileWrapper}, None
        )
        is static
    )
