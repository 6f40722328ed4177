"""The Policies journey in a real browser, with the clock under the test's control.

An admin makes two-step verification mandatory on the default policy and sets a 15-minute idle
limit. A member signing in is made to enrol (the test reads the secret off the page and computes
codes with pyotp), signs out and in with a code, uses a recovery code once and fails with it a
second time. The admin resets the member's 2SV and the member must enrol again. Then 16 idle
minutes sign the member's session out.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
import pytest
import time_machine
from django.db import transaction
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.billing.tests.factories import SubscriptionFactory
from orgwarden.orgs.services.claims import account_claim
from orgwarden.orgs.tests.factories import OrgAdminFactory, OrganizationFactory
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

START = datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC)


def sign_in_to_second_step(page, email: str) -> None:
    browser.sign_in(page, email, PASSWORD)


def sign_out(page) -> None:
    page.goto("/account/")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def enrol(page) -> tuple[str, list[str]]:
    expect(page.get_by_role("heading", name="Set up two-step verification")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label(re.compile("code", re.I)).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on and continue").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = re.findall(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", page.content())
    page.get_by_role("button", name=re.compile("I saved my recovery codes")).click()
    return secret, codes


def test_mandatory_two_step_recovery_reset_and_idle_limit(new_page):
    org = OrganizationFactory(name="Acme Corp")
    SubscriptionFactory(org=org)  # mandatory 2SV is enforced under the security subscription
    OrgAdminFactory(org=org, account=AccountFactory(email="ann@acme.test", display_name="Ann Admin"))
    mia = AccountFactory(email="mia@acme.test", display_name="Mia Member")
    with transaction.atomic():
        account_claim(org=org, account=mia, domain=None, actor=Actor.system())

    with time_machine.travel(START, tick=True) as clock:
        # The admin makes 2SV mandatory and sets a 15-minute idle limit on the default policy.
        ann = new_page()
        sign_in_to_second_step(ann, "ann@acme.test")
        expect(ann.get_by_role("heading", name="Acme Corp", level=1)).to_be_visible()
        ann.get_by_role("link", name="Authentication policies").click()
        ann.get_by_role("link", name="Default policy").first.click()
        ann.locator("input[name=two_step][value=mandatory]").check()
        ann.get_by_label("Idle session limit").select_option(label="15 minutes")
        ann.get_by_role("button", name="Save settings").click()
        expect(ann.locator(".message-success")).to_be_visible()
        # Ann's own session is not cut by the change.
        ann.goto(f"/admin/o/{org.org_id}/")
        expect(ann.get_by_role("heading", name="Acme Corp", level=1)).to_be_visible()

        # Mia must enrol before reaching anything else.
        member = new_page()
        sign_in_to_second_step(member, "mia@acme.test")
        secret, codes = enrol(member)
        assert len(codes) == 10
        # Mia was claimed by Acme since she last signed in: the managed-account notice, once.
        expect(member.get_by_text(re.compile("managed by Acme Corp"))).to_be_visible()
        member.get_by_role("button", name="Continue").click()
        member.goto("/account/")
        expect(member.get_by_role("heading", name="Profile")).to_be_visible()
        sign_out(member)

        # Next sign-in asks for a code; the code of the next time step works.
        clock.shift(60)
        sign_in_to_second_step(member, "mia@acme.test")
        expect(member.get_by_role("heading", name="Two-step verification")).to_be_visible()
        member.get_by_label("Verification code").fill(pyotp.TOTP(secret).now())
        member.get_by_role("button", name="Verify").click()
        member.goto("/account/")
        expect(member.get_by_role("heading", name="Profile")).to_be_visible()
        sign_out(member)

        # A recovery code works once …
        sign_in_to_second_step(member, "mia@acme.test")
        member.get_by_label("Verification code").fill(codes[0])
        member.get_by_role("button", name="Verify").click()
        expect(member.get_by_text(re.compile("You used a recovery code; 9 left"))).to_be_visible()
        sign_out(member)
        # … and fails the second time.
        sign_in_to_second_step(member, "mia@acme.test")
        member.get_by_label("Verification code").fill(codes[0])
        member.get_by_role("button", name="Verify").click()
        expect(member.get_by_text("That code is not valid, or was already used.")).to_be_visible()

        # The admin resets Mia's 2SV from "Check a user".
        ann.get_by_role("link", name="Authentication policies").click()
        ann.get_by_role("link", name=re.compile("Check a user")).click()
        ann.get_by_label(re.compile("Email")).fill("mia@acme.test")
        ann.get_by_role("button", name="Check").click()
        ann.get_by_role("link", name="Reset two-step verification…").click()
        ann.get_by_role("button", name="Reset two-step verification").click()  # its confirmation's
        expect(ann.locator(".message-success")).to_be_visible()

        # Mia must enrol again at her next sign-in.
        clock.shift(60)
        member = new_page()
        sign_in_to_second_step(member, "mia@acme.test")
        enrol(member)
        member.goto("/account/")
        expect(member.get_by_role("heading", name="Profile")).to_be_visible()

        # 16 minutes without activity end the session.
        clock.shift(16 * 60)
        member.goto("/account/")
        expect(member).to_have_url(re.compile("/login"))
        expect(member.get_by_text(re.compile("signed out after 15 minutes without activity"))).to_be_visible()

    actions = list(AuditEvent.objects.values_list("action", flat=True))
    for action in (
        "org:policy:updated",
        "account:2sv:enabled",
        "account:2sv:recovery_code_used",
        "account:2sv:failed",
        "org:account:2sv_reset",
        "account:session:expired",
    ):
        assert action in actions, action
