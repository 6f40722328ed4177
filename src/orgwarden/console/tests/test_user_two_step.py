"""The account page shows a managed account's 2SV and lets the admin reset it."""

import pytest
from django.db import transaction

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.services import Actor
from orgwarden.orgs.services.claims import account_claim

pytestmark = pytest.mark.django_db


def test_reset_two_step_from_the_account_page(org, admin_client):
    person = AccountFactory(email="mia@acme.test", totp_secret="x", totp_last_step=1)
    person.totp_enabled_at = person.created_at
    person.save()
    with transaction.atomic():
        account_claim(org=org, account=person, domain=None, actor=Actor.system())
    page = admin_client.get(f"/admin/o/{org.org_id}/users/{person.account_id}/")
    assert page.status_code == 200
    reset_url = f"/admin/o/{org.org_id}/policies/accounts/{person.account_id}/reset-two-step"
    page_url = f"/admin/o/{org.org_id}/users/{person.account_id}/"
    assert f'href="{reset_url}?next={page_url}">Reset two-step verification…</a>'.encode() in page.content
    confirm = admin_client.get(reset_url, {"next": page_url})  # asks first, and comes back here
    assert confirm.status_code == 200 and f'href="{page_url}">Cancel'.encode() in confirm.content
    person.refresh_from_db()
    assert person.has_two_step
    response = admin_client.post(reset_url, {"next": page_url})
    assert response.status_code == 302 and response["Location"] == page_url
    person.refresh_from_db()
    assert not person.has_two_step


def test_an_admin_resetting_their_own_two_step_is_signed_out_not_shown_a_400(org, org_admin, admin_client):
    """The reset ends every session of the account, the admin's own included."""
    me = org_admin.account
    me.totp_secret, me.totp_last_step, me.totp_enabled_at = "x", 1, me.created_at
    me.save()
    with transaction.atomic():
        account_claim(org=org, account=me, domain=None, actor=Actor.system())
    response = admin_client.post(f"/admin/o/{org.org_id}/policies/accounts/{me.account_id}/reset-two-step")
    assert response.status_code == 302 and response["Location"] == "/login"
    me.refresh_from_db()
    assert not me.has_two_step
    assert admin_client.get(f"/admin/o/{org.org_id}/").status_code == 302  # signed out
