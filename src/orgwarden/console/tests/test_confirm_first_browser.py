"""Actions that break something live or cannot be undone ask first, in a real browser, on a laptop
and on a phone: the first click opens a confirmation page saying what will happen; only its own
button does it.

Regenerating a directory's SCIM key stops the IdP's provisioning until the new key is pasted into
it, and revoking a group's product access takes the product away from everyone who has it only
through that group; removing an external user's access, revoking API tokens, replacing a site's
client secret, resetting two-step verification, removing a signing certificate, unlinking a domain,
removing a help center customer and removing inactive people's access each break something too.
All of them used to happen at the first click. Deleting a group or a policy and removing a product
site asked first already, each on a page of its own; they now use the same confirmation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.services import Actor
from orgwarden.helpcenter import services as help_center_services
from orgwarden.helpcenter.models import Customer, HelpCenterCertificate
from orgwarden.helpcenter.tests.conftest import help_center, jsm_site
from orgwarden.orgs.models import Group, GroupMember, OrgUser, ProductSite, SiteAccess
from orgwarden.orgs.services import access as access_services
from orgwarden.orgs.services.claims import account_claim
from orgwarden.policies import services as policy_services
from orgwarden.policies.models import AuthenticationPolicy
from orgwarden.scim import selectors as scim_selectors
from orgwarden.scim import services as scim_services
from orgwarden.scim.models import ScimKey
from orgwarden.sso import services as sso_services
from orgwarden.sso.models import SamlCertificate, SamlDomainLink
from orgwarden.sso.tests.conftest import verified_domain
from orgwarden.sso.tests.idp import make_key_pair
from orgwarden.testing import browser
from orgwarden.tokens.introspection import site_credential_create
from orgwarden.tokens.models import SiteCredential, UserApiToken
from orgwarden.tokens.user_services import user_token_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDER_THAN_SCREEN = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _signed_in(new_page, org_admin, width: int):
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    return page


@pytest.mark.parametrize("width", [1280, 390])
def test_regenerating_a_scim_key_asks_first(new_page, org_admin, width):
    org, admin = org_admin.org, org_admin.account
    directory = sso_services.idp_add(org=org, actor=admin, vendor="okta", name="Okta (employees)").directory
    old = scim_services.scim_key_generate(org=org, actor=admin, directory_id=directory.directory_id)
    page = _signed_in(new_page, org_admin, width)
    page.goto(reverse("console:provisioning", args=[org.org_id, directory.directory_id]))

    page.get_by_role("link", name="Regenerate API key…").click()
    expect(page.get_by_role("heading", name="Regenerate the SCIM key of Okta (employees)?")).to_be_visible()
    expect(page.get_by_text(f"The current key ({old[:10]}…) stops working at once")).to_be_visible()
    confirm = page.get_by_role("button", name="Regenerate API key", exact=True)
    expect(confirm).to_be_visible()
    assert page.evaluate(WIDER_THAN_SCREEN) <= 0
    assert scim_selectors.directory_for_key(directory_id=directory.directory_id, key=old) == directory

    confirm.click()
    expect(page.get_by_text("Copy this API key now.")).to_be_visible()
    new = page.get_by_label("Directory API key (Bearer token)").input_value()
    assert new.startswith("scim_") and new != old
    assert ScimKey.objects.get(directory=directory).prefix == new[:10]


@pytest.mark.parametrize("width", [1280, 390])
def test_revoking_a_groups_product_access_asks_first(new_page, org_admin, width):
    org, admin = org_admin.org, org_admin.account
    site = access_services.site_add(
        org=org, actor=admin, product="confluence", name="Acme Wiki", url="https://wiki.acme.test"
    )
    writers = access_services.group_create(org=org, actor=admin, name="Writers")
    access_services.access_grant(
        org=org, actor=admin, site_id=site.site_id, group_id=writers.group_id, role="user"
    )
    people = [AccountFactory(email=f"writer{i}@acme.test") for i in range(2)]
    for person in people:
        OrgUser.objects.create(org=org, account=person, email=person.email)
    access_services.group_members_add(
        org=org, actor=admin, group_id=writers.group_id, account_ids=[p.account_id for p in people]
    )
    page = _signed_in(new_page, org_admin, width)
    page.goto(reverse("console:product_site", args=[org.org_id, site.site_id]))

    page.get_by_role("link", name="Revoke access of Writers").click()  # "Revoke…" to the eye
    expect(page.get_by_role("heading", name="Revoke Writers's access to Acme Wiki?")).to_be_visible()
    expect(
        page.get_by_text("2 people lose Acme Wiki at once: they have it only through Writers.")
    ).to_be_visible()
    confirm = page.get_by_role("button", name="Revoke access", exact=True)
    expect(confirm).to_be_visible()
    assert page.evaluate(WIDER_THAN_SCREEN) <= 0
    assert SiteAccess.objects.filter(site=site, group=writers).exists()  # the first click revoked nothing

    confirm.click()
    expect(page.get_by_text("Access revoked.")).to_be_visible()
    expect(page.get_by_role("heading", name="Acme Wiki")).to_be_visible()
    assert not SiteAccess.objects.filter(site=site, group=writers).exists()


# --- the other actions that break something live or cannot be undone ----------------------------------
# Each case sets its data up and answers: the page to start on, the first click, the confirmation's
# heading and button, what the button's page then says, and whether the action happened.


@dataclass
class Case:
    path: str
    first_click: Callable
    heading: str
    button: str
    says: str
    done: Callable[[], bool]


def _managed(org, email: str, **extra) -> Account:
    person = AccountFactory(email=email, **extra)
    account_claim(org=org, account=person, domain=None, actor=Actor.system())
    return person


def _link(name: str) -> Callable:
    return lambda page: page.get_by_role("link", name=name).click()


def _external_user(org, admin) -> Case:
    site = access_services.site_add(
        org=org, actor=admin, product="trello", name="Board", url="https://b.test"
    )
    person = access_services.user_invite(
        org=org, actor=admin, email="pat@partner.test", site_ids=[site.site_id]
    )
    return Case(
        reverse("console:external_users", args=[org.org_id]),
        _link("Remove access of pat@partner.test"),
        "Remove pat@partner.test's access?",
        "Remove access",
        "Access removed.",
        lambda: not OrgUser.objects.filter(org=org, account=person).exists(),
    )


def _token(org, admin) -> Case:
    person = _managed(org, "ann@acme.test")
    token, _ = user_token_create(account=person, label="laptop")
    return Case(
        reverse("console:user_detail", args=[org.org_id, person.account_id]),
        _link("Revoke “laptop”…"),
        "Revoke the API token “laptop” of ann@acme.test?",
        "Revoke token",
        "API token “laptop” of ann@acme.test revoked.",
        lambda: UserApiToken.objects.get(pk=token.pk).revoked_at is not None,
    )


def _tokens_selected(org, admin) -> Case:
    token, _ = user_token_create(account=_managed(org, "ann@acme.test"), label="laptop")

    def first_click(page) -> None:
        page.get_by_label("Select laptop of ann@acme.test").check()
        page.get_by_role("button", name="Revoke selected…").click()

    return Case(
        reverse("console:api_tokens", args=[org.org_id]),
        first_click,
        "Revoke 1 API token?",
        "Revoke 1 token",
        "1 API token revoked.",
        lambda: UserApiToken.objects.get(pk=token.pk).revoked_at is not None,
    )


def _client_secret(org, admin) -> Case:
    site = access_services.site_add(
        org=org, actor=admin, product="jira-software", name="Jira", url="https://j.test"
    )
    site_credential_create(org=org, actor=admin, site_id=site.site_id)
    return Case(
        reverse("console:product_site", args=[org.org_id, site.site_id]),
        _link("Replace client secret…"),
        "Replace the client secret of Jira?",
        "Replace client secret",
        "This is the only time the secret is shown.",
        lambda: SiteCredential.objects.get(site=site).rotated_at is not None,
    )


def _two_step(org, admin) -> Case:
    person = _managed(org, "mia@acme.test", totp_secret="x", totp_last_step=1)
    Account.objects.filter(pk=person.pk).update(totp_enabled_at=person.created_at)
    return Case(
        reverse("console:policy_check", args=[org.org_id]) + "?email=mia%40acme.test",
        _link("Reset two-step verification…"),
        "Reset two-step verification of mia@acme.test?",
        "Reset two-step verification",
        "Two-step verification of mia@acme.test reset",
        lambda: not Account.objects.get(pk=person.pk).has_two_step,
    )


def _idp(org, admin):
    return sso_services.idp_add(org=org, actor=admin, vendor="okta", name="Okta (employees)")


def _idp_certificate(org, admin) -> Case:
    idp = _idp(org, admin)
    certificate = sso_services.idp_certificate_add(
        org=org, actor=admin, connection_id=idp.connection_id, pem=make_key_pair().cert_pem
    )
    return Case(
        reverse("console:identity_provider", args=[org.org_id, idp.connection_id]),
        _link(f"Remove certificate {certificate.subject}"),
        f"Remove the certificate {certificate.subject} from Okta (employees)?",
        "Remove certificate",
        "Certificate removed.",
        lambda: not SamlCertificate.objects.filter(pk=certificate.pk).exists(),
    )


def _idp_domain(org, admin) -> Case:
    idp, domain = _idp(org, admin), verified_domain(org, "example.com")
    sso_services.idp_domain_link(
        org=org, actor=admin, connection_id=idp.connection_id, domain_id=domain.domain_id
    )
    return Case(
        reverse("console:identity_provider", args=[org.org_id, idp.connection_id]),
        _link("Unlink example.com"),
        "Unlink example.com from Okta (employees)?",
        "Unlink example.com",
        "Domain unlinked.",
        lambda: not SamlDomainLink.objects.exists(),
    )


def _help_center_customer(org, admin) -> Case:
    site = jsm_site(org, admin)
    customer = help_center_services.customer_sign_up(
        help_center=help_center(org, site), email="bob@b.test", password=PASSWORD + " 42"
    )
    return Case(
        reverse("console:help_center", args=[org.org_id, site.site_id]),
        _link("Remove bob@b.test"),
        "Remove the customer bob@b.test?",
        "Remove customer",
        "Customer removed.",
        lambda: not Customer.objects.filter(pk=customer.pk).exists(),
    )


def _help_center_certificate(org, admin) -> Case:
    site = jsm_site(org, admin)
    certificate = help_center_services.help_center_certificate_add(
        org=org, actor=admin, site_id=site.site_id, pem=make_key_pair().cert_pem
    )
    return Case(
        reverse("console:help_center", args=[org.org_id, site.site_id]),
        _link(f"Remove certificate {certificate.subject}"),
        f"Remove the certificate {certificate.subject} from Acme Support?",
        "Remove certificate",
        "Certificate removed.",
        lambda: not HelpCenterCertificate.objects.filter(pk=certificate.pk).exists(),
    )


def _inactive_access(org, admin) -> Case:
    site = access_services.site_add(
        org=org, actor=admin, product="confluence", name="Wiki", url="https://w.test"
    )
    group = access_services.group_create(org=org, actor=admin, name="Writers")
    access_services.access_grant(
        org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role="user"
    )
    person = _managed(org, "idle@acme.test")
    access_services.group_members_add(
        org=org, actor=admin, group_id=group.group_id, account_ids=[person.account_id]
    )

    def first_click(page) -> None:
        page.get_by_label("Select idle@acme.test").check()
        page.get_by_role("button", name="Remove product access…").click()

    return Case(
        reverse("console:insights", args=[org.org_id]),
        first_click,
        "Remove the product access of 1 person?",
        "Remove product access",
        "Product access removed from 1 user(s).",
        lambda: not GroupMember.objects.filter(account=person).exists(),
    )


def _group(org, admin) -> Case:
    writers = access_services.group_create(org=org, actor=admin, name="Writers")
    return Case(
        reverse("console:group", args=[org.org_id, writers.group_id]),
        _link("Delete group…"),
        "Delete Writers?",
        "Delete group",
        "Group Writers deleted.",
        lambda: not Group.objects.filter(pk=writers.pk).exists(),
    )


def _site(org, admin) -> Case:
    site = access_services.site_add(
        org=org, actor=admin, product="confluence", name="Acme Wiki", url="https://wiki.acme.test"
    )
    return Case(
        reverse("console:product_site", args=[org.org_id, site.site_id]),
        _link("Remove site…"),
        "Remove Acme Wiki?",
        "Remove site",
        "Acme Wiki removed.",
        lambda: not ProductSite.objects.filter(pk=site.pk).exists(),
    )


def _policy(org, admin) -> Case:
    local = org.directories.get(kind="local")
    policy = policy_services.policy_create(
        org=org, actor=admin, directory_id=local.directory_id, name="Contractors"
    )
    return Case(
        reverse("console:policy", args=[org.org_id, policy.policy_id]),
        _link("Delete policy…"),
        "Delete Contractors?",
        "Delete policy",
        "Policy “Contractors” deleted; 0 accounts went back to the default policy.",
        lambda: not AuthenticationPolicy.objects.filter(pk=policy.pk).exists(),
    )


CASES = {
    "external user": _external_user,
    "API token": _token,
    "API tokens selected": _tokens_selected,
    "client secret": _client_secret,
    "two-step verification": _two_step,
    "IdP certificate": _idp_certificate,
    "IdP domain": _idp_domain,
    "help center customer": _help_center_customer,
    "help center certificate": _help_center_certificate,
    "inactive users' access": _inactive_access,
    "group": _group,
    "product site": _site,
    "policy": _policy,
}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("action", list(CASES))
def test_the_other_actions_that_break_something_ask_first(new_page, org_admin, action, width):
    org, admin = org_admin.org, org_admin.account
    case = CASES[action](org, admin)
    page = _signed_in(new_page, org_admin, width)
    page.goto(case.path)

    case.first_click(page)
    expect(page.get_by_role("heading", name=case.heading)).to_be_visible()
    confirm = page.get_by_role("button", name=case.button, exact=True)
    expect(confirm).to_be_visible()
    expect(page.get_by_role("link", name="Cancel")).to_be_visible()
    assert page.evaluate(WIDER_THAN_SCREEN) <= 0
    assert not case.done()  # the first click changed nothing

    confirm.click()
    expect(page.get_by_text(case.says)).to_be_visible()
    assert case.done()
