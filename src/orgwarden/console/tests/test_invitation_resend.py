"""Resend invitation, on an invited person's page and in the REST API; and "Invited" on every
console list that shows a person's status (Users, a domain's accounts, External users).

Before: an invitation whose email got lost or whose one-time link expired could not be sent again
(re-inviting an account with an unverified email on an unverified domain sends only the sign-in
page, useless without a password), and Directory → Domains → Review accounts said "Active" for a
person the Users list calls "Invited".
"""

from __future__ import annotations

import re

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.api.tests.helpers import api_client_for
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import Domain, OrgUser
from orgwarden.orgs.services import access as s
from orgwarden.testing import browser

pytestmark = pytest.mark.django_db

BACKEND = "orgwarden.accounts.backends.AccountBackend"
LINK = re.compile(r"https?://[^/\s]+(/login/link/\S+)")


@pytest.fixture
def invited(org, admin, jira, django_capture_on_commit_callbacks) -> Account:
    with django_capture_on_commit_callbacks(execute=True):
        return s.user_invite(org=org, actor=admin, email="dana@partner.test", site_ids=[jira.site_id])


def detail_url(org, account) -> str:
    return reverse("console:user_detail", args=[org.org_id, account.account_id])


def resend_url(org, account) -> str:
    return reverse("console:user_invitation_resend", args=[org.org_id, account.account_id])


def api_url(org, account) -> str:
    return f"/api/admin/v1/orgs/{org.org_id}/users/{account.account_id}/invitation/resend"


def sign_in_with_link(mail) -> None:
    assert Client().post(LINK.search(mail.body).group(1)).status_code == 302


# --- the console ----------------------------------------------------------------------------------


def test_an_invited_persons_page_offers_to_resend(admin_client, org, invited):
    body = admin_client.get(detail_url(org, invited)).content.decode()
    assert f'<form method="post" action="{resend_url(org, invited)}">' in body
    assert "a new sign-in link replaces the old one" in body
    assert ">Resend invitation</button>" in body


