"""Settings → API keys in the console, through the real views."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from orgwarden.audit.models import AuditEvent
from orgwarden.tokens.models import OrgApiKey
from orgwarden.tokens.services import api_key_authenticate, api_key_create

pytestmark = pytest.mark.django_db

BACKEND = "orgwarden.accounts.backends.AccountBackend"


def keys_url(org) -> str:
    return f"/admin/o/{org.org_id}/api-keys/"


def test_the_page_is_in_the_navigation(admin_client, org):
    response = admin_client.get(f"/admin/o/{org.org_id}/")
    assert f'href="{keys_url(org)}"'.encode() in response.content


def test_create_shows_the_value_once(admin_client, org, org_admin):
    response = admin_client.post(keys_url(org), {"name": "Offboarding", "expires_in_days": "30"})
    assert response.status_code == 200
    value = re.search(rb'<code class="secret" id="new-api-key">(owk_[\w-]+)</code>', response.content).group(
        1
    )
    key = api_key_authenticate(value=value.decode())
    assert key is not None and key.org == org and key.name == "Offboarding"
    assert round((key.expires_at - key.created_at).total_seconds() / 86400) == 30
    assert b"only time the key is shown" in response.content
    assert AuditEvent.objects.filter(action="org:api_key:created", org_id=org.org_id).count() == 1
    assert response["Cache-Control"].startswith("max-age=0")
    # Never again: the list shows the prefix only.
    listing = admin_client.get(keys_url(org))
    assert value not in listing.content and key.prefix.encode() in listing.content
    assert b"Offboarding" in listing.content and org_admin.account.display_name.encode() in listing.content


def test_default_lifetime_is_seven_days(admin_client, org):
    page = admin_client.get(keys_url(org))
    assert b'<option value="7" selected>' in page.content
    admin_client.post(keys_url(org), {"name": "k", "expires_in_days": "7"})
    key = OrgApiKey.objects.get()
    assert round((key.expires_at - key.created_at).total_seconds() / 86400) == 7


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "expires_in_days": "7"},
        {"name": "   ", "expires_in_days": "7"},
        {"name": "x" * 101, "expires_in_days": "7"},
        {"name": "k", "expires_in_days": "366"},
        {"name": "k", "expires_in_days": "abc"},
        {"name": "k"},
        {"name": "k\x00", "expires_in_days": "7"},
    ],
)
def test_bad_input_is_a_form_error_and_changes_nothing(admin_client, org, data):
    response = admin_client.post(keys_url(org), data)
    assert response.status_code == 400 and b'class="errorlist"' in response.content
    assert b"new-api-key" not in response.content
    assert not OrgApiKey.objects.exists() and not AuditEvent.objects.exists()


def test_revoke(admin_client, org, org_admin):
    key, value = api_key_create(org=org, actor=org_admin.account, name="Old script")
    page = admin_client.get(keys_url(org))
    revoke_url = f"/admin/o/{org.org_id}/api-keys/{key.key_id}/revoke"
    assert revoke_url.encode() in page.content
    assert admin_client.get(revoke_url).status_code == 405
    response = admin_client.post(revoke_url)
    assert response.status_code == 302 and response["Location"] == keys_url(org)
    assert api_key_authenticate(value=value) is None
    assert AuditEvent.objects.filter(action="org:api_key:revoked").count() == 1
    assert b"Old script" not in admin_client.get(keys_url(org)).content.split(b"Active keys")[1]
    again = admin_client.post(revoke_url, follow=True)  # sent twice: a clear answer, not a 404 page
    assert again.status_code == 200 and "This API key was revoked already." in again.content.decode()
    assert AuditEvent.objects.filter(action="org:api_key:revoked").count() == 1


def test_another_orgs_key_and_page_are_404(admin_client, org, other_org_admin):
    theirs, value = api_key_create(org=other_org_admin.org, actor=other_org_admin.account, name="theirs")
    assert admin_client.get(keys_url(other_org_admin.org)).status_code == 404
    assert admin_client.post(f"/admin/o/{org.org_id}/api-keys/{theirs.key_id}/revoke").status_code == 404
    assert admin_client.post(f"/admin/o/{org.org_id}/api-keys/nope%00/revoke").status_code == 404
    assert api_key_authenticate(value=value) is not None
    assert b"theirs" not in admin_client.get(keys_url(org)).content


def test_revoke_needs_csrf(org, org_admin):
    key, _ = api_key_create(org=org, actor=org_admin.account, name="k")
    client = Client(enforce_csrf_checks=True)
    client.force_login(org_admin.account, backend=BACKEND)
    assert client.post(f"/admin/o/{org.org_id}/api-keys/{key.key_id}/revoke").status_code == 403
    assert OrgApiKey.objects.get().revoked_at is None


def test_signed_out_people_are_sent_to_sign_in(client, org):
    response = client.get(keys_url(org))
    assert response.status_code == 302 and "/login" in response["Location"]
