"""Addresses on internationalized domains are stored and compared in their ASCII (IDNA) form, the
form domains are verified in: one person, one account, however the address was typed."""

from __future__ import annotations

from importlib import import_module

import idna
import pytest
from django.apps import apps
from django.test import Client

from orgwarden.accounts import services
from orgwarden.accounts.exceptions import EmailTaken
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.orgs.models import Domain, OrgUser
from orgwarden.orgs.services.domains import domain_name_clean

ASCII = "anna@xn--mller-kva.de"
# 219 characters, 279 in ASCII form: longer than any address can be once its domain is encoded
LONG = "a" * 60 + "@" + ".".join(["müllerstraße-grünwald-äöü"] * 6) + ".de"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Anna@Müller.DE", ASCII),
        (" anna@xn--MLLER-kva.de ", ASCII),
        ("ANNA@EXAMPLE.COM", "anna@example.com"),
        ("jürgen@example.com", "jürgen@example.com"),  # the local part is the mailbox's own business
        ("anna@straße.de", "anna@xn--strae-oqa.de"),  # UTS 46 keeps ß (IDNA 2008)
        ("anna@-bad-.de", "anna@-bad-.de"),
        ("anna@xn--bad\u00e9.de", "anna@xn--badé.de"),  # IDNA refuses it: left for validation to refuse
        ("not an email", "not an email"),
        (LONG, LONG.lower()),  # its ASCII form would pass 254 characters: left as typed
    ],
)
def test_normal_form(typed, stored):
    assert normalize_email(typed) == stored


def test_the_domains_stored_form_is_the_emails(org):
    assert normalize_email("a@Müller.de").rsplit("@", 1)[1] == domain_name_clean("Müller.de")


@pytest.mark.django_db
def test_an_address_too_long_in_ascii_form_is_stored_as_typed_not_a_500():
    """On PostgreSQL the 279-character ASCII form overflowed the 254-character column: a 500 at
    sign-up (and a migration that could not run). Such an address can't be delivered to anyway."""
    assert len(LONG) <= 254 < len(idna_form(LONG))
    account = services.account_create(email=LONG, display_name="Long", password=None)
    assert Account.objects.get(pk=account.pk).email == LONG.lower()


def idna_form(email: str) -> str:
    local, domain = email.split("@")
    return f"{local}@{idna.encode(domain, uts46=True).decode()}"


@pytest.mark.django_db
def test_signed_up_in_one_form_signs_in_in_the_other():
    account = services.account_create(
        email="Anna@Müller.de", display_name="Anna", password=PASSWORD, email_verified=True
    )
    assert account.email == ASCII
    with pytest.raises(EmailTaken):
        services.account_create(email=ASCII, display_name="Anna again", password=None)
    client = Client()
    assert client.post("/login", {"email": ASCII})["Location"] == "/login/step/password"
    assert client.post("/login/step/password", {"password": PASSWORD}).status_code == 302
    assert client.session["_auth_user_id"] == str(account.pk)


@pytest.mark.django_db
def test_an_account_on_an_automatically_claimed_idn_domain_is_claimed(org):
    Domain.objects.create(
        org=org,
        name=domain_name_clean("müller.de"),
        token="t" * 32,
        status=Domain.Status.VERIFIED,
        method=Domain.Method.DNS,
        claim=Domain.Claim.AUTOMATIC,
    )
    account = services.account_create(
        email="anna@müller.de", display_name="Anna", password=PASSWORD, email_verified=True
    )
    assert OrgUser.objects.get(account=account, org=org).is_managed


@pytest.mark.django_db
def test_the_migration_moves_stored_unicode_addresses_to_the_ascii_form(org):
    accounts_step = import_module("orgwarden.accounts.migrations.0005_idna_emails")
    orgs_step = import_module("orgwarden.orgs.migrations.0005_idna_emails")
    anna = AccountFactory(email="placeholder-1@example.com")
    twin = AccountFactory(email="placeholder-2@example.com")
    ascii_twin = AccountFactory(email="ben@xn--mller-kva.de")
    OrgUser.objects.create(org=org, account=anna, email=anna.email)
    # as an earlier version stored them, bypassing today's normal form
    Account.objects.filter(pk=anna.pk).update(email="anna@müller.de")
    Account.objects.filter(pk=twin.pk).update(email="ben@müller.de")
    OrgUser.objects.filter(account=anna).update(email="anna@müller.de")

    accounts_step.ascii_emails(apps, None)
    orgs_step.ascii_emails(apps, None)

    assert Account.objects.get(pk=anna.pk).email == ASCII
    assert OrgUser.objects.get(account=anna).email == ASCII
    assert Account.objects.get(pk=twin.pk).email == "ben@müller.de"  # its ASCII form is taken: kept
    assert Account.objects.get(pk=ascii_twin.pk).email == "ben@xn--mller-kva.de"
