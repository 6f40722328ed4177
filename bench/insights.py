"""Time to compute each insights chart and the billable count for a large org, on SQLite and PostgreSQL.

Prints ONE JSON line per measured operation per database. In one process, no HTTP (the console page
and the REST endpoints call exactly these selectors):

1. creates the database — a temporary data directory (SQLite), then the PostgreSQL database
   ``bench_insights`` (dropped and created here with psycopg) — and migrates it;
2. bulk-inserts an org with ``BENCH_ACCOUNTS`` (50,000) managed accounts, 8 product sites of 4
   products, one group per site with every fourth account in it (two sites for everyone), and a
   year of daily activity: ``BENCH_DAILY_ACTIVE`` (2,000) accounts a day, each on one or two
   sites — about a million account × site × day rows of ``orgs.models.Activity`` (one row per
   account, site and day, whatever the number of calls);
3. ANALYZE (PostgreSQL: VACUUM ANALYZE, what autovacuum does to a table after a million inserts);
4. ``insights:rollups_first_build``: builds the org's insights rollups from nothing, once — what
   ``orgwarden insights daily`` (or, before it has run, the org's first view) does once per org;
   ``insights:access_first_build``: builds who has access to which site (``insights.access_rollup``)
   from nothing, once, likewise;
   ``insights:access_update``: ``BENCH_REPEAT`` reads each right after one change of access (a
   group membership removed or put back), each bringing the access rollups up to date first;
5. ``insights:rollups_refresh``: ``BENCH_REPEAT`` (20) refreshes, each after ``BENCH_NEW_ROWS``
   (200) new activity rows of today — what the background refresh (``orgwarden insights refresh``,
   every minute) spends on the org per pass, outside any request. A chart pays it only when the
   rollups are more than ``rollups.STALE`` (five minutes) old, that is with the background refresh
   turned off;
6. ``insights:<chart>``: ``BENCH_REPEAT`` calls of ``insights.selectors.chart`` per chart, rollups
   refreshed just before each chart's calls (as the background refresh keeps them), after one
   warm-up call; and ``billing.selectors.billable_count``.

Before timing, the process freezes what it holds (``orgwarden.wsgi.settle_heap``), as a server
worker does once it has loaded the app. Each line carries the 1-minute load average when it was
printed (the machine is shared).

Target: p99 < 200 ms per chart. Usage: ``python bench/insights.py`` (both), ``--only sqlite`` or
``--only postgresql``; ``BENCH_PG_URL`` overrides the server (default postgresql://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _harness  # bench/ is the script's directory, so it is on sys.path

N_ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "50000"))
DAILY_ACTIVE = int(os.environ.get("BENCH_DAILY_ACTIVE", "2000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "20"))
NEW_ROWS = int(os.environ.get("BENCH_NEW_ROWS", "200"))
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
PG_NAME = "bench_insights"


def seed():
    """Bulk-insert the org described in the module docstring (Django set up, database migrated);
    returns ``(org, account pks, sites, today)``; an in-process profile can import and reuse it."""
    from datetime import UTC, datetime, timedelta

    from django.db import transaction
    from django.utils import timezone

    from orgwarden.accounts.models import Account
    from orgwarden.orgs.models import (
        Activity,
        Directory,
        Group,
        GroupMember,
        Organization,
        OrgUser,
        ProductSite,
        SiteAccess,
    )

    rng = random.Random(8)
    with transaction.atomic():
        org = Organization.objects.create(name="Bench Corp")
        directory = Directory.objects.create(org=org, kind=Directory.Kind.LOCAL, name="Local")
        Account.objects.bulk_create(
            [
                Account(
                    email=f"user{i:05d}@bench.example",
                    display_name=f"User {i}",
                    password="!",
                    email_verified=True,
                )
                for i in range(N_ACCOUNTS)
            ],
            batch_size=5000,
        )
        ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
        OrgUser.objects.bulk_create(
            [
                OrgUser(
                    org=org,
                    account_id=pk,
                    email=f"user{i:05d}@bench.example",
                    is_managed=True,
                    directory=directory,
                )
                for i, pk in enumerate(ids)
            ],
            batch_size=5000,
        )
        products = ["jira-software", "confluence", "jira-service-management", "trello"]
        sites = [
            ProductSite.objects.create(
                org=org, product=products[i % 4], name=f"Site {i}", url=f"https://s{i}.example"
            )
            for i in range(8)
        ]
        for index, site in enumerate(sites):
            group = Group.objects.create(org=org, name=f"Site {index} users")
            SiteAccess.objects.create(site=site, group=group, role=SiteAccess.Role.USER)
            GroupMember.objects.bulk_create(
                [GroupMember(group=group, account_id=pk) for n, pk in enumerate(ids) if n % 4 == index % 4],
                batch_size=5000,
            )
        today = timezone.now().date()
        rows = []
        for back in range(365):
            day = today - timedelta(days=back)
            at = datetime.combine(day, datetime.min.time(), UTC)
            for n in rng.sample(range(N_ACCOUNTS), DAILY_ACTIVE):
                first = sites[n % 4]
                rows.append(Activity(org=org, site=first, account_id=ids[n], day=day, signins=1, last_at=at))
                if n % 3 == 0:
                    rows.append(
                        Activity(
                            org=org, site=sites[n % 4 + 4], account_id=ids[n], day=day, signins=1, last_at=at
                        )
                    )
            if len(rows) > 50_000:
                Activity.objects.bulk_create(rows, batch_size=10_000)
                rows = []
        Activity.objects.bulk_create(rows, batch_size=10_000)
    return org, ids, sites, today


def run(database: str) -> None:
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "orgwarden.settings"
    django.setup()

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from orgwarden.billing import selectors as billing
    from orgwarden.insights import access_rollup, rollups, selectors
    from orgwarden.insights.models import RollupState
    from orgwarden.orgs.models import Activity, GroupMember

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    org, ids, sites, today = seed()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    activity_rows = Activity.objects.count()
    print(
        f"[bench] {database}: seeded {activity_rows} activity rows in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    # What a server worker does once it has loaded the app (orgwarden.wsgi.get_application): what is
    # alive now is frozen out of the garbage collector's walks.
    from orgwarden.wsgi import settle_heap

    settle_heap()

    def report(name, times, **extra):
        times = sorted(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        line = {
            "operation": name,
            "n": len(times),
            "accounts": N_ACCOUNTS,
            "activity_rows": activity_rows,
            "per_second": round(1000 / statistics.mean(times), 1),
            "p50_ms": round(statistics.median(times), 1),
            "p99_ms": round(p99, 1),
            "database": database,
            "load_avg_1m": round(os.getloadavg()[0], 2),
            **extra,
        }
        print(json.dumps(line), flush=True)

    def timed(name, fn, **extra):
        fn()  # warm
        times = []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        report(name, times, **extra)

    t0 = time.perf_counter()
    state = rollups.refreshed(org=org, force=True)
    report("insights:rollups_first_build", [(time.perf_counter() - t0) * 1000])
    t0 = time.perf_counter()
    access_rollup.current(org=org, state=state)
    report("insights:access_first_build", [(time.perf_counter() - t0) * 1000])

    # A change of access, then the read that brings the access rollups up to date: one membership
    # of a granting group removed, or put back (what the orgs and SCIM services write).
    membership = GroupMember.objects.filter(group__org=org).order_by("pk").first()
    times = []
    for i in range(REPEAT):
        if i % 2 == 0:
            GroupMember.objects.filter(pk=membership.pk).delete()
        else:
            membership = GroupMember.objects.create(
                group_id=membership.group_id, account_id=membership.account_id
            )
        state = RollupState.objects.get(org=org)
        t0 = time.perf_counter()
        access_rollup.current(org=org, state=state)
        times.append((time.perf_counter() - t0) * 1000)
    report("insights:access_update", times, changed_rows=1)

    # New activity between refreshes: accounts not yet active today, on their first site.
    active_today = set(Activity.objects.filter(org=org, day=today).values_list("account_id", flat=True))
    fresh = ((n, pk) for n, pk in enumerate(ids) if pk not in active_today)
    times = []
    for _ in range(REPEAT):
        now = timezone.now()
        batch = []
        for _n in range(NEW_ROWS):
            n, pk = next(fresh)
            batch.append(Activity(org=org, site=sites[n % 4], account_id=pk, day=today, last_at=now))
        Activity.objects.bulk_create(batch)
        t0 = time.perf_counter()
        rollups.refreshed(org=org, force=True)
        times.append((time.perf_counter() - t0) * 1000)
    report("insights:rollups_refresh", times, new_rows=NEW_ROWS)

    for key in selectors.CHARTS:
        # Refreshed as the background refresh keeps them; a read refreshes only rollups older than
        # rollups.STALE, which no loop here reaches.
        rollups.refreshed(org=org, force=True)
        timed(f"insights:{key}", lambda key=key: selectors.chart(org=org, key=key), rollups="fresh")
    timed("billing:billable_count", lambda: billing.billable_count(org=org))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--child", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run(args.child)
        return
    for database in ["sqlite", "postgresql"] if not args.only else [args.only]:
        env = dict(os.environ)
        with tempfile.TemporaryDirectory() as data:
            env["ORGWARDEN_DATA_DIR"] = data
            env.pop("ORGWARDEN_DATABASE_URL", None)
            if database == "postgresql":
                _harness.pg_database_fresh(PG_SERVER, PG_NAME)
                env["ORGWARDEN_DATABASE_URL"] = f"{PG_SERVER}/{PG_NAME}"
            subprocess.run(
                [sys.executable, str(Path(__file__)), "--child", database], env=env, check=True, timeout=3600
            )


if __name__ == "__main__":
    main()
