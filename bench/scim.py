"""SCIM provisioning through HTTP: orgwarden on SQLite and PostgreSQL beside the peer scim2-server.

Prints one JSON line per measurement, and one line of ratios (ours / peer) per database. What it
does, all on loopback, every wait bounded:

1. creates the database — a temporary data directory (SQLite), or the PostgreSQL database
   ``bench_scim`` (dropped and created here with psycopg) — migrates it, and creates an org, its
   verified domain ``bench.test``, an identity-provider directory and its SCIM key (services, as an
   admin would in the console);
2. starts ``orgwarden serve`` (gunicorn, 2 sync workers) on a free port in 8900-8924, and the peer,
   scim2-server's in-memory server (``bench/_scim2_server_app.py``), under gunicorn too on a port
   in 8925-8949: one gthread worker with ``CLIENTS`` threads, since its resources live in one
   process's memory;
3. drives both with the same httpx client code and the same Okta-style user bodies:

   - ``scim_create_sequential``: POST /Users for ``BENCH_USERS`` users, one client;
   - ``scim_lookup``: GET /Users?filter=userName eq "…" of random existing users, one client,
     at ``BENCH_USERS`` users;
   - ``scim_create_concurrent``: POST /Users for ``BENCH_USERS`` more users, ``CLIENTS`` clients;
   - ``scim_sync``: an Okta-style import of ``BENCH_SYNC_USERS`` users, one client: for each,
     GET /Users?filter=userName eq "…", then POST /Users when it is absent (here always);
   - ``http_floor_healthz`` and ``http_floor_scim_config``, orgwarden only: ``GET /healthz`` (an
     empty request through the full middleware stack) and SCIM's ``GET /ServiceProviderConfig``
     (the short chain SCIM takes, and the key check) with the same client, one at a time — the
     second is the ceiling of any create's rate here;
   - then, orgwarden only, the directory is filled to ``BENCH_LARGE_USERS`` users by bulk-inserting
     the rest (accounts, managed org users, SCIM users and emails; ANALYZE after, as autovacuum would)
     and ``scim_lookup`` runs again through HTTP. On PostgreSQL every phase is followed, untimed, by
     an ``ANALYZE`` of the database, as autovacuum would do after that many inserts: this machine's
     server runs with ``autovacuum = off`` (not PostgreSQL's default), and without statistics a
     create at 20,000 users took 14.8 ms against 8.4 ms after an ANALYZE. The peer keeps its users
     in a hash index (its ``eq`` lookups don't depend on its size), and filling it over HTTP would
     take longer than the rest of the run, so its lookup is measured at ``BENCH_USERS`` only.

Every answer is checked (201 with an id, one result with the right userName). Rates are requests
(or synced users) per second of wall time; p50/p99 are per request (per user for the sync).
orgwarden's sync gunicorn workers close the connection after each answer (the client reconnects),
gthread keeps it open for the peer: the peer gets that advantage.

Targets (issue #6): create rate >= 2x the peer's, sequential and concurrent, while persisting to
SQLite and to PostgreSQL; lookup p99 < 10 ms at 100,000 users.

Usage: ``python bench/scim.py`` (both databases), ``--only sqlite`` or ``--only postgresql``.
Environment: ``BENCH_USERS`` (10000), ``BENCH_SYNC_USERS`` (= BENCH_USERS), ``BENCH_LARGE_USERS``
(100000), ``BENCH_LOOKUPS`` (2000), ``BENCH_CLIENTS`` (4), ``BENCH_PG_URL`` (the PostgreSQL server,
default postgresql://postgres@127.0.0.1:5432). Needs scim2-server (in the dev extras).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import _harness  # bench/ is the script's directory, so it is on sys.path
import httpx
from _harness import free_port, log, serve_process, stop, wait_answering, wait_healthy

N_USERS = int(os.environ.get("BENCH_USERS", "10000"))
N_SYNC = int(os.environ.get("BENCH_SYNC_USERS", str(N_USERS)))
N_LARGE = int(os.environ.get("BENCH_LARGE_USERS", "100000"))
N_LOOKUPS = int(os.environ.get("BENCH_LOOKUPS", "2000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
WORKERS = 2
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
PG_NAME = "bench_scim"
DOMAIN = "bench.test"
PEER_TOKEN = "bench-peer-token"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
FIRST = ["Ada", "Ben", "Chloé", "Dmitri", "Emeka", "Fatima", "Grace", "Hiro", "Ines", "Jonas", "Kai", "Lena"]
LAST = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "García", "Novak", "Smith", "Kowalski", "Haddad"]


def user_name(prefix: str, i: int) -> str:
    return f"{prefix}{i:06d}@{DOMAIN}"


def user_body(name: str, i: int) -> dict:
    """What Okta sends on a create: name, displayName, one primary work email, active."""
    given, family = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
    return {
        "schemas": [USER_SCHEMA],
        "userName": name,
        "name": {"givenName": given, "familyName": family},
        "displayName": f"{given} {family}",
        "emails": [{"value": name, "type": "work", "primary": True}],
        "active": True,
    }


# --- orgwarden's database (child processes with the server's environment) -----------------------------


def populate(out_file: str) -> None:
    """Migrate; create the org, its verified domain, an IdP directory and its SCIM key."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from orgwarden.accounts.services import account_create
    from orgwarden.billing.services import subscription_trial_start
    from orgwarden.orgs.models import Domain
    from orgwarden.orgs.services import org_create
    from orgwarden.scim.services import scim_key_generate
    from orgwarden.sso.services import idp_add

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    with transaction.atomic():
        admin = account_create(
            email=f"admin@{DOMAIN}", display_name="Admin", password=None, email_verified=True, via="bench"
        )
        org = org_create(creator=admin, name="Bench Corp")
        Domain.objects.create(
            org=org,
            name=DOMAIN,
            token="t" * 32,
            status=Domain.Status.VERIFIED,
            method=Domain.Method.DNS,
            verified_at=timezone.now(),
        )
        subscription_trial_start(org=org, actor=admin)  # provisioning runs for subscribers only
        directory = idp_add(org=org, actor=admin, vendor="okta", name="Okta").directory
        key = scim_key_generate(org=org, actor=admin, directory_id=directory.directory_id)
    Path(out_file).write_text(json.dumps({"directory_id": directory.directory_id, "key": key}))


