"""The security subscription on the Security pages: "Start your 30-day free trial" (or why not yet),
"not enforced because the subscription lapsed" with a link to Billing, the trial's days left."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgwarden.audit.models import AuditEvent
from orgwarden.billing.models import Subscription
from orgwarden.billing.tests.factories import SubscriptionFactory
from orgwarden.orgs.models import Domain
from orgwarden.testing import browser

pytestmark = pytest.mark.django_db
SECURITY_PAGES = ["console:identity_providers", "console:policies", "console:audit_log", "console:api_tokens"]


def page(client, org, name="console:policies") -> str:
    response = client.get(reverse(name, args=[org.org_id]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("name", SECURITY_PAGES)
def test_without_a_verified_domain_the_trial_button_explains_and_links_to_domains(admin_client, org, name):
    html = page(admin_client, org, name)
    assert "Not enforced: " in html and "has no security subscription yet" in html
    assert "Verify a domain and claim its accounts first" in html
    assert f'href="{reverse("console:domains", args=[org.org_id])}"' in html
    assert '<button type="button" disabled aria-describedby="trial-needs-domain">' in html


def test_the_trial_starts_from_a_security_page_and_comes_back_to_it(admin_client, org):
    Domain.objects.create(org=org, name="acme.example", token="t", status=Domain.Status.VERIFIED)
    here = reverse("console:identity_providers", args=[org.org_id])
    assert "Start your 30-day free trial</button>" in page(admin_client, org, "console:identity_providers")
    response = admin_client.post(reverse("console:billing_trial_start", args=[org.org_id]), {"next": here})
    assert response.status_code == 302 and response["Location"] == here
    assert AuditEvent.objects.filter(action="org:subscription:trial_started", org_id=org.org_id).count() == 1
    html = page(admin_client, org, "console:identity_providers")
    assert "Your 30-day free trial has started" in html
    assert "Security subscription: free trial, <strong>30 days left</strong>" in html
    assert "Start your 30-day free trial" not in html


def test_next_outside_the_orgs_console_goes_to_billing(admin_client, org, other_org_admin):
    Domain.objects.create(org=org, name="acme.example", token="t", status=Domain.Status.VERIFIED)
    elsewhere = reverse("console:policies", args=[other_org_admin.org.org_id])
    for target in ("https://evil.example/admin/", "//evil.example/", elsewhere):
        response = admin_client.post(
            reverse("console:billing_trial_start", args=[org.org_id]), {"next": target}
        )
        assert response["Location"] == reverse("console:billing", args=[org.org_id])


def test_a_lapsed_subscription_says_enforcement_is_paused_and_links_to_billing(admin_client, org):
    SubscriptionFactory(org=org, status=Subscription.Status.LAPSED)
    for name in SECURITY_PAGES:
        html = page(admin_client, org, name)
        assert "Not enforced because the subscription lapsed" in html
        assert "your settings are kept" in html
        assert f'href="{reverse("console:billing", args=[org.org_id])}"' in html
    billing = admin_client.get(reverse("console:billing", args=[org.org_id])).content.decode()
    assert 'id="lapsed-notice"' in billing and "Lapsed on" in billing
    assert reverse("console:support", args=[org.org_id]) in billing


def test_no_banner_when_paid_nor_outside_the_security_section(admin_client, org):
    assert 'id="security-subscription"' not in page(admin_client, org, "console:users")
    assert 'id="security-subscription"' not in page(admin_client, org, "console:billing")
    SubscriptionFactory(org=org)
    for name in SECURITY_PAGES:
        assert 'id="security-subscription"' not in page(admin_client, org, name)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_lapsed_banner_leads_to_billing_in_a_browser(new_page):
    """An admin of a lapsed org opens a Security page, reads why nothing is enforced, follows the
    banner to Billing and finds how to resume (a support request to pay)."""
    from playwright.sync_api import expect

    from orgwarden.accounts.tests.factories import PASSWORD
    from orgwarden.orgs.tests.factories import OrgAdminFactory

    role = OrgAdminFactory(org__name="Acme", account__email="ann@acme.test")
    SubscriptionFactory(org=role.org, status=Subscription.Status.LAPSED)
    ann = new_page()
    browser.sign_in(ann, "ann@acme.test", PASSWORD)
    ann.get_by_role("link", name="Authentication policies").click()
    banner = ann.get_by_role("region", name="Not enforced because the subscription lapsed")
    expect(banner).to_contain_text("your settings are kept")
    banner.get_by_role("link", name="Go to Billing").click()
    expect(ann.get_by_role("heading", name="Billing", level=1)).to_be_visible()
    expect(ann.locator("#lapsed-notice")).to_contain_text("Not enforced because the subscription lapsed")
    ann.locator("#lapsed-notice").get_by_role("link", name="raise a support request").click()
    expect(ann.get_by_role("heading", name="Support requests", level=1)).to_be_visible()
