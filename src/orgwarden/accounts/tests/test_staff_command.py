"""``orgwarden staff``: the operator makes someone staff of the installation, the one way there is.

Staff answer support requests at ``/operator/support/`` and record payments; nothing made an account
staff (``createsuperuser`` stopped with an AttributeError), so no installation had a support queue
anyone could open.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def staff(*args: str) -> str:
    out = StringIO()
    call_command("staff", *args, stdout=out)
    return out.getvalue()


def test_an_existing_account_made_staff_opens_the_support_queue_and_is_audited():
    account = AccountFactory(email="ops@example.com")
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    assert client.get("/operator/support/").status_code == 404

    said = staff("add", "OPS@example.com")
    assert said == "ops@example.com is now staff: the support queue is http://testserver/operator/support/\n"
    assert client.get("/operator/support/").status_code == 200
    event = AuditEvent.objects.get(action="system:staff:granted")
    assert (event.actor_type, event.actor_name, event.targets[0]["id"]) == (
        "system",
        "orgwarden staff",
        account.account_id,
    )
    assert staff("add", "ops@example.com").startswith("ops@example.com is already staff")
    assert staff("list") == "ops@example.com\n"

    assert staff("remove", "ops@example.com") == "ops@example.com is no longer staff.\n"
    assert client.get("/operator/support/").status_code == 404
    assert AuditEvent.objects.filter(action="system:staff:revoked").count() == 1
    assert staff("list").startswith("No staff yet")


def test_a_new_address_gets_an_account_and_a_one_time_sign_in_link():
    said = staff("add", "new.operator@example.com", "--name", "New Operator")
    account = Account.objects.get(email="new.operator@example.com")
    assert account.is_staff and account.email_verified and not account.has_usable_password()
    assert account.display_name == "New Operator"
    link = re.search(r"http://testserver(/login/link/\S+)", said).group(1)
    Client().get(link)  # a mail scanner's GET: the page only shows a button
    signed_in = Client()
    assert signed_in.post(link).status_code == 302
    assert signed_in.get("/operator/support/").status_code == 200


def test_bad_input_is_one_line_and_changes_nothing():
    with pytest.raises(CommandError, match="Not a valid email address: 'nobody'"):
        staff("add", "nobody")
    with pytest.raises(CommandError, match=r"No account has the email ghost@example\.com"):
        staff("remove", "ghost@example.com")
    assert not Account.objects.exists() and not AuditEvent.objects.exists()