def fill(directory_id: str, total: int) -> None:
    """Bulk-insert provisioned users until the directory has ``total``: what SCIM creates, in bulk."""
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from orgwarden.accounts.models import Account
    from orgwarden.orgs.models import Directory, Domain, OrgUser
    from orgwarden.scim.models import ScimEmail, ScimUser

    directory = Directory.objects.select_related("org").get(directory_id=directory_id)
    domain = Domain.objects.get(org=directory.org, name=DOMAIN)
    have = ScimUser.objects.filter(directory=directory).count()
    started, batch, now = time.monotonic(), 5000, timezone.now()
    for start in range(0, max(0, total - have), batch):
        with transaction.atomic():
            names = [user_name("bulk", i) for i in range(start, min(start + batch, total - have))]
            accounts = Account.objects.bulk_create(
                [
                    Account(email=n, display_name=f"Bulk {n[4:10]}", password="!", email_verified=True)
                    for n in names
                ]
            )
            if connection.vendor == "sqlite":  # SQLite's bulk_create does not return the new keys
                by_email = dict(Account.objects.filter(email__in=names).values_list("email", "pk"))
                for account in accounts:
                    account.pk = by_email[account.email]
            OrgUser.objects.bulk_create(
                [
                    OrgUser(
                        org=directory.org,
                        account=a,
                        email=a.email,
                        is_managed=True,
                        directory=directory,
                        domain=domain,
                        claimed_at=now,
                    )
                    for a in accounts
                ]
            )
            users = ScimUser.objects.bulk_create(
                [
                    ScimUser(
                        directory=directory,
                        account=a,
                        user_name=a.email,
                        user_name_key=a.email,
                        display_name=a.display_name,
                        given_name="Bulk",
                        family_name=a.email[4:10],
                    )
                    for a in accounts
                ]
            )
            if connection.vendor == "sqlite":
                by_name = dict(
                    ScimUser.objects.filter(directory=directory, user_name_key__in=names).values_list(
                        "user_name_key", "pk"
                    )
                )
                for user in users:
                    user.pk = by_name[user.user_name_key]
            ScimEmail.objects.bulk_create(
                [ScimEmail(user=u, value=u.user_name_key, type="work", primary=True) for u in users]
            )
    with connection.cursor() as cursor:
        # What autovacuum would do after a real import; done now so it does not run mid-measurement.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    log(f"filled the directory to {total} users in {time.monotonic() - started:.1f} s")


# --- measuring (the same code for both servers) -------------------------------------------------------


@dataclass
class Target:
    name: str  # orgwarden | scim2-server
    database: str  # sqlite | postgresql | memory
    base: str  # the SCIM base URL
    key: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base,
            timeout=30,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/scim+json"},
        )


