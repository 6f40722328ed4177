"""Whose account-level events an org's audit log shows: its admins and its managed accounts."""

import pytest
from django.db import transaction

from orgwarden.accounts import services as account_services
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.services import Actor
from orgwarden.orgs.services.claims import account_claim

pytestmark = pytest.mark.django_db


def test_managed_accounts_sign_ins_show_in_the_org_log_and_strangers_do_not(org, admin_client):
    managed = AccountFactory(email="mia@acme.test")
    stranger = AccountFactory(email="sam@elsewhere.test")
    with transaction.atomic():
        account_claim(org=org, account=managed, domain=None, actor=Actor.system())
    account_services.signin_success_record(account=managed, method="password")
    account_services.signin_success_record(account=stranger, method="password")
    page = admin_client.get(f"/admin/o/{org.org_id}/audit-log/", {"action": "account:signin:succeeded"})
    assert page.status_code == 200
    assert b"mia@acme.test" in page.content
    assert b"sam@elsewhere.test" not in page.content


def test_account_level_events_of_a_managed_account_carry_its_org(org, other_org_admin):
    managed = AccountFactory(email="mia@acme.test")
    unmanaged = AccountFactory(email="sam@elsewhere.test")
    with transaction.atomic():
        account_claim(org=org, account=managed, domain=None, actor=Actor.system())
    account_services.signin_success_record(account=managed, method="password")
    account_services.signin_success_record(account=unmanaged, method="password")
    from orgwarden.audit.models import AuditEvent

    signins = AuditEvent.objects.filter(action="account:signin:succeeded")
    assert signins.get(actor_id=managed.account_id).org_id == org.org_id
    assert signins.get(actor_id=unmanaged.account_id).org_id == ""
    # Another org's admin does not see it.
    from django.test import Client

    client = Client()
    client.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    page = client.get(f"/admin/o/{other_org_admin.org.org_id}/audit-log/")
    assert page.status_code == 200 and b"mia@acme.test" not in page.content
