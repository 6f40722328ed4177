"""Browser journey of the insights, billing and support issue.

An admin starts the free trial, sees the billable users and the monthly estimate, opens Insights and
downloads a chart's CSV, then raises an L3 support request on a Friday evening and sees Monday's
deadline. The clock is set to that Friday evening (and ticks) for the whole walk.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Activity, Domain, OrgAdmin
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services.claims import account_claim
from orgwarden.orgs.tests.factories import OrganizationFactory
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FRIDAY_EVENING = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)


def test_trial_billable_estimate_insights_csv_and_support_deadline(new_page, tmp_path: Path):
    with time_machine.travel(FRIDAY_EVENING, tick=True):
        org = OrganizationFactory(name="Acme Corp")
        ann = AccountFactory(email="ann@acme.test", display_name="Ann Admin")
        OrgAdmin.objects.create(org=org, account=ann)
        Domain.objects.create(org=org, name="acme.test", token="t", status=Domain.Status.VERIFIED)
        site = s.site_add(
            org=org, actor=ann, product="jira-software", name="Jira", url="https://jira.acme.test"
        )
        group = s.group_create(org=org, actor=ann, name="Engineering")
        s.access_grant(org=org, actor=ann, site_id=site.site_id, group_id=group.group_id, role="user")
        for name in ("carl", "dora", "eve"):
            person = AccountFactory(email=f"{name}@acme.test")
            account_claim(org=org, account=person, domain=None, actor=Actor.system())
            s.group_members_add(org=org, actor=ann, group_id=group.group_id, account_ids=[person.account_id])
            if name != "eve":
                Activity.objects.create(
                    org=org, site=site, account=person, day=FRIDAY_EVENING.date(), last_at=FRIDAY_EVENING
                )

        page = new_page()
        browser.sign_in(page, "ann@acme.test", PASSWORD)
        page.goto(f"/admin/o/{org.org_id}/")

        # Billing: start the trial; billable users and the estimate.
        page.get_by_role("link", name="Billing", exact=True).first.click()
        page.get_by_role("button", name="Start your 30-day free trial").click()
        expect(page.get_by_text("Your 30-day free trial has started.")).to_be_visible()
        expect(page.locator("#trial-ends")).to_contain_text("days left")
        expect(page.locator("#billable-count")).to_have_text("3")
        expect(page.locator("#estimate")).to_contain_text("USD 40.00")  # the minimum
        page.get_by_label("What would this many users cost?").fill("300")
        page.get_by_role("button", name="Calculate").click()
        expect(page.locator("#what-if")).to_contain_text("USD 1150.00")
        assert (
            AuditEvent.objects.filter(action="org:subscription:trial_started", org_id=org.org_id).count() == 1
        )

        # Insights: the charts, and one chart's CSV.
        page.get_by_role("link", name="Insights", exact=True).first.click()
        expect(page.get_by_role("heading", name="Insights", exact=True)).to_be_visible()
        expect(page.locator("#chart-managed-vs-external svg")).to_be_visible()
        with page.expect_download() as info:
            page.locator("#chart-active-users-30").get_by_role("link", name="Download CSV").click()
        path = tmp_path / "active.csv"
        info.value.save_as(path)
        rows = list(csv.reader(path.open()))
        assert rows[0] == ["day", "active_users"]
        assert rows[-1] == [FRIDAY_EVENING.date().isoformat(), "2"]
        expect(page.locator("#inactive-users")).to_contain_text("eve@acme.test")

        # Support: an L3 raised on Friday evening is due on Monday at the end of business hours.
        page.get_by_role("link", name="Support requests", exact=True).first.click()
        page.get_by_label("Severity").select_option("L3")
        page.get_by_label("Summary").fill("Jira pages load slowly")
        page.get_by_label("Description").fill("Since this afternoon, every page takes ten seconds.")
        page.get_by_role("button", name="Raise request").click()
        expect(page.locator("#response-due")).to_contain_text("Monday 30 November 2026, 18:00 UTC")
        expect(page.get_by_text("every page takes ten seconds")).to_be_visible()