def figures(samples: list[float], wall: float, count: int | None = None) -> dict:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "per_second": round((count if count is not None else len(ordered)) / wall, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


def create(http: httpx.Client, name: str, i: int) -> None:
    answer = http.post("/Users", content=json.dumps(user_body(name, i)))
    if answer.status_code != 201 or not answer.json().get("id"):
        raise RuntimeError(f"POST /Users {name}: {answer.status_code} {answer.text[:300]}")


def lookup(http: httpx.Client, name: str) -> int:
    answer = http.get("/Users", params={"filter": f'userName eq "{name}"'})
    if answer.status_code != 200:
        raise RuntimeError(f"lookup {name}: {answer.status_code} {answer.text[:300]}")
    body = answer.json()
    found = body.get("totalResults", 0)
    if found and body["Resources"][0]["userName"].lower() != name:
        raise RuntimeError(f"lookup {name} found {body['Resources'][0]['userName']}")
    return found


def run_items(target: Target, items: list[int], step: Callable, clients: int) -> tuple[list[float], float]:
    """Run ``step`` for every item over ``clients`` threads (one httpx client each).

    Returns every call's latency and the wall time of the whole run.
    """
    samples: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(mine: list[int]) -> None:
        local: list[float] = []
        try:
            with target.client() as http:
                for i in mine:
                    began = time.perf_counter()
                    step(http, i)
                    local.append(time.perf_counter() - began)
        except BaseException as exc:  # reported after join: a thread can't raise into main
            with lock:
                errors.append(exc)
        with lock:
            samples.extend(local)

    threads = [threading.Thread(target=worker, args=(items[k::clients],)) for k in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=3600)
    wall = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{target.name}: {errors[0]}") from errors[0]
    return samples, wall


def line(operation: str, target: Target, users: int, clients: int, stats: dict) -> dict:
    out = {
        "operation": operation,
        "server": target.name,
        "database": target.database,
        "users": users,
        "clients": clients,
        **stats,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out), flush=True)
    return out


def settle(target: Target) -> None:
    """Between phases, untimed: on PostgreSQL, ``ANALYZE`` as autovacuum would after the phase's
    inserts (see the module docstring); nothing elsewhere (SQLite's planner needs no statistics
    for these indexed lookups, and the peer has no database)."""
    if target.name != "orgwarden" or target.database != "postgresql":
        return
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/{PG_NAME}", autocommit=True, connect_timeout=10) as conn:
        conn.execute("ANALYZE")


def workloads(target: Target) -> dict[str, dict]:
    """Sequential creates, lookups, concurrent creates, the sync; returns each line by name."""
    out: dict[str, dict] = {}
    rng = random.Random(7)
    with target.client() as http:  # warm up: every worker's imports, connections, caches
        for i in range(20):
            create(http, user_name("warm", i), i)
    log(f"{target.name} ({target.database}): {N_USERS} sequential creates")
    samples, wall = run_items(target, list(range(N_USERS)), lambda h, i: create(h, user_name("seq", i), i), 1)
    out["create_sequential"] = line("scim_create_sequential", target, N_USERS, 1, figures(samples, wall))
    settle(target)

    names = [user_name("seq", i) for i in range(N_USERS)]
    out["lookup"] = line("scim_lookup", target, N_USERS + 20, 1, lookups(target, names, rng))

    log(f"{target.name} ({target.database}): {N_USERS} creates by {CLIENTS} clients")
    samples, wall = run_items(
        target, list(range(N_USERS)), lambda h, i: create(h, user_name("conc", i), i), CLIENTS
    )
    out["create_concurrent"] = line(
        "scim_create_concurrent", target, N_USERS, CLIENTS, figures(samples, wall)
    )
    settle(target)

    def sync_one(http: httpx.Client, i: int) -> None:
        name = user_name("sync", i)
        if lookup(http, name) == 0:
            create(http, name, i)

    log(f"{target.name} ({target.database}): Okta-style sync of {N_SYNC} users")
    samples, wall = run_items(target, list(range(N_SYNC)), sync_one, 1)
    out["sync"] = line("scim_sync", target, N_SYNC, 1, figures(samples, wall))
    return out


def lookups(target: Target, names: list[str], rng: random.Random) -> dict:
    chosen = [rng.choice(names) for _ in range(N_LOOKUPS + 50)]

    def step(http: httpx.Client, i: int) -> None:
        if lookup(http, chosen[i]) != 1:
            raise RuntimeError(f"{chosen[i]} not found")

    run_items(target, list(range(50)), step, 1)  # warm-up
    samples, wall = run_items(target, list(range(50, len(chosen))), step, 1)
    return figures(samples, wall)


def floor(target: Target, path: str) -> dict:
    """``GET path`` with the same client, one at a time: ``/healthz`` is an empty request through
    the full middleware stack; SCIM's ``/ServiceProviderConfig`` the cheapest SCIM request (the
    short chain and the key check). The second is the ceiling of any create's rate."""

    def step(http: httpx.Client, i: int) -> None:
        if http.get(path).status_code != 200:
            raise RuntimeError(f"GET {path} failed")

    run_items(target, list(range(50)), step, 1)  # warm-up
    samples, wall = run_items(target, list(range(N_LOOKUPS)), step, 1)
    return figures(samples, wall)


