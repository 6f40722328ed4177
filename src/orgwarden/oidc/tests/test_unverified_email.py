"""Product sign-in refuses an account whose email was never verified (account pre-hijacking): whoever
signed up with an address they do not own must not reach an org's products with it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.oidc.tests.test_product_signin import authorize_query
from orgwarden.orgs.models import Activity

pytestmark = pytest.mark.django_db


def browser(account) -> Client:
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    return client


def test_an_unverified_account_with_access_sees_why_and_can_ask_for_the_link(product, manage, grant):
    person = manage(AccountFactory(email_verified=False))
    grant(person)
    client = browser(person)
    page = client.get("/oauth2/authorize/", authorize_query(product))
    assert page.status_code == 403
    assert "Verify your email address first" in page.content.decode()
    assert 'action="/account/verify-email/resend"' in page.content.decode()
    event = AuditEvent.objects.get(action="account:product:access_denied")
    assert event.details["reason"] == "email_unverified"
    assert not Activity.objects.exists()
    silent = client.get("/oauth2/authorize/", authorize_query(product, prompt="none"))
    assert silent.status_code == 302
    assert parse_qs(urlsplit(silent["Location"]).query)["error"] == ["interaction_required"]


def test_once_verified_the_same_account_gets_a_code(product, manage, grant):
    person = manage(AccountFactory(email_verified=False))
    grant(person)
    person.email_verified = True
    person.save(update_fields=["email_verified"])
    answer = browser(person).get("/oauth2/authorize/", authorize_query(product, prompt="none"))
    assert answer.status_code == 302 and "code" in parse_qs(urlsplit(answer["Location"]).query)


def test_the_refusal_names_the_account_in_unicode(product, manage, grant):
    """Its address is stored as ``anna@xn--mller-kva.de``; the person reads ``anna@müller.de``."""
    person = manage(AccountFactory(email="anna@xn--mller-kva.de", email_verified=False))
    grant(person)
    page = browser(person).get("/oauth2/authorize/", authorize_query(product)).content.decode()
    assert "Signed in as <strong>anna@müller.de</strong>." in page and "xn--" not in page
