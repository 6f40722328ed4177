"""The operator's support pages, signed in as installation staff."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.billing.models import Subscription
from orgwarden.billing.tests.factories import SubscriptionFactory
from orgwarden.support import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(AccountFactory(is_staff=True), backend="orgwarden.accounts.backends.AccountBackend")
    return client


@pytest.mark.parametrize("step", ["subscription_paid", "subscription_lapse"])
@pytest.mark.parametrize("note", ["INV\x0042", "x" * 201])
def test_a_payment_reference_with_a_nul_or_too_long_is_refused_and_changes_nothing(
    org, org_admin, staff_client, step, note
):
    """A NUL in the note once reached the audit event's JSON: a 500 on PostgreSQL."""
    SubscriptionFactory(org=org, status=Subscription.Status.TRIAL)
    ticket = services.support_request_raise(
        org=org, actor=org_admin.account, severity="L4", summary="Invoice us", description="Please"
    )
    response = staff_client.post(
        reverse(f"support:{step}", args=[ticket.request_id]), {"note": note}, follow=True
    )
    assert response.status_code == 200
    assert "Write the payment reference as text of up to 200 characters." in response.content.decode()
    assert Subscription.objects.get(org=org).status == Subscription.Status.TRIAL
    assert not AuditEvent.objects.filter(action__startswith="org:subscription:").exists()
