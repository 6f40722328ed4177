"""``orgwarden bootstrap``: the first org and admin without a browser, and its one-time link."""

from __future__ import annotations

import re
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import OrgAdmin, Organization

pytestmark = pytest.mark.django_db


def bootstrap(**options) -> str:
    out = StringIO()
    call_command("bootstrap", stdout=out, **options)
    return out.getvalue()


def printed_link_path(output: str) -> str:
    match = re.search(r"https?://\S+/login/link/\S+", output)
    assert match, output
    return urlsplit(match.group(0)).path


def test_creates_account_org_admin_and_events():
    output = bootstrap(email="Ada@Example.com", org="Acme Inc", name="Ada Lovelace")

    account = Account.objects.get(email="ada@example.com")
    assert account.email_verified
    assert account.display_name == "Ada Lovelace"
    assert not account.has_usable_password()
    org = Organization.objects.get(name="Acme Inc")
    assert OrgAdmin.objects.filter(org=org, account=account).exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"account:created", "org:created", "account:signin_link:created"} <= actions
    link_event = AuditEvent.objects.get(action="account:signin_link:created")
    assert (link_event.actor_type, link_event.actor_name) == ("system", "bootstrap")
    assert link_event.org_id == org.org_id
    assert "Acme Inc" in output


def test_reuses_an_existing_account():
    existing = AccountFactory(email="ops@example.com", email_verified=False)
    bootstrap(email="ops@example.com", org="Second")
    assert Account.objects.filter(email="ops@example.com").count() == 1
    assert OrgAdmin.objects.filter(org__name="Second", account=existing).exists()
    assert not AuditEvent.objects.filter(action="account:created").exists()


def test_printed_link_signs_in_once():
    path = printed_link_path(bootstrap(email="ada@example.com", org="Acme"))
    client = Client()

    page = client.get(path)
    assert page.status_code == 200
    assert b'<button type="submit"' in page.content
    assert not AuditEvent.objects.filter(action="account:signin_link:used").exists()  # GET burns nothing

    signed_in = client.post(path)
    assert signed_in.status_code == 302
    assert client.session.get("_auth_user_id")
    assert client.get("/account/").status_code == 200

    again = Client().post(path)
    assert again.status_code == 400
    assert AuditEvent.objects.filter(action="account:signin_link:used").count() == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"email": "not-an-email", "org": "Acme"}, "valid email"),
        ({"email": "ada@example.com", "org": "   "}, "1 to 100"),
        ({"email": "ada@example.com", "org": "x" * 101}, "1 to 100"),
    ],
)
def test_bad_input_fails_clearly_and_changes_nothing(options, message):
    with pytest.raises(CommandError, match=message):
        bootstrap(**options)
    assert not Account.objects.exists()
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()
