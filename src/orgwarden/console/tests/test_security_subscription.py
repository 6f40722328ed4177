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
    # Disabled, and described by why (on a laptop: a phone shows the link alone, see below).
    assert '<button type="button" disabled aria-describedby="trial-needs-domain" class="wide-only">' in html


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


PHONE = {"width": 390, "height": 844}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("domain", [False, True], ids=["no-domain", "domain"])
def test_on_a_phone_the_banner_is_short_and_keeps_its_action(new_page, domain):
    """At 390 px the banner took about half the first screen of every Security page (350 px of its
    844): it says the same in fewer words there, and its action — Go to Domains, or Start your
    30-day free trial — is on the first screen and works. A laptop still reads it in full."""
    from playwright.sync_api import expect

    from orgwarden.accounts.tests.factories import PASSWORD
    from orgwarden.orgs.tests.factories import OrgAdminFactory

    role = OrgAdminFactory(org__name="Acme Corp", account__email="ann@acme.test")
    if domain:
        Domain.objects.create(org=role.org, name="acme.test", token="t", status=Domain.Status.VERIFIED)
    ann = new_page()
    ann.set_viewport_size(PHONE)
    browser.sign_in(ann, "ann@acme.test", PASSWORD)
    ann.goto(reverse("console:audit_log", args=[role.org.org_id]))
    banner = ann.locator("#security-subscription")
    expect(banner).to_be_visible()
    assert banner.bounding_box()["height"] <= 200
    expect(banner.get_by_role("heading", level=2)).to_have_text(
        "Not enforced: no security subscription yet", use_inner_text=True
    )
    heading = ann.get_by_role("heading", name="Audit log", level=1).bounding_box()
    assert heading["y"] + heading["height"] < PHONE["height"] / 2  # the page starts in the first half
    action = (
        banner.get_by_role("button", name="Start your 30-day free trial")
        if domain
        else banner.get_by_role("link", name="Go to Domains")
    )
    expect(action).to_be_visible()
    assert action.bounding_box()["y"] + action.bounding_box()["height"] <= PHONE["height"]
    expect(banner.get_by_role("button", name="Start your 30-day free trial", disabled=True)).to_have_count(0)
    action.click()
    if domain:
        expect(ann.locator("#security-subscription")).to_contain_text("free trial, 30 days left")
        expect(ann.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    else:
        expect(ann.get_by_role("heading", name="Domains", level=1)).to_be_visible()
        ann.go_back()
    if not domain:
        ann.set_viewport_size({"width": 1280, "height": 800})
        wide = ann.get_by_role("region", name="Not enforced: Acme Corp has no security subscription yet")
        expect(wide).to_contain_text(
            "your settings are kept and take effect as soon as the subscription starts"
        )
        expect(wide.get_by_role("button", name="Start your 30-day free trial")).to_be_disabled()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_lapsed_banner_is_short_and_leads_to_billing(new_page):
    from playwright.sync_api import expect

    from orgwarden.accounts.tests.factories import PASSWORD
    from orgwarden.orgs.tests.factories import OrgAdminFactory

    role = OrgAdminFactory(org__name="Acme Corp", account__email="ann@acme.test")
    SubscriptionFactory(org=role.org, status=Subscription.Status.LAPSED)
    ann = new_page()
    ann.set_viewport_size(PHONE)
    browser.sign_in(ann, "ann@acme.test", PASSWORD)
    ann.goto(reverse("console:audit_log", args=[role.org.org_id]))
    banner = ann.get_by_role("region", name="Not enforced because the subscription lapsed")
    expect(banner).to_be_visible()
    assert banner.bounding_box()["height"] <= 200
    expect(banner).to_contain_text("paused until it is paid; your settings are kept", use_inner_text=True)
    banner.get_by_role("link", name="Go to Billing").click()
    expect(ann.get_by_role("heading", name="Billing", level=1)).to_be_visible()
