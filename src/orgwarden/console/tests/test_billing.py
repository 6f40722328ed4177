"""Billing page: the trial button (or why not), billable count, estimate and calculator."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgwarden.accounts.models import Account
from orgwarden.audit.models import AuditEvent
from orgwarden.billing.models import BillableSnapshot, Subscription
from orgwarden.orgs.models import Domain, OrgUser

pytestmark = pytest.mark.django_db


def test_without_a_verified_domain_the_button_explains(admin_client, org):
    page = admin_client.get(reverse("console:billing", args=[org.org_id])).content.decode()
    assert "Verify a domain and claim its accounts first" in page
    assert reverse("console:domains", args=[org.org_id]) in page
    answer = admin_client.post(reverse("console:billing_trial_start", args=[org.org_id]))
    assert answer.status_code == 302
    assert not Subscription.objects.exists()


def test_start_trial_and_see_days_left(admin_client, org):
    Domain.objects.create(org=org, name="acme.example", token="t", status=Domain.Status.VERIFIED)
    page = admin_client.get(reverse("console:billing", args=[org.org_id])).content.decode()
    assert "Start your 30-day free trial" in page
    admin_client.post(reverse("console:billing_trial_start", args=[org.org_id]))
    assert AuditEvent.objects.filter(action="org:subscription:trial_started").count() == 1
    page = admin_client.get(reverse("console:billing", args=[org.org_id])).content.decode()
    assert "30 days left" in page
    assert "stop being enforced" in page


def test_estimate_calculator_and_history(admin_client, org):
    BillableSnapshot.objects.create(org=org, day="2026-11-01", count=3)
    url = reverse("console:billing", args=[org.org_id])
    page = admin_client.get(url, {"users": "300"}).content.decode()
    assert "300 users would cost <strong>USD 1150.00</strong>" in page
    assert "<svg" in page and "1 Nov 2026" in page
    assert admin_client.get(url, {"users": "-3"}).status_code == 400


def test_another_orgs_billing_is_404(admin_client, other_org_admin):
    org = other_org_admin.org
    assert admin_client.get(reverse("console:billing", args=[org.org_id])).status_code == 404
    assert admin_client.post(reverse("console:billing_trial_start", args=[org.org_id])).status_code == 404


def test_the_not_billable_list_says_when_it_shows_only_the_first_500(admin_client, org):
    """It lists the first 500 by email; with more it says how many there are, not a silent cut."""
    accounts = Account.objects.bulk_create(
        Account(email=f"p{i:04}@example.org", display_name=f"P {i}", password="!") for i in range(520)
    )
    OrgUser.objects.bulk_create(OrgUser(org=org, account=a, email=a.email) for a in accounts)
    total = OrgUser.objects.filter(org=org).count()  # nobody has product access: nobody is billed
    page = admin_client.get(f"/admin/o/{org.org_id}/billing/").content.decode()
    assert f"Not billable ({total})" in page and f"The first 500 of {total}, by email." in page
    assert page.count("@example.org</td>") == 500
