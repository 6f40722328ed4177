"""The operator's step: mark a trial or lapsed subscription paid, or lapse one — through the service
(audited, admins emailed after commit) and the ``orgwarden billing`` command."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.billing import selectors, services
from orgwarden.billing.exceptions import AlreadyInStatus, NoSubscription, NotOperator
from orgwarden.billing.models import Subscription
from orgwarden.billing.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def events(action):
    return list(AuditEvent.objects.filter(action=action))


def test_mark_paid_resumes_a_lapsed_subscription(org, org_admin, django_capture_on_commit_callbacks):
    SubscriptionFactory(org=org, status=Subscription.Status.LAPSED)
    assert not selectors.security_enforced(org=org)
    staff = AccountFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        sub = services.subscription_mark_paid(org=org, operator=staff, note="INV-42")
    assert sub.status == Subscription.Status.PAID and sub.paid_at and sub.lapsed_at is None
    assert selectors.security_enforced(org=org)
    (event,) = events("org:subscription:paid")
    assert event.org_id == org.org_id and event.actor_id == staff.account_id
    assert event.details == {"from": "lapsed", "by": "operator", "note": "INV-42"}
    assert [m.to for m in mail.outbox] == [[org_admin.account.email]]
    assert "is paid" in mail.outbox[0].subject


def test_lapse_pauses_enforcement_and_emails_the_admins(org, org_admin, django_capture_on_commit_callbacks):
    SubscriptionFactory(org=org, status=Subscription.Status.TRIAL)
    with django_capture_on_commit_callbacks(execute=True):
        services.subscription_lapse(org=org, operator=None)
    assert Subscription.objects.get(org=org).status == Subscription.Status.LAPSED
    assert not selectors.security_enforced(org=org)
    assert "lapsed on" in selectors.enforcement_pause(org)
    (event,) = events("org:subscription:lapsed")
    assert event.actor_type == "system" and event.details["from"] == "trial"
    assert "has lapsed" in mail.outbox[0].subject and "Your settings are kept" in mail.outbox[0].body


def test_refusals_change_nothing(org, django_capture_on_commit_callbacks):
    with pytest.raises(NoSubscription):
        services.subscription_mark_paid(org=org, operator=None)
    SubscriptionFactory(org=org)
    with pytest.raises(AlreadyInStatus, match="already paid"):
        services.subscription_mark_paid(org=org, operator=None)
    with pytest.raises(NotOperator):
        services.subscription_lapse(org=org, operator=AccountFactory())  # not staff
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.subscription_lapse(org=org, operator=None)
        with pytest.raises(AlreadyInStatus, match="already lapsed"):
            services.subscription_lapse(org=org, operator=None)
    assert len(callbacks) == 1
    assert len(events("org:subscription:lapsed")) == 1 and not events("org:subscription:paid")


def test_the_command_marks_paid_and_lapses(org, capsys):
    SubscriptionFactory(org=org, status=Subscription.Status.TRIAL)
    call_command("billing", "status", "--org", org.org_id)
    assert "free trial" in capsys.readouterr().out
    call_command("billing", "mark-paid", "--org", org.org_id, "--note", "wire 7")
    out = capsys.readouterr().out
    assert f"{org.name} ({org.org_id}): paid" in out and "security features enforced" in out
    assert events("org:subscription:paid")[0].details["note"] == "wire 7"
    call_command("billing", "lapse", "--org", org.org_id)
    assert "security features NOT enforced" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already lapsed"):
        call_command("billing", "lapse", "--org", org.org_id)
    with pytest.raises(CommandError, match="No organization with the id 'nope'"):
        call_command("billing", "mark-paid", "--org", "nope")
    with pytest.raises(CommandError, match="No organization with the id"):  # not cut to the real id
        call_command("billing", "mark-paid", "--org", f"{org.org_id}zz")


def test_staff_mark_paid_and_lapse_from_a_support_request(org, org_admin, admin_client):
    from django.test import Client
    from django.urls import reverse

    from orgwarden.support import services as support

    ticket = support.support_request_raise(
        org=org, actor=org_admin.account, severity="L4", summary="We want to pay", description="Invoice us"
    )
    staff = AccountFactory(is_staff=True)
    client = Client()
    client.force_login(staff, backend="orgwarden.accounts.backends.AccountBackend")
    detail = reverse("support:detail", args=[ticket.request_id])
    paid = reverse("support:subscription_paid", args=[ticket.request_id])
    lapse = reverse("support:subscription_lapse", args=[ticket.request_id])

    assert "Not started" in client.get(detail).content.decode()
    response = client.post(paid, {"note": "INV-1"}, follow=True)
    assert "has not started its free trial" in response.content.decode()
    assert not Subscription.objects.exists()

    SubscriptionFactory(org=org, status=Subscription.Status.LAPSED)
    assert admin_client.post(paid).status_code == 404  # org admins are not operators
    assert client.post(reverse("support:subscription_paid", args=["missing"])).status_code == 404
    response = client.post(paid, {"note": "INV-1"}, follow=True)
    assert f"{org.name}&#x27;s subscription is paid." in response.content.decode()
    assert Subscription.objects.get().status == Subscription.Status.PAID
    event = AuditEvent.objects.get(action="org:subscription:paid")
    assert event.actor_id == staff.account_id and event.details["note"] == "INV-1"
    page = client.get(detail).content.decode()
    assert "Mark paid" not in page and "Lapse the subscription" in page
    client.post(lapse)
    assert Subscription.objects.get().status == Subscription.Status.LAPSED