# --- the servers --------------------------------------------------------------------------------------


@contextlib.contextmanager
def peer_target() -> Iterator[Target]:
    """The peer scim2-server under gunicorn (one gthread worker, ``CLIENTS`` threads), answering."""
    port = free_port(8925, 8949)
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGWARDEN_")}
    env["BENCH_PEER_TOKEN"] = PEER_TOKEN
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", str(CLIENTS)),
            *("--worker-class", "gthread", "--no-control-socket", "--bind", f"127.0.0.1:{port}"),
            "_scim2_server_app:application()",
        ],
        cwd=Path(__file__).parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        target = Target("scim2-server", "memory", f"{base}/v2", PEER_TOKEN)

        def answers() -> bool:
            with target.client() as http:
                return http.get("/ServiceProviderConfig").status_code == 200

        wait_answering(answers, server, "scim2-server")
        yield target
    finally:
        stop(server)


def peer_run() -> dict[str, dict]:
    with peer_target() as target:
        return workloads(target)


def ours_run(database: str, tmp: Path) -> dict[str, dict]:
    port = free_port(8900, 8924)
    base = f"http://127.0.0.1:{port}"
    extra = {}
    if database == "postgresql":
        _harness.pg_database_fresh(PG_SERVER, PG_NAME)
        extra["ORGWARDEN_DATABASE_URL"] = f"{PG_SERVER}/{PG_NAME}"
    env = _harness.server_env(tmp, base, workers=WORKERS, **extra)
    setup_file = tmp / "setup.json"
    subprocess.run(
        [sys.executable, __file__, "--populate", str(setup_file)], env=env, check=True, timeout=600
    )
    setup = json.loads(setup_file.read_text())
    server = serve_process(env, port)
    try:
        wait_healthy(base, server)
        target = Target("orgwarden", database, f"{base}/scim/directory/{setup['directory_id']}", setup["key"])
        out = workloads(target)
        out["floor_healthz"] = line(
            "http_floor_healthz", target, N_USERS, 1, floor(target, f"{base}/healthz")
        )
        out["floor"] = line(
            "http_floor_scim_config", target, N_USERS, 1, floor(target, "/ServiceProviderConfig")
        )
        log(f"orgwarden ({database}): bulk-inserting up to {N_LARGE} users")
        subprocess.run(
            [sys.executable, __file__, "--fill", setup["directory_id"], str(N_LARGE)],
            env=env,
            check=True,
            timeout=3600,
        )
        names = [user_name("bulk", i) for i in range(0, N_LARGE - 2 * N_USERS - N_SYNC - 20)]
        names += [user_name(p, i) for p in ("seq", "conc") for i in range(N_USERS)]
        names += [user_name("sync", i) for i in range(N_SYNC)]
        out["lookup_large"] = line(
            "scim_lookup", target, N_LARGE, 1, lookups(target, names, random.Random(8))
        )
        return out
    finally:
        stop(server)
        if database == "postgresql":
            _harness.pg_database_drop(PG_SERVER, PG_NAME)


def ratio(ours: dict, peer: dict) -> float:
    return round(ours["per_second"] / peer["per_second"], 2)


def run(database: str) -> None:
    load_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bench-scim-") as tmp:
        ours = ours_run(database, Path(tmp))
    peer = peer_run()
    summary = {
        "operation": "scim_vs_scim2_server",
        "database": database,
        "users": N_USERS,
        "ratio_create_sequential": ratio(ours["create_sequential"], peer["create_sequential"]),
        "ratio_create_concurrent": ratio(ours["create_concurrent"], peer["create_concurrent"]),
        "ratio_lookup": ratio(ours["lookup"], peer["lookup"]),
        "ratio_sync": ratio(ours["sync"], peer["sync"]),
        # orgwarden's cheapest SCIM request against the peer's create: the highest
        # ratio_create_sequential any create behind this HTTP stack could reach.
        "ratio_floor_to_peer_create": ratio(ours["floor"], peer["create_sequential"]),
        "lookup_p99_ms_at_large": ours["lookup_large"]["p99_ms"],
        "large_users": N_LARGE,
        "target_create_2x": min(
            ratio(ours["create_sequential"], peer["create_sequential"]),
            ratio(ours["create_concurrent"], peer["create_concurrent"]),
        )
        >= 2,
        "target_lookup_p99_under_10ms": ours["lookup_large"]["p99_ms"] < 10,
        "load_avg_1m": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
    }
    print(json.dumps(summary), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--populate", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--fill", nargs=2, metavar=("DIRECTORY", "TOTAL"), help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.populate:
        populate(args.populate)
        return
    if args.fill:
        fill(args.fill[0], int(args.fill[1]))
        return
    for database in [args.only] if args.only else ["sqlite", "postgresql"]:
        run(database)


if __name__ == "__main__":
    main()
