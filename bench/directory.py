"""Latency of the managed-accounts list with 100,000 accounts in one org, on SQLite and PostgreSQL.

Prints ONE JSON line per database. What it does, all on loopback, every step bounded:

1. creates the database — a temporary data directory (SQLite), then the PostgreSQL database
   ``bench_directory`` (or ``BENCH_PG_NAME``; dropped and created here with psycopg) — migrates
   it, creates an org and its admin, and bulk-inserts ``N_ACCOUNTS`` accounts (unusable password
   "!", no hashing) with their managed ``OrgUser`` rows; then VACUUM ANALYZE (PostgreSQL) or
   ANALYZE (SQLite), as autovacuum would after a real import;
2. starts ``orgwarden serve`` (gunicorn, 2 sync workers) on a free port in 8800-8820;
3. signs the admin in with a one-time sign-in link (``signin_link_create``) through an httpx
   client that keeps the cookies and posts the CSRF token;
4. times ``N_REQUESTS`` sequential GETs each of: page 1 of the managed accounts list; page 50
   (reached by following the "Next page" link 49 times first, then timed on that URL); a
   search by email prefix (``q`` = "user0421": its digits route it to the email index alone);
   the "Last active" filter where most users match (``active_30``: active in the last 30 days,
   ~90 %) and where few do (``inactive_90``: not active for 90 days or never, 100 of 100,000 —
   a healthy org, where the walk along the email index alone would read the whole org); and,
   for the record but not a target, a search by name ("kowalski", which scans every name).

Last activity of the accounts (``OrgUser.last_active_at``, as product sign-ins and introspection
keep it): one in 2,000 never active, one in 2,000 active 120 days ago, one in ten 31-60 days ago,
the others within the last 30 days.

Target: p99 < 50 ms for each, and page 50 ≈ page 1 (keyset paging, no OFFSET).

Usage: ``python bench/directory.py`` (both databases), ``--only sqlite`` or ``--only postgresql``.
``BENCH_PG_URL`` overrides the server (default postgresql://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from html import unescape
from pathlib import Path

import _harness  # bench/ is the script's directory, so it is on sys.path
import httpx
from _harness import free_port, log, serve_process, stop, wait_healthy

N_ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "100000"))
N_REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
WORKERS = 2
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
PG_NAME = os.environ.get("BENCH_PG_NAME", "bench_directory")
SEARCH = "user0421"  # an email prefix matching 100 of the accounts
SEARCH_NAME = "kowalski"  # a surname one account in ten has
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
NEXT_LINK = re.compile(r'href="(\?[^"]+)" rel="next"')
FIRST = ["Ada", "Ben", "Chloé", "Dmitri", "Emeka", "Fatima", "Grace", "Hiro", "Ines", "Jonas", "Kai", "Lena"]
LAST = [
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "García",
    "Novak",
    "Smith",
    "Kowalski",
    "Haddad",
    "Ivanova",
]


def server_env(data_dir: Path, base: str, database_url: str | None) -> dict[str, str]:
    extra = {"ORGWARDEN_DATABASE_URL": database_url} if database_url else {}
    return _harness.server_env(data_dir, base, workers=WORKERS, **extra)


# --- populating (runs in a child process with the server's environment) -------------------------------


def last_active(i: int, now: datetime) -> datetime | None:
    """Account ``i``'s last activity (see the module's docstring)."""
    if i % 2000 == 0:
        return None
    if i % 2000 == 1000:
        return now - timedelta(days=120)
    if i % 10 == 1:
        return now - timedelta(days=31 + i % 30)
    return now - timedelta(days=i % 30, hours=1)


def populate() -> None:
    """Migrate, create the org, its admin and the accounts; print the admin's sign-in link."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from orgwarden.accounts.models import Account
    from orgwarden.accounts.services import account_create, signin_link_create
    from orgwarden.audit.services import Actor
    from orgwarden.orgs.models import OrgUser
    from orgwarden.orgs.services import org_create
    from orgwarden.orgs.services.claims import local_directory

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    with transaction.atomic():
        admin = account_create(
            email="admin@bench.test",
            display_name="Bench Admin",
            password=None,
            email_verified=True,
            via="bench",
        )
        org = org_create(creator=admin, name="Bench Corp")
    directory = local_directory(org)
    now = timezone.now()
    started = time.monotonic()
    batch = 5000
    for start in range(0, N_ACCOUNTS, batch):
        with transaction.atomic():
            accounts = Account.objects.bulk_create(
                [
                    Account(
                        email=f"user{i:06d}@bench.test",
                        display_name=f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}",
                        password="!",  # unusable: no hashing, nobody signs in as them
                        email_verified=True,
                    )
                    for i in range(start, min(start + batch, N_ACCOUNTS))
                ]
            )
            if connection.vendor == "sqlite":  # SQLite's bulk_create does not return the new keys
                by_email = dict(
                    Account.objects.filter(email__in=[a.email for a in accounts]).values_list("email", "pk")
                )
                for account in accounts:
                    account.pk = by_email[account.email]
            OrgUser.objects.bulk_create(
                [
                    OrgUser(
                        org=org,
                        account=a,
                        email=a.email,
                        is_managed=True,
                        directory=directory,
                        last_active_at=last_active(i, now),
                    )
                    for i, a in zip(range(start, start + batch), accounts, strict=False)
                ]
            )
    with connection.cursor() as cursor:
        # What autovacuum would do after a real import; done now so it does not run mid-measurement.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    log(f"created {N_ACCOUNTS} accounts in {time.monotonic() - started:.1f} s")
    with transaction.atomic():
        link = signin_link_create(account=admin, actor=Actor.system("bench"), org_id=org.org_id)
    print(json.dumps({"link": link, "org_id": org.org_id}), flush=True)


