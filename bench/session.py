"""Authenticated console requests per second with session-limit enforcement on and off.

Prints ONE JSON line. What it does, all on loopback:

1. creates a temporary data directory (SQLite), migrates it, creates an organization whose admin is
   a MANAGED account (so its policy's idle and absolute limits apply: 60 / 600 minutes), and one
   signed-in session per client thread, written straight into the session store;
2. starts two ``orgwarden serve`` (gunicorn, 2 sync workers each) on free ports in 8830-8850 on
   the same data: one with ``ORGWARDEN_SESSION_LIMITS=true``, one with ``false`` (the middleware
   is not loaded at all);
3. 2 client threads GET the org's overview page (``/admin/o/<org_id>/``) with their session cookie,
   expecting a 200, in ``SEGMENT``-second turns alternating between the two servers (on, off, off,
   on, on, off …) for ``DURATION`` x ``ROUNDS`` seconds each: the machine is shared, and short
   interleaved turns make a drift of its load hit both sides alike (the idle server's workers
   just wait in ``accept``);
4. in-process, counts the SQL queries of the same request with and without the middleware
   (``CaptureQueriesContext``), after a first request has stored the limits in the session.

``ratio`` is requests per second with enforcement over without (target >= 0.9);
``queries_added`` is what enforcement adds per request after the first (target <= 1: the one cache
read of the policy generation, which the database cache backend answers with one SELECT).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import _harness  # bench/ is the script's directory, so it is on sys.path
import httpx
from _harness import free_port, log, orgwarden, serve_process, stop, wait_healthy

DURATION = float(os.environ.get("BENCH_DURATION", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
SEGMENT = float(os.environ.get("BENCH_SEGMENT", "1"))  # seconds per on/off turn
CLIENTS = 2
WORKERS = 2
MAX_REQUESTS_PER_CLIENT = 10_000_000
MIDDLEWARE = "orgwarden.policies.middleware.SessionLimitMiddleware"


def server_env(data_dir: Path, base: str, *, limits: bool) -> dict[str, str]:
    return _harness.server_env(
        data_dir,
        base,
        workers=WORKERS,
        ORGWARDEN_SESSION_LIMITS="true" if limits else "false",
        ORGWARDEN_SECRET_KEY="bench-secret-key-long-enough-for-django-0123456789",
    )


SETUP = """
import json, time
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from orgwarden.accounts.services import account_create
from orgwarden.accounts.session_store import SessionStore
from orgwarden.audit.services import Actor
from orgwarden.orgs.services import org_create
from orgwarden.orgs.services.claims import account_claim
from orgwarden.policies.models import AuthenticationPolicy

admin = account_create(email="admin@bench.test", display_name="Bench Admin", password=None,
                       email_verified=True, via="bench")
org = org_create(creator=admin, name="Bench org")
account_claim(org=org, account=admin, domain=None, actor=Actor.system())
AuthenticationPolicy.objects.filter(org=org).update(idle_session_minutes=60, absolute_session_minutes=600)
keys = []
for _ in range(CLIENTS):
    store = SessionStore()
    store[SESSION_KEY] = str(admin.pk)
    store[BACKEND_SESSION_KEY] = "orgwarden.accounts.backends.AccountBackend"
    store[HASH_SESSION_KEY] = admin.get_session_auth_hash()
    store["_auth_at"] = time.time()
    store.create()
    keys.append(store.session_key)
