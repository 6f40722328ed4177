"""Internationalized domains as people read them: stored in their ASCII (IDNA A-label) form,
shown in Unicode by the ``idn_unicode`` filter; searches take either form, exports keep the stored one."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils import timezone

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.idn import idn_unicode
from orgwarden.orgs.models import Domain
from orgwarden.orgs.services.claims import account_claim
from orgwarden.orgs.services.orgs import admin_invite


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("anna@xn--mller-kva.de", "anna@müller.de"),
        ("xn--mller-kva.de", "müller.de"),
        ("ANNA@XN--MLLER-KVA.DE", "ANNA@müller.de"),
        ("bob@mail.xn--bcher-kva.example", "bob@mail.bücher.example"),
        # Other scripts, as people write them
        ("xn--80adxhks.xn--p1ai", "москва.рф"),
        ("xn--1lqs71d.jp", "東京.jp"),
        ("xn--abc-r73b4fvb9j.jp", "abcひらがな.jp"),  # Latin beside Japanese, as it is written
        ("xn--hxargifdar.gr", "ελληνικά.gr"),
        # Look-alikes stay in their ASCII form, as browsers show them: "аррӏе" wholly in Cyrillic,
        # "pаypal" with one Cyrillic letter, a Greek omicron among Latin letters.
        ("ceo@xn--80ak6aa92e.com", "ceo@xn--80ak6aa92e.com"),
        ("xn--pypal-4ve.com", "xn--pypal-4ve.com"),
        ("xn--gogle-rce.com", "xn--gogle-rce.com"),
        ("anna@mail.xn--80ak6aa92e.xn--mller-kva.de", "anna@mail.xn--80ak6aa92e.müller.de"),
        ("xn--mller-kva.de.", "müller.de."),
        # Plain ASCII, and what is not an address or a domain at all, is left alone.
        ("alice@acme.test", "alice@acme.test"),
        ("acme.test", "acme.test"),
        ("Alice Liddell", "Alice Liddell"),
        ("", ""),
        # Not valid IDNA: shown as stored, never an error.
        ("anna@xn--zzzzzzzzz-.de", "anna@xn--zzzzzzzzz-.de"),
        ("anna@xn--.de", "anna@xn--.de"),
        ("anna@xn--mller-kva..de", "anna@xn--mller-kva..de"),
        ("anna@xn--mller-kva_x.de", "anna@xn--mller-kva_x.de"),
        ("anna@xn--badé.de", "anna@xn--badé.de"),
        ("xn--" + "a" * 300, "xn--" + "a" * 300),
        ("anna@", "anna@"),
    ],
)
def test_idn_unicode(stored, shown):
    assert idn_unicode(stored) == shown


def test_idn_unicode_leaves_what_is_not_text_alone():
    assert idn_unicode(None) is None
    assert idn_unicode(42) == 42


def test_the_template_filter_escapes_what_it_returns():
    template = Template("{% load console %}{{ value|idn_unicode }}")
    assert template.render(Context({"value": "<b>@xn--mller-kva.de"})) == "&lt;b&gt;@müller.de"
    assert template.render(Context({"value": "<b>"})) == "&lt;b&gt;"


@pytest.mark.parametrize(
    ("template", "context", "shown"),
    [
        ("policies/email/break_glass_signin.txt", {"email": "anna@xn--mller-kva.de"}, "(anna@müller.de)"),
        ("orgs/email/domain_proof_missing.txt", {"domain": "xn--mller-kva.de"}, "verified müller.de, but"),
        (
            "orgs/email/domain_unverified.txt",
            {"domain": "xn--mller-kva.de"},
            "müller.de is no longer verified",
        ),
    ],
)
def test_the_mails_to_admins_name_addresses_and_domains_in_unicode(template, context, shown):
    """The accounts' own mails are tested through their pages (``accounts/tests/test_idn_shown.py``)."""
    body = render_to_string(template, {"org_name": "Acme", "name": "Anna", "at": timezone.now(), **context})
    assert shown in body and "xn--" not in body


