"""Fixtures shared by every app's tests."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core import signals
from django.db import close_old_connections
from django.test import Client, override_settings

from orgwarden.accounts import emails, throttle
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.orgs.services import invitation_limits
from orgwarden.orgs.services.access import site_add
from orgwarden.orgs.tests.factories import OrgAdminFactory, OrganizationFactory
from orgwarden.scim.rows import LOG_BEHIND
from orgwarden.testing.serve import Migrated
from orgwarden.tokens import usage


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Django's test framework empties a transactional test's tables with DELETE on SQLite, which
    the audit log's DELETE trigger refuses (audit migration 0006): the SQLite test database opens
    that trigger's gate for every event, as the retention job does for old ones in its own
    transaction. Tests of the trigger close it in theirs (``audit/tests/test_prune.py``)."""
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            if connection.vendor == "sqlite":
                with connection.cursor() as cursor:
                    cursor.execute("INSERT INTO audit_prune_gate (before) VALUES ('9999-12-31')")
    yield


@pytest.fixture(scope="session")
def migrated(tmp_path_factory) -> Iterator[Migrated]:
    """Migrated databases to start ``orgwarden serve`` on (``testing.serve.Migrated``)."""
    found = Migrated(tmp_path_factory.mktemp("migrated"))
    yield found
    found.close()


@pytest.fixture(autouse=True)
def _usage_written_at_once() -> Iterator[None]:
    """Write-behind bookkeeping (introspection's, SCIM reads' log lines) is written on every call in
    tests (tokens/tests and scim/tests test batching).

    ``override_settings`` rather than pytest-django's ``settings`` fixture: some tests parametrize
    an argument of that name."""
    with override_settings(USAGE_FLUSH_SECONDS=0):
        yield
    usage.reset()
    LOG_BEHIND.reset()


@pytest.fixture(autouse=True)
def _background_emails_leave_within_their_test() -> Iterator[None]:
    """An email a test handed to ``accounts.emails``' background senders lands in that test's
    outbox, never in the next one's. A test that reads such an email (a password reset's) calls
    ``emails.background_drain()`` itself before reading it. A retry not yet due (its mail server
    was failing) is forgotten: it would otherwise be sent during a later test."""
    yield
    emails.background_drain(timeout=60)
    emails.background_forget_retries()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def account(db):
    return AccountFactory()


@pytest.fixture
def org_admin(db):
    """An org and its (only) admin."""
    return OrgAdminFactory()


@pytest.fixture
def org(org_admin):
    return org_admin.org


@pytest.fixture
def admin(org_admin):
    """``org``'s admin's account."""
    return org_admin.account


@pytest.fixture
def jira(org, admin):
    """A Jira Software site of ``org``."""
    return site_add(
        org=org, actor=admin, product="jira-software", name="Acme Jira", url="https://jira.acme.test"
    )


@pytest.fixture
def admin_client(org_admin) -> Client:
    """A test client signed in as ``org_admin.account`` (through Django's login, not the flow)."""
    client = Client()
    client.force_login(org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    return client


@pytest.fixture
def csrf_client(admin) -> Client:
    """The admin's browser as Django sees it: every POST needs the page's CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin, backend="orgwarden.accounts.backends.AccountBackend")
    return client


@pytest.fixture
def resends_per_sender(monkeypatch):
    """``set(n)``: an admin or API key may send ``n`` invitation emails again an hour (100 in
    production, ``orgs.services.invitation_limits``), counted apart from every other test."""

    def set_limit(n: int) -> None:
        limits = invitation_limits.INVITATION_EMAILS
        small = throttle.Throttle(f"invitation-resend-sender-test-{uuid.uuid4().hex}", 3600, fixed_limit=n)
        monkeypatch.setattr(
            invitation_limits,
            "INVITATION_EMAILS",
            throttle.PerAddressAndClient(limits.per_email, small, limits.too_many),
        )

    return set_limit


@pytest.fixture
def other_org_admin(db):
    """An admin of a second, unrelated org (for tenant-isolation tests)."""
    return OrgAdminFactory(org=OrganizationFactory(name="Other org"))


@pytest.fixture
def their_site(other_org_admin):
    """A Confluence site of ``other_org_admin``'s org: a real id that is not ``org``'s."""
    return site_add(
        org=other_org_admin.org,
        actor=other_org_admin.account,
        product="confluence",
        name="Their wiki",
        url="https://wiki.other.test",
    )


# --- Browser tests: Playwright driving Debian's Chromium against the live test server -------------

CHROMIUM = os.environ.get("ORGWARDEN_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(os.environ.get("ORGWARDEN_TEST_ARTIFACTS", "test-artifacts"))


@pytest.fixture(scope="session")
def chromium_browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are ordinary blocking calls, which Django would otherwise refuse.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium_browser, live_server, request) -> Iterator:
    """A factory of fresh browser contexts (one per person); fails the test on CSP violations."""
    contexts = []
    violations: list[str] = []

    def make():
        context = chromium_browser.new_context(base_url=live_server.url, accept_downloads=True)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda msg: (
                violations.append(msg.text) if re.search("Content.Security.Policy", msg.text, re.I) else None
            ),
        )
        return page

    yield make
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        ARTIFACTS.mkdir(exist_ok=True)
        for index, context in enumerate(contexts):
            for page_index, page in enumerate(context.pages):
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{index}-{page_index}.png"))
    for context in contexts:
        context.close()
    assert violations == [], f"Content-Security-Policy violations: {violations}"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture
def keep_the_test_connection() -> Iterator[None]:
    """For tests that call a WSGI handler directly (``testing.wsgi``), as Django's test client
    does: the handler's request signals must not close the test's database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
