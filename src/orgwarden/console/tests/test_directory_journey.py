"""The Directory journey in a real browser, against a real DNS server on loopback.

An admin adds a domain, publishes its TXT record, verifies it, claims its accounts automatically,
finds the existing accounts managed, deactivates one with a message — and that person, signing
in, is refused and reads the admin's message.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import OrgUser
from orgwarden.orgs.tests import conftest as peers
from orgwarden.orgs.tests.factories import OrgAdminFactory, OrganizationFactory
from orgwarden.testing import browser

dns_server, https_server, proof_peers = peers.dns_server, peers.https_server, peers.proof_peers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, email: str) -> None:
    browser.sign_in(page, email, PASSWORD)


def test_verify_a_domain_claim_its_accounts_and_deactivate_one(new_page, proof_peers):
    org = OrganizationFactory(name="Acme Corp")
    OrgAdminFactory(org=org, account=AccountFactory(email="ann@acme.test", display_name="Ann Admin"))
    AccountFactory(email="carl@acme.test", display_name="Carl Coder")
    AccountFactory(email="dora@acme.test", display_name="Dora Designer")
    AccountFactory(email="olly@outside.test", display_name="Olly Outsider")

    ann = new_page()
    sign_in(ann, "ann@acme.test")
    expect(ann.get_by_role("heading", name="Acme Corp", level=1)).to_be_visible()

    # Add the domain and read the TXT record to publish.
    ann.get_by_role("link", name="Domains", exact=True).click()
    ann.get_by_label("Domain").fill("acme.test")
    ann.get_by_role("button", name="Add domain").click()
    txt = ann.locator("#txt-value").input_value()
    token = txt.removeprefix("orgwarden-domain-verification=")
    assert txt.startswith("orgwarden-domain-verification=") and token

    # Verifying before the record exists says exactly what is missing.
    ann.get_by_role("button", name="Verify with DNS").click()
    expect(ann.locator(".message-error")).to_contain_text("acme.test is not verified yet.")
    expect(ann.locator(".notice")).to_contain_text("No TXT record was found at acme.test")

    # Publish it on the (real, loopback) DNS server, verify again.
    proof_peers.publish_txt("acme.test", token)
    ann.get_by_role("button", name="Verify with DNS").click()
    expect(ann.get_by_text("acme.test is verified.", exact=False)).to_be_visible()

    # Claim automatically: the existing accounts on the domain become managed.
    ann.locator("input[name=claim][value=automatic]").check()
    ann.get_by_role("button", name="Save claim setting").click()
    expect(ann.get_by_text(re.compile(r"claimed automatically\. 3 claimed now"))).to_be_visible()
    managed = set(OrgUser.objects.filter(org=org, is_managed=True).values_list("email", flat=True))
    assert managed == {"ann@acme.test", "carl@acme.test", "dora@acme.test"}

    # The users list shows them as managed; the outsider is not there.
    ann.get_by_role("link", name="Managed accounts", exact=True).click()
    table = ann.locator("table")
    expect(table).to_contain_text("carl@acme.test")
    expect(table).to_contain_text("dora@acme.test")
    expect(table).not_to_contain_text("olly@outside.test")

    # Deactivate Carl with a message.
    ann.get_by_role("link", name="Carl Coder").click()
    ann.get_by_role("link", name="Deactivate…").click()
    ann.get_by_label(re.compile("Message")).fill("Your contract ended. Questions: it@acme.test")
    ann.get_by_role("button", name=re.compile("Deactivate")).click()
    expect(ann.locator(".message-success")).to_contain_text("Carl Coder is deactivated")

    # Carl cannot sign in, and is told why — only after giving the right password.
    carl = new_page()
    sign_in(carl, "carl@acme.test")
    expect(carl.get_by_role("heading", name="Your account is deactivated")).to_be_visible()
    expect(carl.get_by_text("Your contract ended. Questions: it@acme.test", exact=False)).to_be_visible()
    carl.goto("/account/")
    expect(carl).to_have_url(re.compile("/login"))

    # Dora, still active and now managed, sees the managed-account notice once at sign-in.
    dora = new_page()
    sign_in(dora, "dora@acme.test")
    expect(dora.get_by_text(re.compile("managed by Acme Corp"))).to_be_visible()
    dora.get_by_role("button", name="Continue").click()
    expect(dora).not_to_have_url(re.compile("/login"))

    actions = set(AuditEvent.objects.filter(org_id=org.org_id).values_list("action", flat=True))
    assert {
        "org:domain:added",
        "org:domain:verification_failed",
        "org:domain:verified",
        "org:domain:claim_changed",
        "org:account:claimed",
        "org:account:deactivated",
    } <= actions
