"""The customer portal over HTTP: sign-up, sign-in, sign-out, reset; a customer session is never an
account session, and a customer of help center A is nobody at help center B."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from orgwarden.accounts import emails
from orgwarden.accounts.throttle import (
    RESET_PER_CLIENT,
    RESET_PER_EMAIL,
    SIGNUP_PER_CLIENT,
    SIGNUP_PER_EMAIL,
)
from orgwarden.audit.models import AuditEvent
from orgwarden.helpcenter import services
from orgwarden.helpcenter.tests.conftest import help_center, sso_on
from orgwarden.orgs.services.access import site_add
from orgwarden.sso.tests.idp import IDP_SSO_URL

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple 42"


def url(name: str, site, *args) -> str:
    return reverse(f"helpcenter:{name}", args=[site.site_id, *args])


def sign_up(client: Client, site, email: str = "pat@customer.test"):
    return client.post(url("signup", site), {"email": email, "password": PASSWORD, "display_name": "Pat"})


def test_sign_up_lands_signed_in_without_an_account_session(site):
    client = Client()
    assert client.get(url("portal", site))["Location"] == url("login", site)
    response = sign_up(client, site)
    assert response.status_code == 302 and response["Location"] == url("portal", site)
    page = client.get(url("portal", site))
    assert page.status_code == 200
    assert "Signed in as <strong>Pat</strong> (pat@customer.test)" in page.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/account/").status_code == 302  # no account is signed in


def test_a_customer_of_a_is_not_signed_in_to_b(org, org_admin, site, other_site):
    client = Client()
    sign_up(client, site)
    assert client.get(url("portal", site)).status_code == 200
    assert client.get(url("portal", other_site))["Location"] == url("login", other_site)
    # Same email, other help center: a different customer, with its own password.
    response = client.post(url("login", other_site), {"email": "pat@customer.test", "password": PASSWORD})
    assert response.status_code == 400


def test_password_sign_in_and_out(site):
    services.customer_sign_up(
        help_center=help_center(site.org, site), email="pat@customer.test", password=PASSWORD
    )
    client = Client()
    bad = client.post(url("login", site), {"email": "pat@customer.test", "password": "nope"})
    assert bad.status_code == 400 and "Wrong email or password." in bad.content.decode()
    failure = AuditEvent.objects.get(action="helpcenter:customer:signin_failed")
    assert failure.details["reason"] == "bad_credentials" and failure.org_id == site.org.org_id
    ok = client.post(
        url("login", site), {"email": "pat@customer.test", "password": PASSWORD, "next": "https://evil.test/"}
    )
    assert ok.status_code == 302 and ok["Location"] == url("portal", site)
    assert client.get(url("portal", site)).status_code == 200
    assert client.post(url("logout", site)).status_code == 200
    assert client.get(url("portal", site)).status_code == 302


def test_a_deactivated_customer_is_signed_out(org, org_admin, site):
    client = Client()
    sign_up(client, site)
    customer = help_center(org, site).customers.get()
    services.customer_deactivate(
        org=org, actor=org_admin.account, site_id=site.site_id, customer_id=customer.customer_id
    )
    assert client.get(url("portal", site)).status_code == 302


def test_reset_by_email(site, mailoutbox, django_capture_on_commit_callbacks):
    services.customer_sign_up(
        help_center=help_center(site.org, site), email="pat@customer.test", password=PASSWORD
    )
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("reset", site), {"email": "pat@customer.test"})
    assert response.status_code == 200 and "reset-sent" in response.content.decode()
    emails.background_drain()  # the reset email leaves in the background
    link = re.search(r"http://testserver(/helpcenter/\S+)", mailoutbox[0].body).group(1)
    response = client.post(link, {"password": "a new long passphrase 7"})
    assert response.status_code == 302
    assert client.get(url("portal", site)).status_code == 200
    assert client.post(link, {"password": "another passphrase 8"}).status_code == 400


def test_sso_only_sends_visitors_to_the_idp_without_sign_up(org, org_admin, site, customer_idp_keys):
    sso_on(org, org_admin.account, site, customer_idp_keys, password=False)
    client = Client()
    response = client.get(url("portal", site), follow=True)
    assert response.redirect_chain[-1][0].startswith(IDP_SSO_URL)
    assert client.get(url("signup", site))["Location"] == url("portal", site)
    assert client.get(url("login", site))["Location"].startswith(url("saml_login", site))


def test_both_methods_show_sso_first(org, org_admin, site, customer_idp_keys):
    sso_on(org, org_admin.account, site, customer_idp_keys)
    page = Client().get(url("login", site)).content.decode()
    assert page.index("Continue with single sign-on") < page.index('name="password"')


def test_unknown_or_non_jsm_site_is_a_404(org, org_admin):
    software = site_add(
        org=org, actor=org_admin.account, product="jira-software", name="Dev", url="https://dev.example.test"
    )
    client = Client()
    assert client.get(f"/helpcenter/{software.site_id}/").status_code == 404
    assert client.get("/helpcenter/nosuchsite/").status_code == 404


@time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, 10, tzinfo=dt.UTC), tick=False)
def test_failed_passwords_are_throttled_per_help_center_and_email(site, settings):
    # The clock stands still: the throttle's one-minute buckets must not roll over mid-test.
    settings.SIGNIN_THROTTLE_PER_MINUTE = 2
    services.customer_sign_up(
        help_center=help_center(site.org, site), email="pat@customer.test", password=PASSWORD
    )
    client = Client()
    for _ in range(2):
        assert (
            client.post(url("login", site), {"email": "pat@customer.test", "password": "no"}).status_code
            == 400
        )
    response = client.post(url("login", site), {"email": "pat@customer.test", "password": PASSWORD})
    assert response.status_code == 429 and "Too many attempts" in response.content.decode()
    assert AuditEvent.objects.filter(
        action="helpcenter:customer:signin_failed", details__reason="too_many_attempts"
    ).exists()
    assert "helpcenter_customers" not in client.session


def test_the_customer_pages_brand_leads_to_the_help_center_not_to_the_admins_sign_in(site):
    """A customer who clicked the brand on the sign-in page landed on the installation's sign-in for
    admins (/), where no customer can sign in."""
    services.customer_sign_up(
        help_center=help_center(site.org, site), email="pat@customer.test", password=PASSWORD
    )
    brand = f'<a class="brand brand-auth" href="{url("portal", site)}">{site.name} help center</a>'
    client = Client()
    for page in (url("login", site), url("signup", site), url("reset", site)):
        body = client.get(page).content.decode()
        assert brand in body, page
        assert 'class="brand brand-auth" href="/"' not in body, page
    client.post(url("login", site), {"email": "pat@customer.test", "password": PASSWORD})
    assert brand in client.get(url("portal", site)).content.decode()
    signed_out = client.post(url("logout", site))
    assert signed_out.status_code == 200 and brand in signed_out.content.decode()


@time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, 10, tzinfo=dt.UTC), tick=False)
def test_reset_requests_are_throttled_per_email_whether_or_not_the_customer_exists(
    org_admin, site, mailoutbox, django_capture_on_commit_callbacks
):
    services.customer_sign_up(
        help_center=help_center(site.org, site), email="pat@customer.test", password=PASSWORD
    )
    limit = RESET_PER_EMAIL.fixed_limit
    answers = {}
    for email in ("pat@customer.test", "nobody@customer.test"):
        for _ in range(limit):
            client = Client(REMOTE_ADDR=f"203.0.113.{len(answers) + 1}")  # not the per-client limit
            with django_capture_on_commit_callbacks(execute=True):
                assert client.post(url("reset", site), {"email": email}).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            refused = Client(REMOTE_ADDR="198.51.100.7").post(url("reset", site), {"email": email.upper()})
        answers[email] = refused
    emails.background_drain()
    assert len(mailoutbox) == limit  # the flood stopped at the limit; the unknown email got none
    for refused in answers.values():  # the same answer for a customer and for nobody
        assert refused.status_code == 429 and "Too many reset requests" in refused.content.decode()
        assert 0 < int(refused["Retry-After"]) <= 3600
    # Another help center's customer with the same email is not held back.
    other = site_add(
        org=site.org,
        actor=org_admin.account,
        product="jira-service-management",
        name="Partner Support",
        url="https://partner.example.test",
    )
    assert Client().post(url("reset", other), {"email": "pat@customer.test"}).status_code == 200
    with time_machine.travel(dt.datetime(2026, 6, 1, 14, 0, 10, tzinfo=dt.UTC), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            again = Client().post(url("reset", site), {"email": "pat@customer.test"})
        emails.background_drain()
        assert again.status_code == 200 and len(mailoutbox) == limit + 1


@time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, 10, tzinfo=dt.UTC), tick=False)
def test_reset_requests_are_throttled_per_client_address(
    site, mailoutbox, django_capture_on_commit_callbacks
):
    hc = help_center(site.org, site)
    limit = RESET_PER_CLIENT.fixed_limit
    for i in range(limit + 1):
        services.customer_sign_up(help_center=hc, email=f"c{i}@customer.test", password=PASSWORD)
    client = Client(REMOTE_ADDR="198.51.100.7")
    for i in range(limit):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(url("reset", site), {"email": f"c{i}@customer.test"}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post(url("reset", site), {"email": f"c{limit}@customer.test"})
    emails.background_drain()
    assert refused.status_code == 429 and len(mailoutbox) == limit
    # Another client address is not held back.
    with django_capture_on_commit_callbacks(execute=True):
        other = Client(REMOTE_ADDR="198.51.100.8").post(
            url("reset", site), {"email": f"c{limit}@customer.test"}
        )
    emails.background_drain()
    assert other.status_code == 200 and len(mailoutbox) == limit + 1


@time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, 10, tzinfo=dt.UTC), tick=False)
def test_sign_ups_are_throttled_per_client_address(site):
    """Customer sign-up was not throttled: one client could create customers without end. People
    behind one office address sign up up to the limit; the next is refused, nothing written."""
    office = "198.51.100.7"
    limit = SIGNUP_PER_CLIENT.fixed_limit
    for i in range(limit):
        assert sign_up(Client(REMOTE_ADDR=office), site, f"c{i}@customer.test").status_code == 302
    events = AuditEvent.objects.count()
    client = Client(REMOTE_ADDR=office)
    refused = sign_up(client, site, "one.more@customer.test")
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 3600
    assert "Too many sign-up attempts. Wait 60 minutes, then try again." in refused.content.decode()
    assert help_center(site.org, site).customers.count() == limit
    assert AuditEvent.objects.count() == events and "helpcenter_customers" not in client.session
    assert sign_up(Client(REMOTE_ADDR="198.51.100.8"), site, "one.more@customer.test").status_code == 302


@time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, 10, tzinfo=dt.UTC), tick=False)
def test_sign_up_attempts_are_throttled_per_email_whether_or_not_the_customer_exists(site, other_site):
    """Each attempt counts, a taken email's as a new one's (here refused for its password); the
    refusal is the same for both and does not say whether the email has a customer account."""
    services.customer_sign_up(
        help_center=help_center(site.org, site), email="pat@customer.test", password=PASSWORD
    )
    limit = SIGNUP_PER_EMAIL.fixed_limit
    refusals = {}
    tries = (
        ("pat@customer.test", PASSWORD, "already has a customer account"),
        ("nobody@customer.test", "1", ""),
    )
    for email, password, why in tries:
        for i in range(limit):
            client = Client(REMOTE_ADDR=f"203.0.113.{len(refusals) * limit + i + 1}")  # not per client
            data = {"email": email, "password": password, "display_name": "Pat"}
            response = client.post(url("signup", site), data)
            assert response.status_code == 400 and why in response.content.decode()
        refusals[email] = sign_up(Client(REMOTE_ADDR="198.51.100.7"), site, email.upper())
    for refused in refusals.values():
        page = refused.content.decode()
        assert refused.status_code == 429 and "Retry-After" in refused
        assert "Too many sign-up attempts. Wait 60 minutes, then try again." in page
        assert "already has a customer account" not in page
    assert not help_center(site.org, site).customers.filter(email="nobody@customer.test").exists()
    # Another help center's sign-up with the same email is not held back.
    assert sign_up(Client(), other_site, "nobody@customer.test").status_code == 302


@pytest.mark.parametrize(
    "rest",
    [
        "../../admin/",  # after the prefix check the browser would resolve it to /admin/
        "../../account/",
        "%2e%2e/%2E%2E/admin/",  # browsers resolve percent-encoded dot segments too
        "./../other/",
    ],
)
def test_next_never_leads_out_of_the_help_center_through_dot_segments(site, rest):
    services.customer_sign_up(
        help_center=help_center(site.org, site), email="pat@customer.test", password=PASSWORD
    )
    home = url("portal", site)
    response = Client().post(
        url("login", site), {"email": "pat@customer.test", "password": PASSWORD, "next": home + rest}
    )
    assert response.status_code == 302 and response["Location"] == home


def test_next_inside_the_help_center_is_followed(site):
    services.customer_sign_up(
        help_center=help_center(site.org, site), email="pat@customer.test", password=PASSWORD
    )
    target = url("portal", site) + "requests/x..y?tab=open"
    response = Client().post(
        url("login", site), {"email": "pat@customer.test", "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302 and response["Location"] == target


def test_the_signed_in_portal_is_never_kept_by_a_browser_cache(site):
    client = Client()
    sign_up(client, site)
    page = client.get(url("portal", site))
    assert page.status_code == 200 and "pat@customer.test" in page.content.decode()
    assert "no-store" in page["Cache-Control"] and "private" in page["Cache-Control"]