# --- measuring ----------------------------------------------------------------------------------------


def sign_in(client: httpx.Client, link: str) -> None:
    page = client.get(link)
    token = CSRF_INPUT.search(page.text)
    if not token:
        raise RuntimeError(f"no CSRF token on the sign-in link page ({page.status_code})")
    done = client.post(link, data={"csrfmiddlewaretoken": token.group(1)})
    if done.status_code != 302 or done.headers.get("location", "").startswith("/login"):
        raise RuntimeError(f"sign-in with the link failed: {done.status_code} {done.headers.get('location')}")


def timed(client: httpx.Client, url: str, expect: str) -> dict[str, float]:
    for _ in range(20):  # warm up both workers: imports, template loading, connection, caches
        client.get(url)
    samples = []
    for _ in range(N_REQUESTS):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200 or expect not in response.text:
            raise RuntimeError(f"{url} answered {response.status_code} without {expect!r}")
    ordered = sorted(samples)
    return {
        # The fastest request: close to what the request costs on an idle machine.
        "min_ms": round(ordered[0] * 1000, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
    }


def measure(base: str, link: str, org_id: str) -> dict[str, dict[str, float]]:
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
        sign_in(client, link)
        first = f"/admin/o/{org_id}/managed-accounts/"
        url = first
        for _ in range(49):
            response = client.get(url)
            match = NEXT_LINK.search(response.text)
            if response.status_code != 200 or not match:
                raise RuntimeError(f"no next page from {url} ({response.status_code})")
            url = first + unescape(match.group(1))
        page50 = url
        expect50 = f"user{49 * 50:06d}@bench.test"
        return {
            "page1": timed(client, first, "user000000@bench.test"),
            "page50": timed(client, page50, expect50),
            "search_prefix": timed(client, f"{first}?q={SEARCH}", f"{SEARCH}00@bench.test"),
            # Accounts 0 and 1 are never / 31 days ago: account 2 heads the active list.
            "last_active_30": timed(client, f"{first}?last_active=active_30", "user000002@bench.test"),
            "inactive_90_few": timed(client, f"{first}?last_active=inactive_90", "user001000@bench.test"),
            # Not a target: a name search scans every account's name (no index serves "contains").
            "search_name": timed(client, f"{first}?q={SEARCH_NAME}", "Kowalski"),
        }


def run(database: str) -> dict:
    load_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="orgwarden-bench-") as tmp:
        port = free_port(8800, 8820)
        base = f"http://127.0.0.1:{port}"
        database_url = None
        if database == "postgresql":
            _harness.pg_database_fresh(PG_SERVER, PG_NAME)
            database_url = f"{PG_SERVER}/{PG_NAME}"
        env = server_env(Path(tmp), base, database_url)
        log(f"{database}: creating {N_ACCOUNTS} accounts")
        out = subprocess.run(
            [sys.executable, __file__, "--populate"],
            env=env,
            check=True,
            timeout=1800,
            capture_output=True,
            text=True,
        )
        sys.stderr.write(out.stderr)
        setup = json.loads(out.stdout.strip().splitlines()[-1])
        server = serve_process(env, port)
        try:
            wait_healthy(base, server)
            log(f"{database}: timing {N_REQUESTS} requests each")
            figures = measure(base, setup["link"], setup["org_id"])
        finally:
            stop(server)
    return {
        "operation": "directory_list",
        "database": database,
        "accounts": N_ACCOUNTS,
        "requests": N_REQUESTS,
        "workers": WORKERS,
        **figures,
        # Other jobs share the 2 cores: the load average says how much they competed.
        "load_avg_1m": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--populate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.populate:
        populate()
        return
    for database in [args.only] if args.only else ["sqlite", "postgresql"]:
        print(json.dumps(run(database)), flush=True)


if __name__ == "__main__":
    main()