@pytest.mark.django_db
def test_the_console_shows_idn_addresses_and_domains_in_unicode(admin_client, org):
    Domain.objects.create(
        org=org, name="xn--mller-kva.de", token="t" * 32, status=Domain.Status.VERIFIED, method="dns"
    )
    anna = AccountFactory(email="anna@xn--mller-kva.de", display_name="Anna")
    account_claim(org=org, account=anna, domain=None, actor=Actor.system("test"))
    base = f"/admin/o/{org.org_id}/"

    users = admin_client.get(base + "users/").content.decode()
    assert "<td>anna@müller.de</td>" in users and "xn--" not in users

    # The search takes the address as people type it (it is compared in the stored form).
    found = admin_client.get(base + "users/", {"q": "Anna@Müller.de"}).content.decode()
    assert "<td>anna@müller.de</td>" in found and "xn--" not in found

    detail = admin_client.get(f"{base}users/{anna.account_id}/").content.decode()
    assert "<dd>anna@müller.de</dd>" in detail

    domains = admin_client.get(base + "domains/").content.decode()
    assert ">müller.de</a>" in domains and "xn--" not in domains

    # The domain's page names it in Unicode, and gives the ASCII form DNS providers may ask for.
    domain = Domain.objects.get(org=org)
    page = admin_client.get(f"{base}domains/{domain.domain_id}/").content.decode()
    assert "<h1>müller.de " in page and "xn--mller-kva.de" in page


@pytest.mark.django_db
def test_the_audit_log_shows_unicode_and_its_csv_keeps_the_stored_form(admin_client, org):
    admin_client.post(f"/admin/o/{org.org_id}/domains/", {"name": "müller.de"})
    log = admin_client.get(f"/admin/o/{org.org_id}/audit-log/").content.decode()
    assert "müller.de" in log and "xn--" not in log
    csv = b"".join(admin_client.get(f"/admin/o/{org.org_id}/audit-log/export.csv").streaming_content)
    assert b"xn--mller-kva.de" in csv and "müller".encode() not in csv


@pytest.mark.django_db
def test_reviewing_a_domains_accounts_finds_an_address_typed_in_unicode(admin_client, org):
    domain = Domain.objects.create(
        org=org, name="xn--mller-kva.de", token="t" * 32, status=Domain.Status.VERIFIED, method="dns"
    )
    AccountFactory(email="ben@xn--mller-kva.de", display_name="Ben")
    AccountFactory(email="bea@xn--mller-kva.de", display_name="Bea")
    review = f"/admin/o/{org.org_id}/domains/{domain.domain_id}/accounts/"
    html = admin_client.get(review, {"q": "Ben@Müller.de"}).content.decode()
    assert "<td>ben@müller.de</td>" in html and "bea@" not in html


@pytest.mark.django_db
def test_the_audit_log_search_finds_an_address_or_a_domain_typed_in_unicode(admin_client, org, org_admin):
    """Events keep addresses and domains in their ASCII form; admins type them as they read them."""
    admin_client.post(f"/admin/o/{org.org_id}/domains/", {"name": "müller.de"})
    admin_invite(org=org, actor=org_admin.account, email="anna@müller.de")
    domain_added = AuditEvent.objects.get(org_id=org.org_id, action="org:domain:added")
    invited = AuditEvent.objects.get(org_id=org.org_id, action="org:admin:invited")
    assert "xn--mller-kva.de" in domain_added.search_text and "anna@xn--mller-kva.de" in invited.search_text

    def found(q: str) -> set[str]:
        response = admin_client.get(f"/admin/o/{org.org_id}/audit-log/", {"q": q})
        assert response.status_code == 200
        return {event.id for event in response.context["page"].events}

    assert found("anna@müller.de") == found("Anna@Müller.DE") == {invited.id}
    assert found("müller.de") == {domain_added.id, invited.id}
    assert found("bücher.de") == found("nobody-at-all") == set()
    assert found("müller,de") == found("anna@müller..de") == set()  # IDNA refuses them: searched as typed