print("BENCH" + json.dumps({"org_id": org.org_id, "sessions": keys}))
"""


def prepare(env: dict[str, str]) -> dict:
    orgwarden("migrate", "--noinput", "-v", "0", env=env)
    orgwarden("createcachetable", env=env)
    out = orgwarden("shell", "-c", SETUP.replace("CLIENTS", str(CLIENTS)), env=env, capture=True)
    line = next(line for line in out.splitlines() if line.startswith("BENCH"))
    return json.loads(line[len("BENCH") :])


def client_loop(base, path, session_key, deadline, timings, failures) -> None:
    cookies = {"orgwarden_session": session_key}
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False, cookies=cookies) as client:
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline:
                break
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            if response.status_code == 200:
                timings.append(elapsed)
            else:
                failures.append(response.status_code)


def start_server(data_dir: Path, port: int, *, limits: bool) -> subprocess.Popen:
    base = f"http://127.0.0.1:{port}"
    server = serve_process(server_env(data_dir, base, limits=limits), port)
    wait_healthy(base, server)
    return server


def segment(
    base: str, path: str, sessions: list[str], seconds: float
) -> tuple[list[float], list[int], float]:
    """``CLIENTS`` threads GET ``path`` for ``seconds``; returns timings, failures and the elapsed time."""
    timings: list[float] = []
    failures: list[int] = []
    started = time.monotonic()
    deadline = started + seconds
    threads = [
        threading.Thread(target=client_loop, args=(base, path, key, deadline, timings, failures))
        for key in sessions
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings, failures, time.monotonic() - started


def count_queries(data_dir: Path, base: str, setup: dict) -> dict[str, int]:
    """In-process: queries of one overview request with and without the middleware (after the first)."""
    os.environ.update(server_env(data_dir, base, limits=True))
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    path = f"/admin/o/{setup['org_id']}/"

    def measure() -> int:
        client = Client(HTTP_HOST="127.0.0.1")
        client.cookies["orgwarden_session"] = setup["sessions"][0]
        assert client.get(path).status_code == 200
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured.captured_queries)

    with_limits = measure()
    with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != MIDDLEWARE]):
        without = measure()
    return {"queries_with": with_limits, "queries_without": without, "queries_added": with_limits - without}


def summary(timings: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "n": len(timings),
        "per_second": round(len(timings) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="orgwarden-bench-") as tmp:
        data_dir = Path(tmp)
        ports = {True: free_port(8830, 8850)}
        with socket.socket() as hold:  # keep the first port taken while choosing the second
            hold.bind(("127.0.0.1", ports[True]))
            ports[False] = free_port(8830, 8850)
        bases = {limits: f"http://127.0.0.1:{port}" for limits, port in ports.items()}
        log(f"preparing {tmp}")
        setup = prepare(server_env(data_dir, bases[True], limits=True))
        path = f"/admin/o/{setup['org_id']}/"
        servers = {limits: start_server(data_dir, ports[limits], limits=limits) for limits in (True, False)}
        runs: dict[bool, tuple[list[float], float]] = {True: ([], 0.0), False: ([], 0.0)}
        try:
            for limits in (True, False):  # warm up: the first request stores the limits in the session
                segment(bases[limits], path, setup["sessions"], 1.0)
            segments = max(2, int(DURATION * ROUNDS * 2 / SEGMENT))
            log(f"{segments} segments of {SEGMENT} s, alternating limits on / off")
            for index in range(segments):
                limits = index % 2 == 0 if (index // 2) % 2 == 0 else index % 2 == 1
                timings, failures, elapsed = segment(bases[limits], path, setup["sessions"], SEGMENT)
                if failures or not timings:
                    raise SystemExit(
                        f"{len(failures)} requests failed ({sorted(set(failures))}), {len(timings)} ok"
                    )
                done, total = runs[limits]
                runs[limits] = (done + timings, total + elapsed)
        finally:
            for server in servers.values():
                stop(server)
        queries = count_queries(data_dir, bases[True], setup)
    on, off = summary(*runs[True]), summary(*runs[False])
    result = {
        "operation": "console_overview_authenticated",
        "n": on["n"],
        "per_second": on["per_second"],
        "p50_ms": on["p50_ms"],
        "p99_ms": on["p99_ms"],
        "database": "sqlite",
        "workers": WORKERS,
        "clients": CLIENTS,
        "duration_s": round(runs[True][1], 1),
        "limits_off": off,
        "ratio": round(on["per_second"] / off["per_second"], 3),
        **queries,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
