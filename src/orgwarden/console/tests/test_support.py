"""Support pages: the org admin's requests and conversation; the staff queue (404 for anyone else)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.support import services
from orgwarden.support.models import SupportRequest

FRIDAY_EVENING = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)


@pytest.fixture
def staff_client(db):
    staff = AccountFactory(is_staff=True)
    client = Client()
    client.force_login(staff, backend="orgwarden.accounts.backends.AccountBackend")
    client.staff = staff
    return client


def raise_one(org, admin, severity="L3", summary="Jira is slow"):
    return services.support_request_raise(
        org=org, actor=admin, severity=severity, summary=summary, description="d"
    )


@pytest.mark.django_db
def test_admin_raises_and_sees_the_deadline(admin_client, org):
    url = reverse("console:support", args=[org.org_id])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "1 business day" in page.content.decode()
    with time_machine.travel(FRIDAY_EVENING, tick=False):
        answer = admin_client.post(
            url, {"severity": "L3", "summary": "Jira is slow", "description": "Since 10"}
        )
    request = SupportRequest.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("console:support_request", args=[org.org_id, request.request_id])
    detail = admin_client.get(answer["Location"]).content.decode()
    assert "Monday 30 November 2026, 18:00 UTC" in detail
    assert "Since 10" in detail


@pytest.mark.django_db
def test_bad_form_is_a_400_without_change(admin_client, org):
    answer = admin_client.post(
        reverse("console:support", args=[org.org_id]), {"severity": "L9", "summary": ""}
    )
    assert answer.status_code == 400
    assert not SupportRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="org:support_request:raised").exists()


@pytest.mark.django_db
def test_admin_comments_and_other_orgs_get_404(admin_client, org, org_admin, other_org_admin):
    ticket = raise_one(org, org_admin.account)
    url = reverse("console:support_request", args=[org.org_id, ticket.request_id])
    assert admin_client.post(url, {"body": "More detail"}).status_code == 302
    assert ticket.messages.count() == 2
    assert admin_client.post(url, {"body": ""}).status_code == 400
    other = Client()
    other.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    foreign = reverse("console:support_request", args=[other_org_admin.org.org_id, ticket.request_id])
    assert other.get(foreign).status_code == 404
    assert other.post(foreign, {"body": "x"}).status_code == 404


@pytest.mark.django_db
def test_queue_is_staff_only(admin_client, org, org_admin):
    ticket = raise_one(org, org_admin.account)
    assert admin_client.get(reverse("support:queue")).status_code == 404
    assert admin_client.post(reverse("support:resolve", args=[ticket.request_id])).status_code == 404
    assert Client().get(reverse("support:queue")).status_code == 302  # to sign-in


@pytest.mark.django_db
def test_queue_orders_by_deadline_and_highlights_the_urgent(staff_client, org, org_admin, other_org_admin):
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday
    with time_machine.travel(now, tick=False):
        low = raise_one(org, org_admin.account, "L4", "Low")
        urgent = raise_one(other_org_admin.org, other_org_admin.account, "L1", "Down")
    with time_machine.travel(now + timedelta(minutes=30), tick=False):
        page = staff_client.get(reverse("support:queue")).content.decode()
    assert page.index("Down") < page.index("Low")
    assert "deadline-at-risk" in page and "deadline-pending" in page
    with time_machine.travel(now + timedelta(hours=2), tick=False):
        assert "Overdue" in staff_client.get(reverse("support:queue")).content.decode()
    assert low.request_id in page and urgent.request_id in page


@pytest.mark.django_db
def test_staff_reply_severity_resolve(staff_client, org, org_admin, admin_client):
    with time_machine.travel(FRIDAY_EVENING, tick=False):
        ticket = raise_one(org, org_admin.account)
    detail = reverse("support:detail", args=[ticket.request_id])
    assert staff_client.get(detail).status_code == 200
    assert staff_client.post(detail, {"body": "On it"}).status_code == 302
    assert staff_client.post(detail, {"body": ""}).status_code == 400
    sev = reverse("support:severity", args=[ticket.request_id])
    assert staff_client.post(sev, {"severity": "L1"}).status_code == 302
    assert staff_client.post(sev, {"severity": "L1"}).status_code == 302  # unchanged: message, no event
    assert staff_client.post(sev, {"severity": "bad"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.severity == "L1"
    assert ticket.response_due_at == FRIDAY_EVENING + timedelta(hours=1)
    assert staff_client.post(reverse("support:resolve", args=[ticket.request_id])).status_code == 302
    assert staff_client.post(reverse("support:resolve", args=[ticket.request_id])).status_code == 302
    assert staff_client.post(reverse("support:resolve", args=["missing"])).status_code == 404
    assert (
        staff_client.post(reverse("support:severity", args=["missing"]), {"severity": "L2"}).status_code
        == 404
    )
    assert staff_client.get(reverse("support:detail", args=["missing"])).status_code == 404
    actions = AuditEvent.objects.filter(action__startswith="org:support_request").values_list(
        "action", flat=True
    )
    assert sorted(actions) == [
        "org:support_request:raised",
        "org:support_request:replied",
        "org:support_request:resolved",
        "org:support_request:severity_changed",
    ]
    conversation = admin_client.get(reverse("console:support_request", args=[org.org_id, ticket.request_id]))
    assert "On it" in conversation.content.decode()
    assert "Show resolved" in staff_client.get(reverse("support:queue")).content.decode()
    assert "Jira is slow" in staff_client.get(reverse("support:queue") + "?resolved=1").content.decode()
