"""Support emails, through the real views: the support team hears of new requests and of what org
admins add; the org admins in the conversation hear of replies, severity changes and resolution.
Emails leave after commit (Django's locmem outbox), one per recipient; a refused change sends none."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.orgs.models import OrgAdmin
from orgwarden.orgs.tests.factories import OrgAdminFactory
from orgwarden.support import services
from orgwarden.support.models import SupportRequest

pytestmark = pytest.mark.django_db
FRIDAY_EVENING = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)


def signed_in(account) -> Client:
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    return client


def recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def test_the_support_team_hears_of_new_requests_and_of_what_admins_add(
    admin_client, org, settings, django_capture_on_commit_callbacks
):
    settings.SUPPORT_EMAILS = ["support@operator.example", "oncall@operator.example"]
    settings.SUPPORT_TIME_ZONE = "Europe/Paris"
    url = reverse("console:support", args=[org.org_id])
    with time_machine.travel(FRIDAY_EVENING, tick=False), django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"severity": "L3", "summary": "Jira is slow", "description": "Since 10"})
    ticket = SupportRequest.objects.get()
    assert recipients() == ["oncall@operator.example", "support@operator.example"]
    first = mail.outbox[0]
    assert first.subject == f"[orgwarden] [L3] New support request from {org.name}: Jira is slow"
    assert "Since 10" in first.body
    assert settings.BASE_URL + reverse("support:detail", args=[ticket.request_id]) in first.body
    # Monday 18:00 UTC is 19:00 in Paris, but the deadline follows Paris business hours: 18:00 there.
    assert "First response due: Monday 30 November 2026, 17:00 UTC" in first.body
    assert "(Monday 30 November 2026, 18:00 Europe/Paris)" in first.body

    mail.outbox.clear()
    detail = reverse("console:support_request", args=[org.org_id, ticket.request_id])
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(detail, {"body": "Still slow & <worse>"}).status_code == 302
    assert recipients() == ["oncall@operator.example", "support@operator.example"]
    assert "Update on a support request" in mail.outbox[0].subject
    assert "Still slow & <worse>" in mail.outbox[0].body  # plain text, not HTML-escaped


def test_without_a_support_address_every_active_staff_account_is_emailed(
    admin_client, org, settings, django_capture_on_commit_callbacks
):
    settings.SUPPORT_EMAILS = []
    staff = AccountFactory(is_staff=True, email="sam@operator.example")
    AccountFactory(is_staff=True, email="gone@operator.example", status=Account.Status.DEACTIVATED)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("console:support", args=[org.org_id]),
            {"severity": "L1", "summary": "Down", "description": "All of it"},
        )
    assert recipients() == [staff.email]


def test_admins_in_the_conversation_hear_of_replies_severity_and_resolution(
    org, org_admin, django_capture_on_commit_callbacks
):
    raiser = org_admin.account
    ticket = services.support_request_raise(
        org=org, actor=raiser, severity="L3", summary="Jira is slow", description="d"
    )
    helper = OrgAdminFactory(org=org).account
    services.support_request_comment(org=org, actor=helper, request_id=ticket.request_id, body="Me too")
    OrgAdminFactory(org=org)  # an admin who took no part: not emailed
    former = OrgAdminFactory(org=org).account
    services.support_request_comment(org=org, actor=former, request_id=ticket.request_id, body="+1")
    OrgAdmin.objects.filter(org=org, account=former).delete()  # no longer an admin: not emailed
    mail.outbox.clear()
    staff = signed_in(AccountFactory(is_staff=True))

    with django_capture_on_commit_callbacks(execute=True):
        staff.post(reverse("support:detail", args=[ticket.request_id]), {"body": "Looking into it"})
    assert recipients() == sorted([raiser.email, helper.email])
    reply = mail.outbox[0]
    assert reply.subject == "[orgwarden] [L3] Jira is slow: Support replied to your request"
    assert "Looking into it" in reply.body
    assert reverse("console:support_request", args=[org.org_id, ticket.request_id]) in reply.body

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(reverse("support:severity", args=[ticket.request_id]), {"severity": "L2"})
    assert recipients() == sorted([raiser.email, helper.email])
    assert "changed the severity from L3 to L2" in mail.outbox[0].body
    assert mail.outbox[0].subject.startswith("[orgwarden] [L2] ")

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(reverse("support:resolve", args=[ticket.request_id]))
    assert recipients() == sorted([raiser.email, helper.email])
    assert (
        "Support resolved your request" in mail.outbox[0].body and "Status: Resolved" in mail.outbox[0].body
    )


def test_a_refused_change_sends_nothing(admin_client, org, org_admin, django_capture_on_commit_callbacks):
    ticket = services.support_request_raise(
        org=org, actor=org_admin.account, severity="L3", summary="Jira is slow", description="d"
    )
    operator = AccountFactory(is_staff=True)
    services.support_request_resolve(actor=operator, request_id=ticket.request_id)
    staff = signed_in(operator)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        staff.post(reverse("support:resolve", args=[ticket.request_id]))  # already resolved
        staff.post(reverse("support:severity", args=[ticket.request_id]), {"severity": "L3"})  # unchanged
        staff.post(reverse("support:detail", args=[ticket.request_id]), {"body": ""})
        admin_client.post(reverse("console:support", args=[org.org_id]), {"severity": "L9", "summary": "x"})
    assert callbacks == [] and mail.outbox == []
