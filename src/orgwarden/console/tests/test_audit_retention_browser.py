"""The audit log in a real browser says how long events are kept, and the retention job's event
opens like any other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.audit.services import Actor, event_record, events_prune
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_audit_log_says_how_long_it_keeps_events(new_page, org_admin, settings):
    org = org_admin.org
    settings.AUDIT_RETENTION_DAYS = 180
    with time_machine.travel(datetime.now(UTC) - timedelta(days=200), tick=False), transaction.atomic():
        event_record(action="org:renamed", actor=Actor.system(), org_id=org.org_id)
    assert events_prune().deleted == {org.org_id: 1}
    since = (datetime.now(UTC) - timedelta(days=180)).strftime("%-d %b %Y")

    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(reverse("console:audit_log", args=[org.org_id]))
    expect(page.locator(".audit-retention")).to_have_text(
        f"Events are kept for 180 days: the log goes back to {since}. Export what you must keep longer."
    )
    row = page.locator(
        ".audit-table tbody tr", has_text="Audit events older than the retention period deleted"
    )
    expect(row).to_contain_text("orgwarden audit prune")
    row.get_by_role("link").focus()
    page.keyboard.press("Enter")
    detail = page.locator(".audit-detail")
    expect(
        detail.get_by_role("heading", name="Audit events older than the retention period deleted")
    ).to_be_visible()
    expect(detail.locator("pre.json")).to_contain_text('"retention_days": 180')
    expect(detail).to_contain_text("orgwarden audit prune")

    settings.AUDIT_RETENTION_DAYS = None
    page.reload()
    expect(page.locator(".audit-retention")).to_have_text("Events are kept indefinitely.")
