"""Inviting again, through every form that invites and the REST API's resend: the emails share
one limit (``orgs.services.invitation_limits``), a refusal is the caller's own error and changes
nothing, and re-inviting someone still "Invited" voids their earlier sign-in link.

Before: Users → Invite people, a product site's invite form and Settings → Administrators sent an
email every time the same address was invited again.
"""

from __future__ import annotations

import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from orgwarden.accounts import throttle
from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.api.tests.helpers import api_client_for
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import AdminInvitation, GroupMember
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services import invitation_limits
from orgwarden.testing import browser

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^/\s]+(/login/link/\S+)")
HOUR = "2026-05-04T10:30:30Z"  # half a minute into the window's second half: "Wait 30 minutes"


def token_of(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def post(client, url, data, capture):
    with capture(execute=True):
        return client.post(url, {"csrfmiddlewaretoken": token_of(client, url), **data})


def invite_url(org) -> str:
    return reverse("console:users_invite", args=[org.org_id])


def sent_to(mailoutbox, email: str) -> int:
    return sum(1 for m in mailoutbox if m.to == [email])


# --- Users → Invite people --------------------------------------------------------------------------


def test_users_invite_again_is_refused_on_the_form_and_invites_nobody(
    csrf_client, org, jira, mailoutbox, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    form = {"emails": "dana@partner.test", "site_ids": [jira.site_id], "role": "user"}
    with time_machine.travel(HOUR, tick=False):
        for _ in range(3):
            assert post(csrf_client, invite_url(org), form, capture).status_code == 302
        events = AuditEvent.objects.count()
        response = post(
            csrf_client, invite_url(org), {**form, "emails": "new@partner.test\ndana@partner.test"}, capture
        )
    assert response.status_code == 400
    body = response.content.decode()
    assert (
        "Too many invitation emails to dana@partner.test: nobody was invited. Wait 30 minutes, then "
        "try again, or invite the others without this address now." in body
    )
    assert "new@partner.test\ndana@partner.test</textarea>" in body  # kept, to take dana out
    assert sent_to(mailoutbox, "dana@partner.test") == 3 and sent_to(mailoutbox, "new@partner.test") == 0
    assert not Account.objects.filter(email="new@partner.test").exists()
    assert AuditEvent.objects.count() == events


def test_users_invite_again_voids_the_earlier_link(
    csrf_client, org, jira, mailoutbox, django_capture_on_commit_callbacks
):
    form = {"emails": "dana@partner.test", "site_ids": [jira.site_id], "role": "user"}
    post(csrf_client, invite_url(org), form, django_capture_on_commit_callbacks)
    post(csrf_client, invite_url(org), form, django_capture_on_commit_callbacks)
    first, again = (LINK.search(m.body).group(1) for m in mailoutbox)
    assert Client().post(first).status_code == 400
    assert Client().post(again).status_code == 302


# --- a product site's invite form -------------------------------------------------------------------


def test_a_sites_invite_form_refuses_the_same(
    csrf_client, org, jira, mailoutbox, django_capture_on_commit_callbacks
):
    page = reverse("console:product_site", args=[org.org_id, jira.site_id])
    url = f"/admin/o/{org.org_id}/products/{jira.site_id}/invite"
    form = {"invite-emails": "dana@partner.test", "invite-role": "user"}
    with time_machine.travel(HOUR, tick=False):
        for _ in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                done = csrf_client.post(url, {"csrfmiddlewaretoken": token_of(csrf_client, page), **form})
            assert done.status_code == 302
        members = GroupMember.objects.count()
        refused = csrf_client.post(url, {"csrfmiddlewaretoken": token_of(csrf_client, page), **form})
    assert refused.status_code == 400
    assert "Too many invitation emails to dana@partner.test. Wait 30 minutes" in refused.content.decode()
    assert sent_to(mailoutbox, "dana@partner.test") == 3 and GroupMember.objects.count() == members


# --- Settings → Administrators ----------------------------------------------------------------------


def test_an_admin_invitation_sent_again_too_often_is_a_form_error(
    csrf_client, org, mailoutbox, django_capture_on_commit_callbacks
):
    url = f"/admin/o/{org.org_id}/admins/"
    with time_machine.travel(HOUR, tick=False):
        for _ in range(3):
            assert (
                post(
                    csrf_client, url, {"email": "ops@partner.test"}, django_capture_on_commit_callbacks
                ).status_code
                == 302
            )
        pending = AdminInvitation.objects.get(revoked_at__isnull=True)
        refused = post(csrf_client, url, {"email": "ops@partner.test"}, django_capture_on_commit_callbacks)
    assert refused.status_code == 400
    assert "Too many invitation emails to ops@partner.test. Wait 30 minutes" in refused.content.decode()
    # The last invitation sent still stands: its link works.
    assert AdminInvitation.objects.get(revoked_at__isnull=True) == pending
    assert sent_to(mailoutbox, "ops@partner.test") == 3


# --- the REST API's resend shares the counts ---------------------------------------------------------


def test_rest_resend_counts_with_the_invitations(
    org_admin, org, admin, jira, mailoutbox, django_capture_on_commit_callbacks
):
    api = api_client_for(org_admin)
    with time_machine.travel(HOUR, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            dana = s.user_invite(org=org, actor=admin, email="dana@partner.test", site_ids=[jira.site_id])
            s.user_invite(org=org, actor=admin, email="dana@partner.test", site_ids=[jira.site_id])
        resend = f"/api/admin/v1/orgs/{org.org_id}/users/{dana.account_id}/invitation/resend"
        with django_capture_on_commit_callbacks(execute=True):
            assert api.post(resend).status_code == 200
        limited = api.post(resend)
    assert limited.status_code == 429 and limited["Retry-After"] == "1771"
    assert limited.json() == {
        "code": "rate_limited",
        "message": "Too many invitation emails to dana@partner.test. Wait 30 minutes, then try again.",
    }
    assert sent_to(mailoutbox, "dana@partner.test") == 3


# --- in a real browser ------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_inviting_again_too_often_in_a_browser(new_page, org_admin, monkeypatch):
    from django.core import mail
    from playwright.sync_api import expect

    # A year-long window: the test cannot straddle two of them (the hour's counts would thin out).
    limits = invitation_limits.INVITATION_EMAILS
    monkeypatch.setattr(
        invitation_limits,
        "INVITATION_EMAILS",
        throttle.PerAddressAndClient(
            throttle.Throttle("invitation-browser-test", 366 * 86400, fixed_limit=3),
            limits.per_client,
            limits.too_many,
        ),
    )
    org = org_admin.org
    s.site_add(
        org=org, actor=org_admin.account, product="confluence", name="Acme Wiki", url="https://wiki.acme.test"
    )
    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    for _ in range(3):
        page.goto(reverse("console:users_invite", args=[org.org_id]))
        page.get_by_label("Email addresses").fill("eli@partner.test")
        page.get_by_role("button", name="Send invitations").click()
        expect(page.get_by_text("Invited eli@partner.test to Acme Wiki. They get an email.")).to_be_visible()

    page.goto(reverse("console:users_invite", args=[org.org_id]))
    emails = page.get_by_label("Email addresses")
    emails.fill("fay@partner.test\neli@partner.test")
    page.get_by_role("button", name="Send invitations").focus()
    page.keyboard.press("Enter")  # keyboard is enough
    expect(
        page.get_by_text(
            re.compile(
                r"Too many invitation emails to eli@partner\.test: nobody was invited\. "
                r"Wait \d+ (minutes|hours)"
            )
        )
    ).to_be_visible()
    expect(emails).to_have_value("fay@partner.test\neli@partner.test")
    assert [m.to for m in mail.outbox].count(["eli@partner.test"]) == 3
    assert ["fay@partner.test"] not in [m.to for m in mail.outbox]

    # Taking eli out invites the other at once.
    emails.fill("fay@partner.test")
    page.get_by_role("button", name="Send invitations").click()
    expect(page.get_by_text("Invited fay@partner.test to Acme Wiki. They get an email.")).to_be_visible()
