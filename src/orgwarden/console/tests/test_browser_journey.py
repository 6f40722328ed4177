"""The Foundation journey in a real browser, as a person would walk it.

A new person signs up, verifies the email from the link in the email, creates an org, invites a
second admin who accepts, signs out and in again, finds both sign-ins in the audit log, filters it
and downloads the CSV.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from orgwarden.audit.models import AuditEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD_ANN = "violet-harbour-lantern-42"
PASSWORD_BOB = "quiet-meadow-copper-77"


def link_in_last_email(to: str) -> str:
    message = [m for m in mail.outbox if to in m.to][-1]
    return re.search(r"https?://\S+", message.body).group(0)


def as_path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def sign_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Enter your password")).to_be_visible()
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_signup_org_invite_signin_audit_journey(new_page):
    ann = new_page()

    # Sign up.
    ann.goto("/")
    ann.get_by_role("link", name="Create an account").click()
    ann.get_by_label("Email").fill("ann@acme.test")
    ann.get_by_label("Full name").fill("Ann Admin")
    ann.get_by_label("Password").fill(PASSWORD_ANN)
    ann.get_by_role("button", name="Sign up").click()
    expect(ann.get_by_text("Verify your email address.")).to_be_visible()

    # Verify the email with the link from the email backend.
    ann.goto(as_path(link_in_last_email("ann@acme.test")))
    ann.get_by_role("button", name="Verify my email").click()
    expect(ann.get_by_text("Your email ann@acme.test is verified.")).to_be_visible()

    # Create the organization.
    ann.goto("/admin/")
    ann.get_by_role("link", name="Create organization").first.click()
    ann.get_by_label("Organization name").fill("Acme Corp")
    ann.get_by_role("button", name="Create organization").click()
    expect(ann.get_by_role("heading", name="Acme Corp", level=1)).to_be_visible()

    # The navigation: every page is built now (an unbuilt one would say "Not available yet").
    ann.get_by_role("link", name="Insights").click()
    expect(ann.get_by_role("heading", name="Insights", level=1)).to_be_visible()

    # Invite a second admin.
    ann.get_by_role("link", name="Administrators").click()
    ann.get_by_label("Email").fill("bob@acme.test")
    ann.get_by_role("button", name="Send invitation").click()
    expect(ann.get_by_text("Invitation sent to bob@acme.test.")).to_be_visible()
    expect(ann.get_by_role("cell", name="bob@acme.test")).to_be_visible()

    # Bob opens the invitation, creates his account with the invited email, and accepts.
    bob = new_page()
    bob.goto(as_path(link_in_last_email("bob@acme.test")))
    expect(bob.get_by_role("heading", name="Join Acme Corp as an admin")).to_be_visible()
    bob.get_by_role("link", name="Create an account").click()
    expect(bob.get_by_label("Email")).to_have_value("bob@acme.test")
    bob.get_by_label("Full name").fill("Bob Builder")
    bob.get_by_label("Password").fill(PASSWORD_BOB)
    bob.get_by_role("button", name="Sign up").click()
    expect(bob.get_by_role("button", name="Accept invitation")).to_be_visible()
    bob.get_by_role("button", name="Accept invitation").click()
    expect(bob.get_by_text("You are now an admin of Acme Corp.")).to_be_visible()

    # Ann sees two admins; she signs out and in again.
    ann.get_by_role("link", name="Administrators").click()
    expect(ann.get_by_role("cell", name="bob@acme.test")).to_be_visible()
    ann.get_by_role("button", name="Sign out").click()
    expect(ann.get_by_text("You are signed out.")).to_be_visible()
    sign_in(ann, "ann@acme.test", "a-wrong-password")
    expect(ann.get_by_text("Incorrect email or password.")).to_be_visible()
    ann.get_by_label("Password").fill(PASSWORD_ANN)
    ann.get_by_role("button", name="Sign in").click()
    expect(ann.get_by_role("heading", name="Acme Corp", level=1)).to_be_visible()

    # The audit log shows both admins' sign-ins.
    ann.get_by_role("link", name="Audit log", exact=True).click()
    expect(ann.get_by_role("heading", name="Audit log")).to_be_visible()
    table = ann.locator("table")
    expect(table).to_contain_text("bob@acme.test")
    expect(table).to_contain_text("Signed in")
    expect(table).to_contain_text("Sign-in failed")
    expect(table).to_contain_text("Signed out")
    expect(table).to_contain_text("Admin invitation accepted")

    # Filter to sign-ins only.
    ann.locator("select[name=action]").select_option("account:signin:succeeded")
    ann.locator("form.filters button[type=submit], form.filters input[type=submit]").first.click()
    rows = ann.locator("table tbody tr")
    expect(rows.first).to_contain_text("Signed in")
    texts = rows.all_inner_texts()
    assert texts and all("Signed in" in text for text in texts)
    assert any("ann@acme.test" in text for text in texts)
    assert any("bob@acme.test" in text for text in texts)

    # Download the CSV of the filtered log.
    with ann.expect_download() as download_info:
        ann.get_by_role("link", name=re.compile("Export CSV|Download CSV", re.I)).click()
    content = download_info.value.path().read_text()
    records = list(csv.DictReader(io.StringIO(content)))
    assert records, content[:500]
    signins = [row for row in records if "account:signin:succeeded" in row.values()]
    assert len(signins) == len(records) >= 3  # Ann's sign-up, Bob's sign-up, Ann's sign-in
    emails = {value for row in records for value in row.values()}
    assert {"ann@acme.test", "bob@acme.test"} <= emails

    # Everything the journey did is in the log, the export included.
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "account:created",
        "account:email:verified",
        "org:created",
        "org:admin:invited",
        "org:admin:invitation_accepted",
        "account:signout",
        "account:signin:failed",
        "account:signin:succeeded",
        "org:audit:exported",
    } <= actions
