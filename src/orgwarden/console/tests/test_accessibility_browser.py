"""axe-core over the product in a real browser: no WCAG 2.0/2.1 A or AA violation on its pages.

With data on every page: each admin console page behind the sidebar and the detail and confirmation
pages behind them at 1280 px, the shell (its menu open) and the pages whose tables scroll sideways
again at 390 px; the sign-in steps (email, password, two-step code, enrolment and its recovery
codes, the managed-account notice, a deactivated account), sign-up with its errors, password reset,
account settings, a help center's customer pages, the operator's support queue, an error page, a
broken link and a failed SAML response. Not here: pages only a peer reaches (an OIDC product's
consent, an IdP's test result), which share the sign-in layout checked here. axe is the Deque
engine that ``axe-playwright-python`` ships. Reflow at 320 px (WCAG 1.4.10), which axe does not
check, is measured on the pages that once failed it.

One sign-in per person and one page reused, so the module stays quick; a failure lists every
violation, one line per element: the page, the rule, the element and what the rule asks for.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.accounts.two_step import two_step_enable
from orgwarden.audit.services import Actor
from orgwarden.billing.tests.factories import SubscriptionFactory
from orgwarden.helpcenter.selectors import help_center_public
from orgwarden.helpcenter.services import customer_sign_up
from orgwarden.orgs.models import Activity, Domain, OrgUser
from orgwarden.orgs.services import access
from orgwarden.orgs.services.claims import account_claim
from orgwarden.orgs.services.orgs import admin_invite
from orgwarden.orgs.services.users import user_deactivate
from orgwarden.orgs.tests.factories import OrgAdminFactory, OrganizationFactory
from orgwarden.policies import services as policy_services
from orgwarden.sso import services as sso_services
from orgwarden.support.services import support_request_raise
from orgwarden.testing import browser
from orgwarden.tokens.services import api_key_create
from orgwarden.tokens.user_services import user_token_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],  # passes are not detailed: a third quicker
}
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}
NARROWEST = {"width": 320, "height": 640}  # WCAG 1.4.10: content reflows down to 320 CSS px
WIDER_THAN_SCREEN = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"

AXE = Axe()


def violations(page) -> list[str]:
    """axe's WCAG A/AA violations on ``page``, one line per element: page, rule, target, help."""
    results = AXE.run(page, options=WCAG_AA).response
    return [
        f"{page.url} [{rule['id']}] {node['target']}: {rule['help']} ({node['failureSummary']})".replace(
            "\n", " "
        )
        for rule in results["violations"]
        for node in rule["nodes"]
    ]


def seed() -> dict:
    """An org with something on every page: domains, users, groups, sites, a help center with a
    customer, an IdP, policies, keys and tokens, a support request, activity, an invitation."""
    org = OrganizationFactory(name="Acme Corp")
    SubscriptionFactory(org=org)
    ann = AccountFactory(email="ann@acme.test", display_name="Ann Admin")
    OrgAdminFactory(org=org, account=ann)
    verified = Domain.objects.create(org=org, name="acme.test", token="t", status=Domain.Status.VERIFIED)
    Domain.objects.create(org=org, name="acme-labs.test", token="u")
    site = access.site_add(
        org=org, actor=ann, product="jira-software", name="Jira", url="https://jira.acme.test"
    )
    desk = access.site_add(
        org=org,
        actor=ann,
        product="jira-service-management",
        name="Acme Support",
        url="https://help.acme.test",
    )
    group = access.group_create(org=org, actor=ann, name="Engineering", description="Builds things")
    access.access_grant(org=org, actor=ann, site_id=site.site_id, group_id=group.group_id, role="user")
    people = []
    with transaction.atomic():
        for name in ("carl", "dora", "mia"):
            person = AccountFactory(email=f"{name}@acme.test", display_name=f"{name.title()} Example")
            account_claim(org=org, account=person, domain=None, actor=Actor.system())
            people.append(person)
    ids = [person.account_id for person in people]
    access.group_members_add(org=org, actor=ann, group_id=group.group_id, account_ids=ids)
    external = AccountFactory(email="erin@partner.test", display_name="Erin Partner")
    OrgUser.objects.create(org=org, account=external, email=external.email)
    access.group_members_add(org=org, actor=ann, group_id=group.group_id, account_ids=[external.account_id])
    now = timezone.now()
    for day in range(3):
        for person in people[:2]:
            Activity.objects.get_or_create(
                org=org,
                site=site,
                account=person,
                day=(now - timedelta(days=day)).date(),
                defaults={"last_at": now - timedelta(days=day), "signins": 2},
            )
    idp = sso_services.idp_add(org=org, actor=ann, vendor="okta", name="Okta (employees)")
    local = org.directories.get(kind="local")
    contractors = policy_services.policy_create(
        org=org, actor=ann, directory_id=local.directory_id, name="Contractors"
    )
    default = local.policies.get(is_default=True)
    policy_services.policy_update(
        org=org, actor=ann, policy_id=default.policy_id, settings={"two_step": "mandatory"}
    )
    api_key_create(org=org, actor=ann, name="Deploy script")
    user_token_create(account=people[0], label="cli")
    request = support_request_raise(
        org=org, actor=ann, severity="L3", summary="SCIM sync stalls", description="Since Tuesday."
    )
    admin_invite(org=org, actor=ann, email="bob@acme.test")
    help_center = help_center_public(site_id=desk.site_id)
    customer_sign_up(
        help_center=help_center, email="pat@customer.test", password=PASSWORD, display_name="Pat Customer"
    )
    # Tom (not managed by Acme) has two-step verification on: his sign-in asks for a code.
    tom = AccountFactory(email="tom@elsewhere.test", display_name="Tom Two-Step")
    secret = pyotp.random_base32()
    two_step_enable(account=tom, secret=secret, code=pyotp.TOTP(secret).now(), current_proof=PASSWORD)
    return {
        "org": org,
        "ann": ann,
        "carl": people[0],
        "mia": people[2],
        "domain": verified,
        "site": site,
        "desk": desk,
        "group": group,
        "idp": idp,
        "policy": contractors,
        "support": request,
        "tom": tom,
    }


