"""Rotating the ID token signing key with ``orgwarden oidc rotate-signing-key``.

Through the live server: a product signs a person in, the command rotates the key, and the JWKS
(found through discovery, as a relying party does) lists both keys; the ID token signed before the
rotation still verifies against it, and new ID tokens carry the new key's ``kid``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
import requests
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone
from joserfc import jws

from orgwarden.audit.models import AuditEvent
from orgwarden.oidc import keys
from orgwarden.oidc.models import SigningKey
from orgwarden.oidc.tests.relying_party import sign_in, verify

NEW_KEY = re.compile(r"^New signing key: (\S+)$", re.M)
PREVIOUS_KEY = re.compile(r"^Previous key (\S+) stays published in the JWKS until (\S+ \S+) UTC", re.M)


def kid_of_token(id_token: str) -> str:
    return jws.extract_compact(id_token.encode()).protected["kid"]


def rotate() -> str:
    out = StringIO()
    call_command("oidc", "rotate-signing-key", stdout=out)
    return out.getvalue()


def jwks_kids(live_server) -> list[str]:
    config = requests.get(f"{live_server.url}/.well-known/openid-configuration", timeout=5).json()
    return [key["kid"] for key in requests.get(config["jwks_uri"], timeout=5).json()["keys"]]


@pytest.mark.django_db(transaction=True)
def test_rotation_keeps_old_tokens_verifying_and_signs_new_ones_with_the_new_key(
    live_server, product, manage, grant
):
    person = manage()
    grant(person)
    _client, before, _nonce = sign_in(live_server, product, person)
    old_kid = kid_of_token(before["id_token"])
    assert jwks_kids(live_server) == [old_kid]
    assert SigningKey.objects.get().kid == old_kid  # the kid we store is the one relying parties see

    output = rotate()

    new_kid = NEW_KEY.search(output).group(1)
    previous = PREVIOUS_KEY.search(output)
    assert new_kid != old_kid and previous.group(1) == old_kid
    retired = SigningKey.objects.get(kid=old_kid).retired_at
    assert previous.group(2) == (retired + keys.OVERLAP).strftime("%Y-%m-%d %H:%M")
    assert sorted(jwks_kids(live_server)) == sorted([new_kid, old_kid])
    _config, claims = verify(live_server, before["id_token"])  # signed by the retired key
    assert claims["sub"] == person.account_id
    _client, after, _nonce = sign_in(live_server, product, person)
    assert kid_of_token(after["id_token"]) == new_kid
    verify(live_server, after["id_token"])

    event = AuditEvent.objects.get(action="system:oidc_key:rotated")
    assert event.details == {"kid": new_kid, "retired": [old_kid]}
    assert event.actor_name == "orgwarden oidc rotate-signing-key"


@pytest.mark.django_db
def test_the_retired_key_leaves_the_jwks_after_the_overlap():
    keys.install(force=True)  # the first key, as the first OIDC request makes it
    first = SigningKey.objects.get().kid
    rotate()
    current = SigningKey.objects.get(retired_at__isnull=True).kid
    assert [k.kid for k in keys.published_keys()] == [current, first]
    later = timezone.now() + keys.OVERLAP + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        assert [k.kid for k in keys.published_keys()] == [current]
        keys.install(force=True)
        from oauth2_provider.settings import oauth2_settings

        assert oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE == []


@pytest.mark.django_db
def test_first_rotation_on_a_new_installation_says_there_is_no_previous_key():
    output = rotate()
    assert "No previous key is published" in output
    assert SigningKey.objects.get(retired_at__isnull=True).kid == NEW_KEY.search(output).group(1)
    assert AuditEvent.objects.get(action="system:oidc_key:rotated").details["retired"] == []


@pytest.mark.django_db
def test_the_command_needs_an_action():
    with pytest.raises(CommandError):
        call_command("oidc")


@pytest.mark.django_db
def test_migration_gives_existing_keys_their_thumbprint_as_kid():
    import importlib

    from django.apps import apps

    from orgwarden.accounts import crypto

    migration = importlib.import_module("orgwarden.oidc.migrations.0002_signing_key_kid_is_jwk_thumbprint")
    pem = keys._new_pem()
    readable = SigningKey.objects.create(kid="random-id", private_pem=crypto.encrypt(pem))
    unreadable = SigningKey.objects.create(kid="lost-key", private_pem="not encrypted with our secret")
    migration.kid_to_thumbprint(apps, None)
    readable.refresh_from_db()
    unreadable.refresh_from_db()
    assert readable.kid == keys.kid_of(pem) != "random-id"
    assert unreadable.kid == "lost-key"


@pytest.mark.django_db
def test_after_the_secret_key_changes_rotation_gives_a_key_that_can_sign(settings):
    from oauth2_provider.settings import oauth2_settings

    keys.install(force=True)
    settings.SECRET_KEY = "another installation secret " + "x" * 40
    keys.install(force=True)
    assert oauth2_settings.OIDC_RSA_PRIVATE_KEY is None  # the old key is unreadable: nothing signs
    output = rotate()
    assert "No previous key is published" in output and not PREVIOUS_KEY.search(output)
    keys.install(force=True)
    assert keys.kid_of(oauth2_settings.OIDC_RSA_PRIVATE_KEY) == NEW_KEY.search(output).group(1)
    assert oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE == []  # the unreadable key is not published
