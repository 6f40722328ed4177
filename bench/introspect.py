"""Token introspection (``POST /oauth2/introspect``) per second through HTTP, on SQLite and PostgreSQL.

Prints ONE JSON line per database. What it does, all on loopback:

1. creates the database (a temporary data directory for SQLite; the PostgreSQL database
   ``bench_introspect``, dropped and created here), migrates it, creates an org, a product site
   with its client secret, ``N_ACCOUNTS`` managed accounts who all have access to the site through
   a group, and ``N_TOKENS`` live user API tokens spread over them (bulk-inserted: value → SHA-256);
2. starts ``orgwarden serve`` (gunicorn, 2 sync workers) on a free port in 8860-8880;
3. checks 200 randomly chosen tokens with httpx (every answer must be ``active`` with
   ``site_access``), then drives the load: with ``wrk`` (Debian package ``wrk``; a C load generator,
   so the two cores are left to the server) ``CLIENTS`` connections introspect randomly chosen tokens
   (HTTP Basic client authentication) for ``DURATION`` seconds after a warm-up; without wrk, or with
   ``BENCH_CLIENT=httpx``, ``CLIENTS`` Python threads with httpx do the same (and take much of the
   CPU themselves). After the run, 200 more answers are checked.

Target: >= 1,500 introspections/s with p99 < 10 ms on a 2-core machine (the load generator shares
the cores). Usage: ``python bench/introspect.py`` (both), ``--only sqlite`` or ``--only postgresql``.
``BENCH_PG_URL`` overrides the PostgreSQL server (default postgresql://postgres@127.0.0.1:5432);
``BENCH_USAGE_FLUSH_SECONDS`` sets the server's ``ORGWARDEN_USAGE_FLUSH_SECONDS`` (to see what the
write-behind batches cost).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _harness  # bench/ is the script's directory, so it is on sys.path
import httpx
from _harness import free_port, log, serve_process, wait_healthy

N_ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "1000"))
N_TOKENS = int(os.environ.get("BENCH_TOKENS", "10000"))
DURATION = float(os.environ.get("BENCH_DURATION", "20"))
WARMUP = 3.0
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
WORKERS = 2
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
PG_NAME = "bench_introspect"
LOAD_CLIENT = os.environ.get("BENCH_CLIENT", "wrk" if shutil.which("wrk") else "httpx")
WRK_SCRIPT = """
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do tokens[#tokens + 1] = line end
local path = os.getenv("BENCH_PATH")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
request = function()
  if path then return wrk.format("GET", path, {}, nil) end
  return wrk.format(nil, "/oauth2/introspect", nil, "token=" .. tokens[math.random(#tokens)])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"n": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d, '
    .. '"error_kinds": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def populate(out_file: str) -> None:
    """Migrate and create the org, site, accounts and tokens; write client and token values."""
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from orgwarden.accounts.ids import new_secret, secret_hash
    from orgwarden.accounts.models import Account
    from orgwarden.accounts.services import account_create
    from orgwarden.orgs.models import GroupMember, OrgUser
    from orgwarden.orgs.services import access, org_create
    from orgwarden.orgs.services.claims import local_directory
    from orgwarden.tokens.introspection import site_credential_create
    from orgwarden.tokens.models import UserApiToken

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    with transaction.atomic():
        admin = account_create(
            email="admin@bench.test", display_name="Admin", password=None, email_verified=True, via="bench"
        )
        org = org_create(creator=admin, name="Bench Corp")
        site = access.site_add(
            org=org, actor=admin, product="jira-software", name="Jira", url="https://jira.bench.test"
        )
        group = access.group_create(org=org, actor=admin, name="jira-users")
        access.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role="user")
        credential, secret = site_credential_create(org=org, actor=admin, site_id=site.site_id)
    directory = local_directory(org)
    with transaction.atomic():
        Account.objects.bulk_create(
            [
                Account(
                    email=f"user{i:05d}@bench.test",
                    display_name=f"User {i}",
                    password="!",
                    email_verified=True,
                )
                for i in range(N_ACCOUNTS)
            ]
        )
        accounts = list(Account.objects.filter(email__endswith="@bench.test").exclude(pk=admin.pk))
        OrgUser.objects.bulk_create(
            [
                OrgUser(org=org, account=a, email=a.email, is_managed=True, directory=directory)
                for a in accounts
            ]
        )
        GroupMember.objects.bulk_create([GroupMember(group=group, account=a) for a in accounts])
        values = [new_secret("owt_") for _ in range(N_TOKENS)]
        expires = timezone.now() + timedelta(days=365)
        UserApiToken.objects.bulk_create(
            [
                UserApiToken(
                    account=accounts[i % len(accounts)],
                    label=f"t{i}",
                    prefix=value[:10],
                    token_hash=secret_hash(value),
                    expires_at=expires,
                )
                for i, value in enumerate(values)
            ],
            batch_size=2000,
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    Path(out_file).write_text(
        json.dumps({"client_id": credential.client_id, "secret": secret, "tokens": values})
    )


def measure(base: str, setup: dict) -> dict:
    auth = (setup["client_id"], setup["secret"])
    tokens = setup["tokens"]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_at = time.monotonic() + WARMUP
    stop_at = start_at + DURATION

    def client() -> None:
        mine: list[float] = []
        rng = random.Random()
        with httpx.Client(base_url=base, auth=auth, timeout=10) as http:
            while True:
                began = time.monotonic()
                if began >= stop_at:
                    break
                answer = http.post("/oauth2/introspect", data={"token": rng.choice(tokens)})
                took = time.monotonic() - began
                body = answer.json()
                if answer.status_code != 200 or not body.get("active") or not body.get("site_access"):
                    with lock:
                        errors.append(f"{answer.status_code} {body}")
                    return
                if began >= start_at:
                    mine.append(took)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DURATION + WARMUP + 60)
    if errors:
        raise SystemExit(f"bad answers: {errors[:3]}")
    latencies.sort()
    return {
        "n": len(latencies),
        "per_second": round(len(latencies) / DURATION),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


def check_answers(base: str, setup: dict, n: int = 200) -> None:
    """``n`` random tokens must all be active with access to the site (so the load measures real work)."""
    rng = random.Random(7)
    with httpx.Client(base_url=base, auth=(setup["client_id"], setup["secret"]), timeout=10) as http:
        for _ in range(n):
            answer = http.post("/oauth2/introspect", data={"token": rng.choice(setup["tokens"])})
            body = answer.json()
            if answer.status_code != 200 or not body.get("active") or not body.get("site_access"):
                raise SystemExit(f"bad answer: {answer.status_code} {body}")


def measure_wrk(base: str, setup: dict, tmp: Path) -> dict:
    import base64

    tokens_file, script = tmp / "tokens.txt", tmp / "introspect.lua"
    tokens_file.write_text("\n".join(setup["tokens"]) + "\n")
    script.write_text(WRK_SCRIPT)
    credentials = base64.b64encode(f"{setup['client_id']}:{setup['secret']}".encode()).decode()
    env = dict(os.environ, BENCH_TOKENS_FILE=str(tokens_file), BENCH_AUTH=f"Basic {credentials}")

    def wrk(seconds: float) -> dict:
        # A slow answer is a latency to count, not an error: wrk gives up on a request after 2 s unless told.
        cmd = [
            "wrk",
            "-t1",
            f"-c{CLIENTS}",
            f"-d{seconds:.0f}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            base,
        ]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def summary(figures: dict) -> dict:
        if figures["errors"]:
            raise SystemExit(f"wrk saw {figures['errors']} errors: {figures['error_kinds']}")
        return {
            "n": figures["n"],
            "per_second": round(figures["n"] / (figures["duration_us"] / 1e6)),
            "p50_ms": round(figures["p50_us"] / 1000, 2),
            "p99_ms": round(figures["p99_us"] / 1000, 2),
        }

    wrk(WARMUP)
    figures = summary(wrk(DURATION))
    # The same server, connections and seconds on /healthz (a view that returns "ok": the floor of
    # the stack — gunicorn, Django, every middleware). On a shared machine the ratio is what holds.
    env["BENCH_PATH"] = "/healthz"
    floor = summary(wrk(DURATION))
    figures["healthz"] = {k: floor[k] for k in ("per_second", "p50_ms", "p99_ms")}
    figures["ratio_to_healthz"] = round(figures["per_second"] / max(floor["per_second"], 1), 2)
    return figures


def run(database: str) -> dict:
    load_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bench-introspect-") as tmp:
        port = free_port(8860, 8880)
        base = f"http://127.0.0.1:{port}"
        extra = {}
        if database == "postgresql":
            _harness.pg_database_fresh(PG_SERVER, PG_NAME)
            extra["ORGWARDEN_DATABASE_URL"] = f"{PG_SERVER}/{PG_NAME}"
        if os.environ.get("BENCH_USAGE_FLUSH_SECONDS"):  # to see what the write-behind batches cost
            extra["ORGWARDEN_USAGE_FLUSH_SECONDS"] = os.environ["BENCH_USAGE_FLUSH_SECONDS"]
        env = _harness.server_env(Path(tmp), base, workers=WORKERS, **extra)
        out_file = str(Path(tmp) / "setup.json")
        log(f"{database}: creating {N_TOKENS} tokens of {N_ACCOUNTS} accounts")
        subprocess.run([sys.executable, __file__, "--populate", out_file], env=env, check=True, timeout=1800)
        setup = json.loads(Path(out_file).read_text())
        server_log = Path(tmp) / "server.log"
        server = serve_process(
            env, port, stderr=server_log.open("w")
        )  # its error log: read when something failed
        try:
            wait_healthy(base, server)
            check_answers(base, setup)
            log(f"{database}: {CLIENTS} {LOAD_CLIENT} clients for {DURATION:.0f} s")
            figures = measure_wrk(base, setup, Path(tmp)) if LOAD_CLIENT == "wrk" else measure(base, setup)
            check_answers(base, setup)
        except BaseException:
            log(f"the server's log ended with:\n{server_log.read_text()[-3000:]}")
            raise
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=5)
    return {
        "operation": "token_introspect",
        "database": database,
        "tokens": N_TOKENS,
        "workers": WORKERS,
        "clients": CLIENTS,
        "load_client": LOAD_CLIENT,
        **figures,
        "load_avg_1m": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--populate", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.populate:
        populate(args.populate)
        return
    for database in [args.only] if args.only else ["sqlite", "postgresql"]:
        print(json.dumps(run(database)), flush=True)


if __name__ == "__main__":
    main()
