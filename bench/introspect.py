"""Token introspection (``POST /oauth2/introspect``) per second through HTTP, on SQLite and PostgreSQL.

Prints ONE JSON line per database. What it does, all on loopback:

1. creates the database (a temporary data directory for SQLite; the PostgreSQL database
   ``bench_introspect``, dropped and created here), migrates it, creates an org, a product site
   with its client secret, ``N_ACCOUNTS`` managed accounts who all have access to the site through
   a group, and ``N_TOKENS`` live user API tokens spread over them (bulk-inserted: value → SHA-256);
2. starts ``orgwarden serve`` (gunicorn, 2 sync workers) on a free port in 8860-8880;
3. ``CLIENTS`` threads, each with one keep-alive httpx client, introspect randomly chosen tokens
   (HTTP Basic client authentication) for ``DURATION`` seconds after a warm-up, checking every
   answer is ``active`` with ``site_access``.

Target: >= 1,500 introspections/s with p99 < 10 ms on a 2-core machine (the load generator shares
the cores). Usage: ``python bench/introspect.py`` (both), ``--only sqlite`` or ``--only postgresql``.
``BENCH_PG_URL`` overrides the PostgreSQL server (default postgresql://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
from _harness import free_port, log, wait_healthy

N_ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "1000"))
N_TOKENS = int(os.environ.get("BENCH_TOKENS", "10000"))
DURATION = float(os.environ.get("BENCH_DURATION", "20"))
WARMUP = 3.0
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
WORKERS = 2
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
PG_NAME = "bench_introspect"


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


def run(database: str) -> dict:
    load_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bench-introspect-") as tmp:
        port = free_port(8860, 8880)
        base = f"http://127.0.0.1:{port}"
        extra = {}
        if database == "postgresql":
            import psycopg

            with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=10) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {PG_NAME}")
            extra["ORGWARDEN_DATABASE_URL"] = f"{PG_SERVER}/{PG_NAME}"
        env = _harness.server_env(Path(tmp), base, workers=WORKERS, **extra)
        out_file = str(Path(tmp) / "setup.json")
        log(f"{database}: creating {N_TOKENS} tokens of {N_ACCOUNTS} accounts")
        subprocess.run([sys.executable, __file__, "--populate", out_file], env=env, check=True, timeout=1800)
        setup = json.loads(Path(out_file).read_text())
        server = subprocess.Popen(
            [sys.executable, "-m", "orgwarden.cli", "serve", "--bind", f"127.0.0.1:{port}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_healthy(base, server)
            log(f"{database}: {CLIENTS} clients for {DURATION:.0f} s")
            figures = measure(base, setup)
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
