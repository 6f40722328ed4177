"""tokens.services: org API keys — one event per change, value never stored, lookups by hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from orgwarden.accounts.ids import secret_hash
from orgwarden.audit.models import AuditEvent
from orgwarden.tokens import selectors
from orgwarden.tokens.exceptions import InvalidKeyRequest, KeyNotFound
from orgwarden.tokens.models import OrgApiKey
from orgwarden.tokens.services import api_key_authenticate, api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db

T0 = "2026-03-02T10:00:00Z"


def test_create_returns_the_value_once_and_stores_only_its_hash(org, org_admin):
    with time_machine.travel(T0, tick=False):
        key, value = api_key_create(org=org, actor=org_admin.account, name="  Offboarding   script ")
    assert value.startswith("owk_") and len(value) >= 40
    stored = OrgApiKey.objects.get()
    assert (
        stored.name == "Offboarding script" and stored.org == org and stored.created_by == org_admin.account
    )
    assert stored.token_hash == secret_hash(value) and value not in stored.token_hash
    assert stored.prefix == value[:10] and value.startswith(stored.prefix)
    assert all(
        value not in str(getattr(stored, f.attname)) for f in OrgApiKey._meta.fields if f.attname != "prefix"
    )
    assert stored.expires_at == datetime(2026, 3, 9, 10, tzinfo=UTC)
    event = AuditEvent.objects.get(action="org:api_key:created")
    assert event.org_id == org.org_id and event.actor_id == org_admin.account.account_id
    assert event.targets == [{"type": "api_key", "id": key.key_id, "name": "Offboarding script"}]
    assert value not in str(event.details)


@pytest.mark.parametrize(
    ("name", "days"), [("", 7), ("   ", 7), ("x" * 101, 7), ("ok", 0), ("ok", 366), ("ok", -1)]
)
def test_create_refuses_bad_input_and_leaves_nothing(org, org_admin, name, days):
    with pytest.raises(InvalidKeyRequest):
        api_key_create(org=org, actor=org_admin.account, name=name, expires_in_days=days)
    assert not OrgApiKey.objects.exists() and not AuditEvent.objects.exists()


def test_authenticate_finds_the_key_by_hash(org, org_admin):
    key, value = api_key_create(org=org, actor=org_admin.account, name="k")
    found = api_key_authenticate(value=value)
    assert found == key and found.org == org
    assert api_key_authenticate(value=value + "x") is None
    assert api_key_authenticate(value=value[4:]) is None  # without the owk_ prefix
    assert api_key_authenticate(value="owk_" + "a" * 200) is None
    assert api_key_authenticate(value="") is None


def test_expired_and_revoked_keys_are_refused(org, org_admin):
    with time_machine.travel(T0, tick=False):
        expiring, expiring_value = api_key_create(
            org=org, actor=org_admin.account, name="a", expires_in_days=1
        )
        revoked, revoked_value = api_key_create(org=org, actor=org_admin.account, name="b")
        api_key_revoke(org=org, actor=org_admin.account, key_id=revoked.key_id)
        assert api_key_authenticate(value=expiring_value) == expiring
        assert api_key_authenticate(value=revoked_value) is None
    with time_machine.travel("2026-03-03T10:00:00Z", tick=False):
        assert api_key_authenticate(value=expiring_value) is None


def test_revoke_records_one_event(org, org_admin):
    key, _ = api_key_create(org=org, actor=org_admin.account, name="k")
    with time_machine.travel(T0, tick=False):
        api_key_revoke(org=org, actor=org_admin.account, key_id=key.key_id)
    key.refresh_from_db()
    assert key.revoked_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
    event = AuditEvent.objects.get(action="org:api_key:revoked")
    assert event.org_id == org.org_id and event.targets[0]["id"] == key.key_id
    assert list(selectors.api_keys_of(org=org)) == []
    assert list(selectors.api_keys_of(org=org, include_revoked=True)) == [key]


def test_revoke_twice_or_another_orgs_key_is_not_found(org, org_admin, other_org_admin):
    key, _ = api_key_create(org=org, actor=org_admin.account, name="k")
    with pytest.raises(KeyNotFound):
        api_key_revoke(org=other_org_admin.org, actor=other_org_admin.account, key_id=key.key_id)
    assert not AuditEvent.objects.filter(action="org:api_key:revoked").exists()
    api_key_revoke(org=org, actor=org_admin.account, key_id=key.key_id)
    with pytest.raises(KeyNotFound):
        api_key_revoke(org=org, actor=org_admin.account, key_id=key.key_id)
    assert AuditEvent.objects.filter(action="org:api_key:revoked").count() == 1


def test_last_used_is_recorded_at_most_once_a_minute(org, org_admin):
    key, value = api_key_create(org=org, actor=org_admin.account, name="k")
    assert key.last_used_at is None
    with time_machine.travel(T0, tick=False) as clock:
        api_key_authenticate(value=value)
        first = OrgApiKey.objects.get().last_used_at
        assert first == timezone.now()
        clock.shift(timedelta(seconds=59))
        api_key_authenticate(value=value)
        assert OrgApiKey.objects.get().last_used_at == first
        clock.shift(timedelta(seconds=1))
        api_key_authenticate(value=value)
        assert OrgApiKey.objects.get().last_used_at == first + timedelta(minutes=1)
    # Bookkeeping, not a change someone made: no event.
    assert not AuditEvent.objects.exclude(action="org:api_key:created").exists()
