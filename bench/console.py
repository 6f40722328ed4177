"""Latency of every admin console page an admin reaches from the sidebar, for the largest org we
serve (50,000 people), on SQLite and PostgreSQL.

Prints ONE JSON line per page per database. What it does, all on loopback, every step bounded:

1. creates the database — a temporary data directory (SQLite), then the PostgreSQL database
   ``bench_console_pg`` (or ``BENCH_PG_NAME``; dropped and created here with psycopg) — migrates it and,
   in a child process with the server's environment, bulk-inserts one org (the admin, the org and
   its three identity providers through their services; everything else with ``bulk_create``):

   - ``BENCH_ACCOUNTS`` (50,000) managed accounts (unusable password "!", no hashing) on two
     verified domains, a quarter in the local directory and a quarter in each of 3 IdP directories
     (Okta, Entra ID, Google), each of those with its SCIM key, a ``ScimUser`` and ``ScimEmail`` per
     account; 1,000 external users (accounts on unverified domains, in a "Contractors" group);
   - 2,000 groups: 450 synced (150 per IdP directory, ``ScimGroup`` and ``ScimGroupMember`` rows
     mirroring their members), 1,550 local; "All staff" holds every managed account, four more
     hold 10,000–12,500 each, the others 40 each (~220,000 memberships);
   - 20 product sites of 8 products, each granting "All staff" (user), one big group and an admin
     group; the 2 Jira Service Management sites each have a help center with 5,000 customers;
   - a non-default authentication policy of the local directory with 10,000 members;
   - 1,000,000 audit events spread over the last 365 days (sign-ins, group and SCIM changes …, each
     naming an account of the org), and 200,000 provisioning-log lines on the Okta directory;
   - a year of product activity as the insights app stores it (``orgs.Activity``, one row per
     account × site × day): 2,000 accounts active a day on one or two sites (~970,000 rows), each
     org user's ``last_active_at`` set from it; then the insights rollups built once
     (``rollups.refreshed`` and ``access_rollup.current``, what ``orgwarden insights daily`` does);
   - 20,000 user API tokens, 10 org API keys, 10 admins and 5 pending invitations, 300 support
     requests, a paid subscription with a year of daily billable snapshots;

   then VACUUM ANALYZE (PostgreSQL) or ANALYZE (SQLite), as autovacuum would after an import;
2. starts ``orgwarden serve`` (gunicorn, 2 sync workers) on a free port in 8830-8850;
3. signs the admin in with a one-time sign-in link (``directory.sign_in``);
4. for each page below, 5 warm-up GETs then ``BENCH_REQUESTS`` (100) sequential GETs, or fewer if
   the page's requests pass ``BENCH_PAGE_BUDGET_S`` (60) seconds: each answer must be a 200 holding
   the page's expected text. Pages: Overview, Users, Managed accounts, Groups, the "All staff"
   group, Domains, Product sites, a site's access page, External users, Help centers, Identity
   providers, the Okta directory's provisioning page (its big log), Authentication policies, the
   10,000-member policy, Audit log (first page; filtered by action and by a searched email; page 50,
   reached by following "Older" 49 times), User API tokens, Insights and each chart's CSV,
   Billing, Administrators, API keys, Support requests.

Target (ours; no issue states one): p99 < 200 ms for every page, and no page whose cost grows with
the org's size where the data shown does not (a deep page, a count, a list of 50 rows).

Usage: ``python bench/console.py`` (both databases), ``--only sqlite`` or ``--only postgresql``;
``--data-dir DIR`` keeps the populated org for a later run (``--pages a,b`` measures only those).
``BENCH_PG_URL`` overrides the server (default postgresql://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import _harness  # bench/ is the script's directory, so it is on sys.path
import httpx
from _harness import free_port, log, serve_process, stop, wait_healthy
from directory import sign_in

N_ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "50000"))
N_EXTERNAL = 1000
N_GROUPS = 2000
SYNCED_PER_DIRECTORY = 150
N_SITES = 20
N_EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
N_LOG = 200_000
DAILY_ACTIVE = 2000
N_TOKENS = 20_000
N_REQUESTS = int(os.environ.get("BENCH_REQUESTS", "100"))
PAGE_BUDGET_S = float(os.environ.get("BENCH_PAGE_BUDGET_S", "60"))
WORKERS = 2
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
PG_NAME = os.environ.get("BENCH_PG_NAME", "bench_console_pg")
OLDER_LINK = re.compile(r'href="(\?[^"]*before=[^"]+)"')
PRODUCTS = [
    "jira-software",
    "confluence",
    "jira-service-management",
    "jira-work-management",
    "jira-product-discovery",
    "bitbucket",
    "trello",
    "statuspage",
]
ACTIONS = [
    "account:signin:succeeded",
    "account:signin:succeeded",
    "account:signin:succeeded",
    "account:signout",
    "account:api_token:created",
    "org:group:member_added",
    "scim:user:updated",
    "org:account:claimed",
]


# --- populating (runs in a child process with the server's environment) -------------------------------


def _bulk(model, rows, batch: int = 5000) -> None:
    for start in range(0, len(rows), batch):
        model.objects.bulk_create(rows[start : start + batch])


def _seed_people(org, admin, directories):
    """Accounts, org users, SCIM users; returns (managed account pks by directory index, all managed
    pks in order, external pks)."""
    from django.db import transaction

    from orgwarden.accounts.models import Account
    from orgwarden.orgs.models import Domain, OrgUser
    from orgwarden.scim.models import ScimEmail, ScimUser

    domains = [
        Domain.objects.create(
            org=org, name=name, token="t" * 32, status="verified", method="dns", claim=claim
        )
        for name, claim in (("bench.test", "automatic"), ("corp.bench.test", "manual"))
    ]
    Domain.objects.create(org=org, name="pending.bench.test", token="u" * 32)
    with transaction.atomic():
        _bulk(
            Account,
            [
                Account(
                    email=f"user{i:05d}@{domains[i % 10 == 9].name}",
                    display_name=f"User {i:05d}",
                    password="!",  # unusable: no hashing, nobody signs in as them
                    email_verified=True,
                )
                for i in range(N_ACCOUNTS)
            ]
            + [
                Account(email=f"guest{i:04d}@partner{i % 7}.example", display_name=f"Guest {i}", password="!")
                for i in range(N_EXTERNAL)
            ],
        )
    by_email = dict(Account.objects.exclude(pk=admin.pk).values_list("email", "pk"))
    managed = [by_email[f"user{i:05d}@{domains[i % 10 == 9].name}"] for i in range(N_ACCOUNTS)]
    external = [by_email[f"guest{i:04d}@partner{i % 7}.example"] for i in range(N_EXTERNAL)]
    with transaction.atomic():
        _bulk(
            OrgUser,
            [
                OrgUser(
                    org=org,
                    account_id=pk,
                    email=f"user{i:05d}@{domains[i % 10 == 9].name}",
                    is_managed=True,
                    directory=directories[i % 4],
                    domain=domains[i % 10 == 9],
                )
                for i, pk in enumerate(managed)
            ]
            + [
                OrgUser(org=org, account_id=pk, email=f"guest{i:04d}@partner{i % 7}.example")
                for i, pk in enumerate(external)
            ],
        )
    per_directory = [managed[d::4] for d in range(4)]
    with transaction.atomic():
        for d in (1, 2, 3):
            _bulk(
                ScimUser,
                [
                    ScimUser(
                        directory=directories[d],
                        account_id=pk,
                        user_name=f"user{i * 4 + d:05d}@bench.test",
                        user_name_key=f"user{i * 4 + d:05d}@bench.test",
                        external_id=f"ext-{d}-{i}",
                        display_name=f"User {i * 4 + d:05d}",
                    )
                    for i, pk in enumerate(per_directory[d])
                ],
            )
            scim = list(ScimUser.objects.filter(directory=directories[d]).values_list("pk", "user_name_key"))
            _bulk(
                ScimEmail, [ScimEmail(user_id=pk, value=name, type="work", primary=True) for pk, name in scim]
            )
    return per_directory, managed, external


def _seed_groups(org, directories, per_directory, managed, external, rng):
    """2,000 groups and their members; returns (the "All staff" group, big groups, admin groups)."""
    from django.db import transaction

    from orgwarden.orgs.models import Group, GroupMember
    from orgwarden.scim.models import ScimGroup, ScimGroupMember, ScimUser

    with transaction.atomic():
        groups = []
        for n in range(N_GROUPS):
            directory = directories[1 + n % 3] if n < SYNCED_PER_DIRECTORY * 3 else None
            name = {
                0: "All staff",
                1: "Engineering",
                2: "Sales",
                3: "Support",
                4: "Contractors",
                5: "Headquarters",
            }.get(n, f"Team {n:04d}")
            if n in (0, 4, 5):  # all staff, contractors, a big local group
                directory = None
            groups.append(Group(org=org, name=name, directory=directory, description=f"Bench group {n}"))
        _bulk(Group, groups)
        groups = list(Group.objects.filter(org=org).order_by("pk"))
        members: dict[int, list[int]] = {groups[0].pk: managed, groups[4].pk: external}
        for n in (1, 2, 3):  # synced: each holds all of its directory (12,500)
            members[groups[n].pk] = per_directory[1 + n % 3]
        members[groups[5].pk] = managed[:10_000]
        for n, group in enumerate(groups[6:], start=6):
            members[group.pk] = rng.sample(per_directory[1 + n % 3] if group.directory_id else managed, 40)
        _bulk(
            GroupMember,
            [GroupMember(group_id=g, account_id=pk) for g, pks in members.items() for pk in pks],
            batch=10_000,
        )
        scim_pk = dict(ScimUser.objects.values_list("account_id", "pk"))
        for group in groups:
            if group.directory_id:
                scim_group = ScimGroup.objects.create(
                    directory_id=group.directory_id, display_name=group.name, group=group
                )
                _bulk(
                    ScimGroupMember,
                    [ScimGroupMember(group=scim_group, user_id=scim_pk[pk]) for pk in members[group.pk]],
                )
    return groups


def _seed_sites(org, groups):
    from django.db import transaction

    from orgwarden.helpcenter.models import Customer, HelpCenter
    from orgwarden.orgs.models import ProductSite, SiteAccess

    with transaction.atomic():
        sites = [
            ProductSite.objects.create(
                org=org,
                product=PRODUCTS[n % len(PRODUCTS)],
                name=f"Site {n:02d}",
                url=f"https://site{n}.bench.test",
            )
            for n in range(N_SITES)
        ]
        access = []
        for n, site in enumerate(sites):
            access.append(SiteAccess(site=site, group=groups[0], role="user"))
            access.append(SiteAccess(site=site, group=groups[1 + n % 5], role="user"))
            access.append(SiteAccess(site=site, group=groups[100 + n], role="admin"))
            site.default_groups.add(groups[0])
        _bulk(SiteAccess, access)
        for site in sites:
            if site.product == "jira-service-management":
                center = HelpCenter.objects.create(site=site)
                _bulk(
                    Customer,
                    [
                        Customer(
                            help_center=center,
                            email=f"customer{i:05d}@shop{i % 50}.example",
                            display_name=f"C {i}",
                        )
                        for i in range(5000)
                    ],
                )
    return sites


def _seed_activity(org, sites, managed, now, rng):
    """A year of product activity (the insights bench's shape) and each org user's last activity."""
    from django.db import transaction

    from orgwarden.orgs.models import Activity, OrgUser

    insight_sites = [s for s in sites if s.product in PRODUCTS[:5]]
    today = now.date()
    last: dict[int, datetime] = {}
    with transaction.atomic():
        rows = []
        for back in range(364, -1, -1):
            day = today - timedelta(days=back)
            at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9)
            for n in rng.sample(range(len(managed)), DAILY_ACTIVE):
                pk = managed[n]
                rows.append(
                    Activity(
                        org=org,
                        site=insight_sites[n % len(insight_sites)],
                        account_id=pk,
                        day=day,
                        signins=1,
                        last_at=at,
                    )
                )
                if n % 3 == 0:
                    second = insight_sites[(n + 1) % len(insight_sites)]
                    rows.append(
                        Activity(org=org, site=second, account_id=pk, day=day, api_calls=3, last_at=at)
                    )
                last[pk] = at
            if len(rows) >= 50_000:
                _bulk(Activity, rows, batch=10_000)
                rows = []
        _bulk(Activity, rows, batch=10_000)
        by_day: dict[datetime, list[int]] = {}
        for pk, at in last.items():
            by_day.setdefault(at, []).append(pk)
        for at, pks in by_day.items():
            for start in range(0, len(pks), 500):
                OrgUser.objects.filter(org=org, account_id__in=pks[start : start + 500]).update(
                    last_active_at=at
                )


def _seed_audit(org, managed, now, rng):
    """``N_EVENTS`` events over the last 365 days, oldest first, each naming an account of the org."""
    from django.db import transaction

    from orgwarden.audit.ids import new_ulid
    from orgwarden.audit.models import AuditEvent

    start = now - timedelta(days=365)
    step = timedelta(days=365) / N_EVENTS
    with transaction.atomic():
        rows = []
        for n in range(N_EVENTS):
            at = start + step * n
            i = rng.randrange(len(managed))
            email = f"user{i:05d}@bench.test"
            action = ACTIONS[n % len(ACTIONS)]
            target = {"type": "account", "id": f"acc{i:05d}", "name": f"User {i:05d}", "email": email}
            rows.append(
                AuditEvent(
                    id=new_ulid(at),
                    org_id=org.org_id,
                    occurred_at=at,
                    action=action,
                    actor_type="account",
                    actor_id=f"acc{i:05d}",
                    actor_name=f"User {i:05d}",
                    actor_email=email,
                    targets=[target],
                    ip="10.0.0.1",
                    user_agent="bench",
                    search_text=f"user {i:05d} {email} user {i:05d} {email}",
                )
            )
            if len(rows) == 20_000:
                AuditEvent.objects.bulk_create(rows)
                rows = []
        AuditEvent.objects.bulk_create(rows)


def populate() -> None:
    """Migrate and create the org of the module docstring; print the ids the pages need."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from orgwarden.accounts.models import Account
    from orgwarden.accounts.services import account_create
    from orgwarden.billing.models import BillableSnapshot, Subscription
    from orgwarden.insights import access_rollup, rollups
    from orgwarden.orgs.models import AdminInvitation, OrgAdmin
    from orgwarden.orgs.services import org_create
    from orgwarden.orgs.services.claims import local_directory
    from orgwarden.policies.models import PolicyMember
    from orgwarden.policies.services import policy_create
    from orgwarden.scim.models import ProvisioningLog, ScimKey
    from orgwarden.sso.services import idp_add
    from orgwarden.support.models import SupportRequest
    from orgwarden.tokens.models import OrgApiKey, UserApiToken

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    rng = random.Random(28)
    now = timezone.now()
    started = time.monotonic()
    with transaction.atomic():
        admin = account_create(
            email="admin@bench.test",
            display_name="Bench Admin",
            password=None,
            email_verified=True,
            via="bench",
        )
        org = org_create(creator=admin, name="Bench Corp")
        connections = [
            idp_add(org=org, actor=admin, vendor=vendor, name=name)
            for vendor, name in (("okta", "Okta"), ("entra", "Entra ID"), ("google", "Google Workspace"))
        ]
    directories = [local_directory(org)] + [c.directory for c in connections]
    for n, directory in enumerate(directories[1:]):
        ScimKey.objects.create(
            directory=directory, key_hash=hashlib.sha256(f"key{n}".encode()).hexdigest(), prefix=f"scim_{n}"
        )
    per_directory, managed, external = _seed_people(org, admin, directories)
    log(f"people: {time.monotonic() - started:.0f} s")
    groups = _seed_groups(org, directories, per_directory, managed, external, rng)
    sites = _seed_sites(org, groups)
    log(f"groups and sites: {time.monotonic() - started:.0f} s")
    with transaction.atomic():
        policy = policy_create(
            org=org, actor=admin, directory_id=directories[0].directory_id, name="Contractors policy"
        )
        _bulk(PolicyMember, [PolicyMember(policy=policy, account_id=pk) for pk in per_directory[0][:10_000]])
        _bulk(
            ProvisioningLog,
            [
                ProvisioningLog(
                    directory=directories[1],
                    at=now - timedelta(minutes=N_LOG - n),
                    method="PATCH" if n % 3 else "POST",
                    resource="Users",
                    resource_id=f"scim{n}",
                    operation="patch" if n % 3 else "create",
                    status=200 if n % 50 else 409,
                    error="" if n % 50 else "uniqueness",
                )
                for n in range(N_LOG)
            ],
        )
        _bulk(
            UserApiToken,
            [
                UserApiToken(
                    account_id=pk,
                    label=f"token {n}",
                    prefix=f"owt_{n:06d}",
                    token_hash=hashlib.sha256(f"token{n}".encode()).hexdigest(),
                    expires_at=now + timedelta(days=30 + n % 300),
                    last_used_at=now - timedelta(hours=n % 500) if n % 4 else None,
                )
                for n, pk in enumerate(managed[:N_TOKENS])
            ],
        )
        for n in range(10):
            OrgApiKey.objects.create(
                org=org,
                name=f"Script {n}",
                prefix=f"owk_{n:06d}",
                token_hash=hashlib.sha256(f"apikey{n}".encode()).hexdigest(),
                created_by=admin,
                expires_at=now + timedelta(days=90),
            )
        admins = list(Account.objects.filter(pk__in=managed[:9]))
        _bulk(OrgAdmin, [OrgAdmin(org=org, account=a) for a in admins])
        for n in range(5):
            AdminInvitation.objects.create(
                org=org,
                email=f"new{n}@bench.test",
                token_hash=hashlib.sha256(f"inv{n}".encode()).hexdigest(),
                invited_by=admin,
                expires_at=now + timedelta(days=7),
            )
        _bulk(
            SupportRequest,
            [
                SupportRequest(
                    org=org,
                    raised_by=admin,
                    severity=f"L{1 + n % 4}",
                    summary=f"Request {n}",
                    status=["open", "answered", "resolved"][n % 3],
                    created_at=now - timedelta(days=n),
                    response_due_at=now - timedelta(days=n) + timedelta(hours=4),
                )
                for n in range(300)
            ],
        )
        Subscription.objects.create(
            org=org,
            status="paid",
            trial_started_at=now - timedelta(days=400),
            trial_ends_at=now - timedelta(days=370),
            paid_at=now - timedelta(days=370),
        )
        _bulk(
            BillableSnapshot,
            [
                BillableSnapshot(org=org, day=(now - timedelta(days=d)).date(), count=N_ACCOUNTS - d)
                for d in range(365)
            ],
        )
    _seed_activity(org, sites, managed, now, rng)
    log(f"activity: {time.monotonic() - started:.0f} s")
    _seed_audit(org, managed, now, rng)
    log(f"audit: {time.monotonic() - started:.0f} s")
    with connection.cursor() as cursor:
        # What autovacuum would do after a real import; done now so it does not run mid-measurement.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    # What the daily job (``orgwarden insights daily``) leaves: the rollups built.
    state = rollups.refreshed(org=org, force=True)
    access_rollup.current(org=org, state=state)
    log(f"populated in {time.monotonic() - started:.0f} s")
    print(
        json.dumps(
            {
                "link": _admin_link(),
                "org_id": org.org_id,
                "group_id": groups[0].group_id,
                "site_id": sites[0].site_id,
                "directory_id": directories[1].directory_id,
                "policy_id": policy.policy_id,
            }
        ),
        flush=True,
    )


def _admin_link() -> str:
    """A one-time sign-in link of the bench org's admin, on this run's ``ORGWARDEN_BASE_URL``."""
    from django.db import transaction

    from orgwarden.accounts.models import Account
    from orgwarden.accounts.services import signin_link_create
    from orgwarden.audit.services import Actor
    from orgwarden.orgs.models import Organization

    admin = Account.objects.get(email="admin@bench.test")
    with transaction.atomic():
        return signin_link_create(
            account=admin, actor=Actor.system("bench"), org_id=Organization.objects.get().org_id
        )


def print_admin_link() -> None:
    import django

    django.setup()
    print(json.dumps({"link": _admin_link()}), flush=True)


# --- measuring ----------------------------------------------------------------------------------------


def timed(client: httpx.Client, url: str, expect: str) -> dict[str, float]:
    """Warm-up, then up to ``N_REQUESTS`` GETs of ``url`` within ``PAGE_BUDGET_S``; each must be a 200
    holding ``expect``."""
    for _ in range(5):  # warm up both workers: imports, template loading, connection, caches
        client.get(url)
    samples = []
    deadline = time.monotonic() + PAGE_BUDGET_S
    while len(samples) < N_REQUESTS and time.monotonic() < deadline:
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200 or expect not in response.text:
            raise RuntimeError(f"{url} answered {response.status_code} without {expect!r}")
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "min_ms": round(ordered[0] * 1000, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
    }


def audit_page_50(client: httpx.Client, first: str) -> str:
    url = first
    for _ in range(49):
        response = client.get(url)
        match = OLDER_LINK.search(response.text)
        if response.status_code != 200 or not match:
            raise RuntimeError(f"no older page from {url} ({response.status_code})")
        url = first + unescape(match.group(1))
    return url


def pages(client: httpx.Client, setup: dict) -> list[tuple[str, str, str]]:
    """(name, URL, text the answer must hold) of every page measured."""
    o = f"/admin/o/{setup['org_id']}/"
    audit = o + "audit-log/"
    found = [
        ("overview", o, "Bench Corp"),
        ("users", o + "users/", "guest0000@partner0.example"),
        ("managed_accounts", o + "managed-accounts/", "user00000@bench.test"),
        ("groups", o + "groups/", "All staff"),
        ("group_big", o + f"groups/{setup['group_id']}/", "All staff"),
        ("domains", o + "domains/", "corp.bench.test"),
        ("products", o + "products/", "Site 00"),
        ("product_site_access", o + f"products/{setup['site_id']}/", "All staff"),
        ("external_users", o + "external-users/", "partner"),
        ("help_centers", o + "help-centers/", "Site 02"),
        ("identity_providers", o + "identity-providers/", "Entra ID"),
        ("provisioning", o + f"directories/{setup['directory_id']}/provisioning/", "Okta"),
        ("policies", o + "policies/", "Contractors policy"),
        ("policy_big", o + f"policies/{setup['policy_id']}/", "Contractors policy"),
        ("audit_log", audit, "Audit log"),
        ("audit_log_action", audit + "?action=org:group:member_added", "Added to group"),
        ("audit_log_search", audit + "?q=user01234@bench.test", "user01234@bench.test"),
        ("audit_log_page50", audit_page_50(client, audit), "Audit log"),
        ("api_tokens", o + "api-tokens/", "owt_"),
        ("insights", o + "insights/", "Insights"),
    ]
    found += [
        (f"insights_csv_{key}", o + f"insights/{key}.csv", ",")
        for key in (
            "active-users-30",
            "active-users-90",
            "active-users-by-product",
            "site-activity",
            "inactive-users",
            "authentication",
            "domains",
            "managed-vs-external",
        )
    ]
    found += [
        ("billing", o + "billing/", "Billing"),
        ("admins", o + "admins/", "Bench Admin"),
        ("api_keys", o + "api-keys/", "Script 0"),
        ("support", o + "support/", "Request 0"),
    ]
    return found


def run(database: str, data_dir: str | None, only_pages: set[str] | None) -> None:
    with tempfile.TemporaryDirectory(prefix="orgwarden-bench-") as tmp:
        data = Path(data_dir or tmp) / database
        data.mkdir(parents=True, exist_ok=True)
        kept = data / "setup.json"
        port = free_port(8830, 8850)
        base = f"http://127.0.0.1:{port}"
        extra = {}
        if database == "postgresql":
            extra["ORGWARDEN_DATABASE_URL"] = f"{PG_SERVER}/{PG_NAME}"
        env = _harness.server_env(data, base, workers=WORKERS, **extra)
        if kept.exists():  # --data-dir of an earlier run: its org (migrated by serve), a new link
            setup = json.loads(kept.read_text())
            out = subprocess.run(
                [sys.executable, __file__, "--link"],
                env=env,
                timeout=300,
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            )
            setup["link"] = json.loads(out.stdout.strip().splitlines()[-1])["link"]
        else:
            if database == "postgresql":
                _harness.pg_database_fresh(PG_SERVER, PG_NAME)
            log(f"{database}: populating")
            out = subprocess.run(
                [sys.executable, __file__, "--populate"],
                env=env,
                timeout=3600,
                stdout=subprocess.PIPE,  # the ids; its progress goes to stderr as it happens
                text=True,
                check=True,
            )
            setup = json.loads(out.stdout.strip().splitlines()[-1])
            if data_dir:
                kept.write_text(json.dumps(setup))
        server = serve_process(env, port)
        try:
            wait_healthy(base, server)
            with httpx.Client(base_url=base, timeout=60, follow_redirects=False) as client:
                sign_in(client, setup["link"])
                for name, url, expect in pages(client, setup):
                    if only_pages and name not in only_pages:
                        continue
                    figures = timed(client, url, expect)
                    line = {
                        "operation": f"console:{name}",
                        "database": database,
                        "accounts": N_ACCOUNTS,
                        "audit_events": N_EVENTS,
                        "workers": WORKERS,
                        **figures,
                        # Other jobs share the 2 cores: the load average says how much they competed.
                        "load_avg_1m": round(os.getloadavg()[0], 2),
                    }
                    print(json.dumps(line), flush=True)
        finally:
            stop(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--populate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--link", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--pages", help="comma-separated page names: measure only these")
    parser.add_argument(
        "--data-dir",
        help="keep the SQLite data (and the ids of the PostgreSQL org) here; a later run with the same "
        "directory measures that org again instead of populating a new one",
    )
    args = parser.parse_args()
    if args.populate:
        populate()
        return
    if args.link:
        print_admin_link()
        return
    for database in [args.only] if args.only else ["sqlite", "postgresql"]:
        run(database, args.data_dir, set(args.pages.split(",")) if args.pages else None)


if __name__ == "__main__":
    main()