def test_resend_with_the_forms_csrf_token(
    org_admin, org, invited, mailoutbox, django_capture_on_commit_callbacks
):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org_admin.account, backend=BACKEND)
    assert client.post(resend_url(org, invited)).status_code == 403  # no token: refused, nothing sent
    assert len(mailoutbox) == 1

    page = client.get(detail_url(org, invited)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(resend_url(org, invited), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == detail_url(org, invited)
    first, again = mailoutbox
    assert again.to == ["dana@partner.test"] and "sent your invitation again" in again.body
    assert Client().post(LINK.search(first.body).group(1)).status_code == 400  # superseded
    page = client.get(response["Location"]).content.decode()
    assert (
        "Invitation sent to dana@partner.test with a new sign-in link; earlier links no longer work." in page
    )
    assert AuditEvent.objects.filter(action="org:user:invitation_resent", actor_type="account").count() == 1


def test_someone_signed_in_is_not_offered_it_and_a_post_says_why(
    admin_client, org, invited, mailoutbox, django_capture_on_commit_callbacks
):
    sign_in_with_link(mailoutbox[0])
    page = admin_client.get(detail_url(org, invited)).content.decode()
    assert "Resend invitation" not in page and resend_url(org, invited) not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(resend_url(org, invited), follow=True)
    assert response.status_code == 200
    assert "dana@partner.test has signed in since the invitation" in response.content.decode()
    assert len(mailoutbox) == 1


def test_too_many_in_the_console_says_how_long_to_wait(
    admin_client, org, invited, mailoutbox, django_capture_on_commit_callbacks
):
    # Half a minute into the hour's window: 29.5 minutes left, said as 30.
    travel = time_machine.travel("2026-05-04T10:30:30Z", tick=False)
    with travel, django_capture_on_commit_callbacks(execute=True):
        for _ in range(4):
            response = admin_client.post(resend_url(org, invited), follow=True)
    assert "Too many invitation emails to dana@partner.test. Wait 30 minutes, then try again." in (
        response.content.decode()
    )
    assert len(mailoutbox) == 1 + 3


def test_another_orgs_admin_or_person_is_a_404(client, org, invited, other_org_admin, admin_client):
    client.force_login(other_org_admin.account, backend=BACKEND)
    assert client.post(resend_url(org, invited)).status_code == 404
    theirs = AccountFactory(email="theirs@other.test")
    OrgUser.objects.create(org=other_org_admin.org, account=theirs, email=theirs.email)
    assert admin_client.post(resend_url(org, theirs)).status_code == 404
    assert admin_client.get(resend_url(org, invited)).status_code == 405
    assert not AuditEvent.objects.filter(action="org:user:invitation_resent").exists()


# --- the REST API ---------------------------------------------------------------------------------


def test_rest_resend(org_admin, org, invited, jira, mailoutbox, django_capture_on_commit_callbacks):
    api = api_client_for(org_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(api_url(org, invited))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "account_id": invited.account_id,
        "email": "dana@partner.test",
        "sites": [{"id": jira.site_id, "name": "Acme Jira", "url": "https://jira.acme.test"}],
        "signin_link": True,
    }
    assert mailoutbox[-1].to == ["dana@partner.test"] and "sent your invitation again" in mailoutbox[-1].body
    event = AuditEvent.objects.get(action="org:user:invitation_resent")
    assert event.actor_type == "api_key"


def test_rest_refusals(
    org_admin, org, invited, other_org_admin, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.API_RATE_LIMIT_PER_MINUTE = 1000  # the key's own limit is not what this test is about
    api = api_client_for(org_admin)
    theirs = AccountFactory(email="theirs@other.test")
    OrgUser.objects.create(org=other_org_admin.org, account=theirs, email=theirs.email)
    # Another org's id, or another org's person: 404, as if they did not exist.
    other = f"/api/admin/v1/orgs/{other_org_admin.org.org_id}/users/{invited.account_id}/invitation/resend"
    assert api.post(other).json()["code"] == "not_found"
    assert api.post(api_url(org, theirs)).status_code == 404

    with time_machine.travel("2026-05-04T10:30:30Z", tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(3):
                assert api.post(api_url(org, invited)).status_code == 200
        limited = api.post(api_url(org, invited))
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    assert limited["Retry-After"] == "1771"
    assert "Wait 30 minutes" in limited.json()["message"]


def test_rest_refuses_someone_signed_in_since(org_admin, org, invited, mailoutbox):
    api = api_client_for(org_admin)
    sign_in_with_link(mailoutbox[-1])
    refused = api.post(api_url(org, invited))
    assert refused.status_code == 409
    assert refused.json() == {
        "code": "not_invited",
        "message": "dana@partner.test has signed in since the invitation: "
        "there is no invitation to send again.",
    }
    assert len(mailoutbox) == 1


def test_rest_documents_the_operation(client):
    schema = client.get("/api/openapi.json").json()
    operation = schema["paths"]["/api/admin/v1/orgs/{orgId}/users/{accountId}/invitation/resend"]["post"]
    assert {"200", "400", "401", "404", "409", "413", "429"} <= set(operation["responses"])


# --- "Invited" on every list that shows a person's status -------------------------------------------


def test_a_domains_accounts_say_invited_as_users_does(admin_client, org, admin, jira, mailoutbox):
    domain = Domain.objects.create(org=org, name="acme.test", token="t", status="verified", method="dns")
    s.user_invite(org=org, actor=admin, email="ivy@acme.test", site_ids=[jira.site_id])
    AccountFactory(email="sam@acme.test")  # signed up on its own: active
    url = reverse("console:domain_accounts", args=[org.org_id, domain.domain_id])
    body = admin_client.get(url).content.decode()
    rows = {
        email: status.strip()
        for email, status in re.findall(r"<td>([^<]+@acme\.test)</td>\s*<td>(.*?)</td>", body, flags=re.S)
    }
    assert rows == {
        "ivy@acme.test": '<span class="badge">Invited</span>',
        "sam@acme.test": '<span class="badge badge-success">Active</span>',
    }
    users = admin_client.get(reverse("console:users", args=[org.org_id])).content.decode()
    assert re.search(r"ivy@acme\.test</td>.*?<span class=\"badge\">Invited</span>", users, flags=re.S)


def test_a_domains_accounts_page_costs_the_same_for_more_rows(admin_client, org, admin, jira):
    domain = Domain.objects.create(org=org, name="acme.test", token="t", status="verified", method="dns")
    url = reverse("console:domain_accounts", args=[org.org_id, domain.domain_id])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    s.user_invite(org=org, actor=admin, email="a0@acme.test", site_ids=[jira.site_id])
    queries()  # the session's and the page's first reads, once
    one = queries()
    s.users_invite(
        org=org, actor=admin, emails=[f"a{i}@acme.test" for i in range(1, 6)], site_ids=[jira.site_id]
    )
    assert queries() == one


def test_external_users_badges_match_the_users_list(admin_client, org, admin, jira, invited):
    gone = s.user_invite(org=org, actor=admin, email="gone@partner.test", site_ids=[jira.site_id])
    Account.objects.filter(pk=gone.pk).update(status=Account.Status.DEACTIVATED)
    body = admin_client.get(reverse("console:external_users", args=[org.org_id])).content.decode()
    assert '<span class="badge">Invited</span>' in body
    assert '<span class="badge badge-danger">Deactivated</span>' in body


# --- in a real browser ------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_invite_see_invited_resend_and_the_email_arrives(new_page, org_admin):
    from django.core import mail
    from playwright.sync_api import expect

    org = org_admin.org
    s.site_add(
        org=org, actor=org_admin.account, product="confluence", name="Acme Wiki", url="https://wiki.acme.test"
    )
    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:users_invite", args=[org.org_id]))
    page.get_by_label("Email addresses").fill("eli@partner.test")
    page.get_by_role("button", name="Send invitations").click()
    expect(page.get_by_text("Invited eli@partner.test to Acme Wiki. They get an email.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="eli@partner.test")
    expect(row.get_by_text("Invited", exact=True)).to_be_visible()
    first = [m for m in mail.outbox if m.to == ["eli@partner.test"]]
    assert len(first) == 1

    row.get_by_role("link", name="eli").click()
    expect(page.get_by_role("heading", name="eli", level=1)).to_be_visible()
    button = page.get_by_role("button", name="Resend invitation")
    button.focus()
    page.keyboard.press("Enter")  # keyboard is enough
    expect(
        page.get_by_text(
            "Invitation sent to eli@partner.test with a new sign-in link; earlier links no longer work."
        )
    ).to_be_visible()
    sent = [m for m in mail.outbox if m.to == ["eli@partner.test"]]
    assert len(sent) == 2 and "sent your invitation again" in sent[1].body

    # The new email's link signs Eli in; the first email's no longer does.
    eli = new_page()
    eli.goto(LINK.search(first[0].body).group(1))
    eli.get_by_role("button").first.click()
    expect(eli.get_by_text(re.compile("invalid|expired|used", re.I)).first).to_be_visible()
    eli.goto(LINK.search(sent[1].body).group(1))
    eli.get_by_role("button").first.click()
    expect(eli.get_by_role("heading", name=re.compile("password", re.I)).first).to_be_visible()