def link_in_last_email(to: str) -> str:
    message = [m for m in mail.outbox if to in m.to][-1]
    return re.sub(r"^https?://[^/]+", "", re.search(r"https?://\S+", message.body).group(0))


def post_form(page, action: str, fields: dict[str, str]) -> None:
    """Send a POST as another site would (an IdP's response to the ACS), from ``page``."""
    with page.expect_navigation():
        page.evaluate(
            """([action, fields]) => { const form = document.createElement('form');
              form.method = 'post'; form.action = action;
              for (const [name, value] of Object.entries(fields)) {
                const input = document.createElement('input'); input.name = name; input.value = value;
                form.appendChild(input); }
              document.body.appendChild(form); form.submit(); }""",
            [action, fields],
        )


def test_no_wcag_a_or_aa_violation_on_any_template(new_page, live_server, settings):
    settings.BASE_URL = live_server.url
    data = seed()
    org, ann = data["org"], data["ann"]
    user_deactivate(org=org, actor=ann, account_id=data["carl"].account_id, message="Left the company.")
    ann.is_staff = True  # the operator's support queue too
    ann.save(update_fields=["is_staff"])
    o, desk = org.org_id, data["desk"].site_id
    found: list[str] = []

    def check(page, path: str | None = None) -> None:
        if path is not None:
            page.goto(path)
        found.extend(violations(page))

    # Signed out: sign-up with its errors, password reset, an error page, a broken link, a failed
    # SAML response, a deactivated account, the help center's customer pages.
    page = new_page()
    page.set_viewport_size(LAPTOP)
    check(page, "/signup")
    page.get_by_role("button", name="Sign up").click()
    check(page)
    check(page, "/password-reset")
    page.get_by_label("Email").fill(ann.email)
    page.locator("main button[type=submit]").click()
    check(page)
    check(page, link_in_last_email(ann.email))
    check(page, "/no-such-page")
    check(page, "/verify-email/not-a-token")
    post_form(page, f"/saml/{data['idp'].connection_id}/acs", {"SAMLResponse": "not a response"})
    check(page)
    browser.sign_in(page, data["carl"].email, PASSWORD)
    expect(page.get_by_text("Left the company.")).to_be_visible()
    check(page)
    check(page, f"/helpcenter/{desk}/signup")
    check(page, f"/helpcenter/{desk}/reset")
    check(page, f"/helpcenter/{desk}/login")
    page.get_by_label("Email").fill("pat@customer.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page.locator("#signed-in-as")).to_contain_text("Pat Customer")
    check(page)
    post_form(page, f"/helpcenter/{desk}/saml/acs", {"SAMLResponse": "not a response"})
    check(page)

    # The sign-in steps: a two-step code (Tom), enrolment and its recovery codes (Mia, whose policy
    # makes two-step verification mandatory), then the managed-account notice.
    tom = new_page()
    browser.sign_in(tom, data["tom"].email, PASSWORD)
    expect(tom.get_by_label("Verification code")).to_be_visible()
    check(tom)
    mia = new_page()
    browser.sign_in(mia, data["mia"].email, PASSWORD)
    check(mia)
    secret = mia.locator("#totp-secret").inner_text().replace(" ", "")
    mia.get_by_label(re.compile("code", re.I)).fill(pyotp.TOTP(secret).now())
    mia.get_by_role("button", name="Turn on and continue").click()
    check(mia)
    mia.get_by_role("button", name=re.compile("I saved my recovery codes")).click()
    check(mia)

    # The admin: the email step and the password step, then every page of the console.
    page.context.clear_cookies()
    check(page, "/login")
    page.get_by_label("Email").fill(ann.email)
    page.get_by_role("button", name="Continue").click()
    check(page)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    admin = f"/admin/o/{o}/"
    carl, group, site = data["carl"].account_id, data["group"].group_id, data["site"].site_id
    policy, domain = data["policy"].policy_id, data["domain"].domain_id
    paths = [
        *(admin + p for p in ("", "settings/", "admins/", "domains/", f"domains/{domain}/")),
        *(admin + p for p in (f"domains/{domain}/accounts/", "users/")),
        *(admin + f"users/{carl}/{p}" for p in ("", "profile", "email", "deactivate")),
        *(admin + p for p in ("groups/", f"groups/{group}/", f"groups/{group}/delete", "products/")),
        *(admin + p for p in (f"products/{site}/", f"products/{site}/remove", "external-users/")),
        admin + f"products/{site}/access/{group}/revoke",  # the one confirmation page of console/confirm.html
        *(admin + p for p in ("help-centers/", f"help-centers/{desk}/", "identity-providers/")),
        admin + f"identity-providers/{data['idp'].connection_id}/",
        admin + f"directories/{data['idp'].directory.directory_id}/provisioning/",
        *(admin + p for p in ("policies/", f"policies/{policy}/", f"policies/{policy}/delete")),
        *(admin + p for p in ("policies/check", "api-keys/", "api-tokens/", "audit-log/", "insights/")),
        *(admin + p for p in ("billing/", "support/", f"support/{data['support'].request_id}/")),
        "/admin/new",
        f"/launch/{site}",  # Ann has no access to Jira
        link_in_last_email("bob@acme.test"),  # an invitation for someone else
        "/operator/support/",
        f"/operator/support/{data['support'].request_id}/",
        *(f"/account/{p}" for p in ("", "security/", "two-step/", "two-step/setup", "api-tokens/")),
        "/account/email",
        "/account/close",
    ]
    for path in paths:
        check(page, path)
    page.goto(admin + "audit-log/")
    page.locator(".audit-table tbody a").first.click()
    expect(page.locator(".audit-detail")).to_be_visible()
    check(page)
    page.goto(admin + "users/")
    page.locator("input[name=account_id]").first.check()
    page.locator(".users-bulk button").click()
    check(page)

    # On a phone: the navigation menu open, and the pages whose tables scroll sideways.
    page.set_viewport_size(PHONE)
    page.goto(admin)
    page.locator(".nav-menu summary").click()
    check(page)
    for path in (
        admin + f"users/{carl}/",
        admin + f"identity-providers/{data['idp'].connection_id}/",
        admin + f"help-centers/{desk}/",
        admin + f"directories/{data['idp'].directory.directory_id}/provisioning/",
        "/account/api-tokens/",
    ):
        check(page, path)

    # Reflow (WCAG 1.4.10, which axe does not check): at 320 px no page is wider than the screen. A
    # long URL in a title, a grid's minimum column and a long button label each made one wider.
    page.set_viewport_size(NARROWEST)
    for path in (admin + f"help-centers/{desk}/", admin + f"domains/{domain}/", "/account/security/"):
        page.goto(path)
        if page.evaluate(WIDER_THAN_SCREEN) > 0:
            found.append(f"{page.url} is wider than a 320 px screen (WCAG 1.4.10 Reflow)")

    assert not found, "WCAG 2.0/2.1 A or AA violations:\n" + "\n".join(found)
