"""How fast could any SCIM create be here? The ceiling beside the peer's create, one JSON line each.

Issue #6 asks for orgwarden's create rate to be at least twice the in-memory peer scim2-server's,
through gunicorn with two workers. ``bench/scim.py`` measures orgwarden's and the peer's creates;
this script measures what bounds them, with the same httpx client and the same user bodies:

- ``http_ceiling_create``: ``POST /Users`` to ``bench/_bare_wsgi_app.py``, an application that does
  no work (reads the body, answers 201 with a fresh id), behind gunicorn with two of the sync
  workers ``orgwarden serve`` runs (``orgwarden.worker.Worker``), one client and then
  ``BENCH_CLIENTS`` clients. Also behind two gthread workers (keep-alive, as the peer is served),
  for comparison. Nothing can create faster through that server on this machine.
- ``scim_create_sequential`` / ``scim_create_concurrent`` of the peer (``bench/scim.py``'s setup).
- ``pg_durable_commit``: one-row autocommit INSERTs on the PostgreSQL server (``synchronous_commit``
  as the server has it): what every durable write to PostgreSQL waits for on this machine's disk,
  whatever the application.
- ``scim_create_in_process`` (SQLite, then PostgreSQL): orgwarden's own create with no HTTP
  server at all: ``POST /Users`` handed straight to orgwarden's WSGI application in one process
  (the middleware, the key check, the service, the provisioning-log line, the commit), after the
  same set-up as ``bench/scim.py``. ``p50_ms`` is the whole call; ``db_p50_ms`` the part of it spent
  in the database driver (every statement and the commit), ``statements`` how many it sends. What
  the application spends beyond the HTTP server, to compare with ``app_budget_ms_for_2x_…``.
- ``scim_ceiling``: the ceiling's rate over the peer's create rate. Below 2, no application behind
  this HTTP server can meet the target on this machine.

Usage: ``python bench/scim_ceiling.py`` (``--skip-in-process``: without the last phase).
Environment: ``BENCH_CEILING_N`` (requests per phase, 5000), ``BENCH_CLIENTS`` (4), ``BENCH_PG_URL``.
Needs scim2-server (in the dev extras).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import _harness
import httpx
from _harness import free_port, stop, wait_answering
from scim import (
    CLIENTS,
    PG_SERVER,
    Target,
    create,
    figures,
    line,
    peer_target,
    populate,
    run_items,
    user_body,
    user_name,
)

N = int(os.environ.get("BENCH_CEILING_N", "5000"))
SERVE_WORKER = "orgwarden.worker.Worker"  # what ``orgwarden serve`` runs: gunicorn's sync worker, subclassed
PG_NAME = "bench_scim_ceiling"


@contextlib.contextmanager
def bare_target(worker_class: str) -> Iterator[Target]:
    port = free_port(8950, 8969)
    threads = ("--threads", str(CLIENTS)) if worker_class == "gthread" else ()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", worker_class),
            *threads,
            *("--no-control-socket", "--bind", f"127.0.0.1:{port}", "_bare_wsgi_app:application"),
        ],
        cwd=Path(__file__).parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_answering(
            lambda: httpx.post(f"{base}/Users", content=b"{}", timeout=2).status_code == 201,
            server,
            "the bare WSGI app",
        )
        name = "sync" if worker_class == SERVE_WORKER else worker_class
        yield Target(f"bare-wsgi-{name}", "none", base, "unused")
    finally:
        stop(server)


def creates(target: Target, clients: int) -> dict:
    prefix = f"ceil{clients}"
    run_items(target, list(range(100)), lambda h, i: create(h, user_name(prefix + "w", i), i), 1)
    samples, wall = run_items(
        target, list(range(N)), lambda h, i: create(h, user_name(prefix, i), i), clients
    )
    return figures(samples, wall)


def pg_commits() -> dict:
    import psycopg

    _harness.pg_database_fresh(PG_SERVER, PG_NAME)
    try:
        with psycopg.connect(f"{PG_SERVER}/{PG_NAME}", autocommit=True) as conn:
            setting = conn.execute("SHOW synchronous_commit").fetchone()[0]
            conn.execute("CREATE TABLE t (id bigserial PRIMARY KEY, v text NOT NULL)")
            samples = []
            began = time.perf_counter()
            for i in range(2000):
                t0 = time.perf_counter()
                conn.execute("INSERT INTO t (v) VALUES (%s)", (f"row{i}",))
                samples.append(time.perf_counter() - t0)
            wall = time.perf_counter() - began
    finally:
        _harness.pg_database_drop(PG_SERVER, PG_NAME)
    return {"synchronous_commit": setting, **figures(samples, wall)}


def in_process(setup_file: str) -> None:
    """(A child with the server's environment.) Set up as ``bench/scim.py`` does, then hand ``N``
    creates straight to orgwarden's WSGI application and print ``scim_create_in_process``."""
    populate(setup_file)  # django.setup(), migrate, the org, its domain, directory and key
    from django.db import connection

    from orgwarden.wsgi import application

    setup = json.loads(Path(setup_file).read_text())
    path = f"/scim/directory/{setup['directory_id']}/Users"
    in_driver = [0.0, 0]  # seconds in the driver, statements

    def timed(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            in_driver[0] += time.perf_counter() - began
            in_driver[1] += 1

    def call(i: int) -> None:
        body = json.dumps(user_body(user_name("inproc", i), i)).encode()
        environ = {
            **{
                "REQUEST_METHOD": "POST",
                "PATH_INFO": path,
                "QUERY_STRING": "",
                "SERVER_PROTOCOL": "HTTP/1.1",
            },
            **{
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "80",
                "HTTP_HOST": "127.0.0.1",
                "REMOTE_ADDR": "127.0.0.1",
            },
            **{"CONTENT_TYPE": "application/scim+json", "CONTENT_LENGTH": str(len(body))},
            **{"HTTP_AUTHORIZATION": f"Bearer {setup['key']}", "wsgi.url_scheme": "http"},
            **{"wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr},
        }
        status = []
        answer = application(environ, lambda s, headers, exc_info=None: status.append(s))
        b"".join(answer)
        answer.close()
        if not status[0].startswith("201"):
            raise RuntimeError(f"in-process create {i}: {status[0]}")

    for i in range(200):  # warm up: imports, the connection, prepared statements
        call(i)
    with connection.execute_wrapper(timed):
        commit = connection._commit

        def timed_commit() -> None:
            began = time.perf_counter()
            try:
                commit()
            finally:
                in_driver[0] += time.perf_counter() - began

        connection._commit = timed_commit  # where Django commits: the driver's own commit()
        total, in_db, statements = [], [], []
        began = time.perf_counter()
        for i in range(200, 200 + N):
            in_driver[:] = [0.0, 0]
            t0 = time.perf_counter()
            call(i)
            total.append(time.perf_counter() - t0)
            in_db.append(in_driver[0])
            statements.append(in_driver[1])
        wall = time.perf_counter() - began
    out = {
        "operation": "scim_create_in_process",
        "server": "orgwarden-wsgi",
        "database": connection.vendor,
        **figures(total, wall),
        "db_p50_ms": round(statistics.median(in_db) * 1000, 3),
        "statements": statistics.median(statements),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out), flush=True)


def in_process_runs() -> dict[str, dict]:
    """``in_process`` on SQLite (a temporary data directory) and on PostgreSQL (``PG_NAME``)."""

    found = {}
    for database in ("sqlite", "postgresql"):
        with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as tmp:
            extra = {}
            if database == "postgresql":
                _harness.pg_database_fresh(PG_SERVER, PG_NAME)
                extra["ORGWARDEN_DATABASE_URL"] = f"{PG_SERVER}/{PG_NAME}"
            env = _harness.server_env(Path(tmp), "http://127.0.0.1", workers=1, **extra)
            try:
                done = subprocess.run(
                    [sys.executable, __file__, "--in-process", str(Path(tmp) / "setup.json")],
                    env=env,
                    check=True,
                    timeout=900,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            finally:
                if database == "postgresql":
                    _harness.pg_database_drop(PG_SERVER, PG_NAME)
            print(done.stdout, end="", flush=True)
            found[database] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--in-process", metavar="SETUP_FILE", help=argparse.SUPPRESS)
    parser.add_argument("--skip-in-process", action="store_true")
    args = parser.parse_args()
    if args.in_process:
        in_process(args.in_process)
        return
    load_start = round(os.getloadavg()[0], 2)
    rates = {}
    for worker_class in (SERVE_WORKER, "gthread"):
        with bare_target(worker_class) as target:
            for clients in (1, CLIENTS):
                stats = creates(target, clients)
                rates[(worker_class, clients)] = stats["per_second"]
                line("http_ceiling_create", target, 0, clients, stats)
    peer_p50 = {}
    with peer_target() as target:
        for clients in (1, CLIENTS):
            stats = creates(target, clients)
            rates[("peer", clients)] = stats["per_second"]
            peer_p50[clients] = stats["p50_ms"]
            operation = "scim_create_sequential" if clients == 1 else "scim_create_concurrent"
            line(operation, target, N, clients, stats)
    commit = pg_commits()
    print(json.dumps({"operation": "pg_durable_commit", "server": "postgresql", **commit}), flush=True)
    app = {} if args.skip_in_process else in_process_runs()

    def over(kind: str, clients: int) -> float:
        return round(rates[(kind, clients)] / rates[("peer", clients)], 2)

    summary = {
        "operation": "scim_ceiling",
        "ratio_sync_ceiling_to_peer_create_sequential": over(SERVE_WORKER, 1),
        "ratio_sync_ceiling_to_peer_create_concurrent": over(SERVE_WORKER, CLIENTS),
        "ratio_gthread_ceiling_to_peer_create_sequential": over("gthread", 1),
        "ratio_gthread_ceiling_to_peer_create_concurrent": over("gthread", CLIENTS),
        # The time a create may spend in the application, beyond the server's own, for 2x the peer.
        "app_budget_ms_for_2x_sequential_sync": round(
            1000 / (2 * rates[("peer", 1)]) - 1000 / rates[(SERVE_WORKER, 1)], 3
        ),
        # One durable PostgreSQL commit against the peer's whole create, round trip included.
        "ratio_pg_commit_p50_to_peer_create_p50": round(commit["p50_ms"] / peer_p50[1], 2),
        # orgwarden's create without any HTTP server: the whole of it, and its database driver's part.
        **{f"in_process_create_p50_ms_{db}": found["p50_ms"] for db, found in app.items()},
        **{f"in_process_create_db_p50_ms_{db}": found["db_p50_ms"] for db, found in app.items()},
        "target_2x_reachable_behind_sync_gunicorn": min(over(SERVE_WORKER, 1), over(SERVE_WORKER, CLIENTS))
        >= 2,
        "load_avg_1m": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
