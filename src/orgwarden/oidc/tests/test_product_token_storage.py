"""Product sign-in's tokens at rest: django-oauth-toolkit keeps access and refresh tokens as their
SHA-256 only (``COMPLIANT_BCP_RFC9700_TOKEN_STORAGE``), and tokens issued before that lose their
plaintext in ``oidc`` migration 0003 while they keep working."""

from __future__ import annotations

import hashlib
import importlib

import pytest
import requests
from django.apps import apps
from django.db import connection
from oauth2_provider.models import AccessToken, RefreshToken

from orgwarden.oidc.tests.relying_party import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

migration = importlib.import_module("orgwarden.oidc.migrations.0003_product_tokens_stored_hashed")


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def userinfo(live_server, access_token: str) -> int:
    headers = {"Authorization": f"Bearer {access_token}"}
    return requests.get(f"{live_server.url}/oauth2/userinfo/", headers=headers, timeout=5).status_code


def test_access_and_refresh_tokens_are_stored_as_their_sha256_only(live_server, product, manage, grant):
    person = manage()
    grant(person)
    client, first, _nonce = sign_in(live_server, product, person)
    second = client.refresh_token(f"{live_server.url}/oauth2/token/", refresh_token=first["refresh_token"])
    # Rotation deleted the first access token; the first refresh token stays, revoked.
    kept = [second["access_token"], first["refresh_token"], second["refresh_token"]]
    stored = list(AccessToken.objects.values_list("token", "token_checksum"))
    stored += list(RefreshToken.objects.values_list("token", "token_checksum"))
    assert {token for token, _checksum in stored} == {""}
    assert sorted(checksum for _token, checksum in stored) == sorted(sha256(value) for value in kept)
    assert userinfo(live_server, second["access_token"]) == 200  # found by its checksum


def test_the_migration_clears_the_plaintext_of_earlier_tokens_which_keep_working(
    live_server, product, manage, grant
):
    person = manage()
    grant(person)
    client, token, _nonce = sign_in(live_server, product, person)
    # As a token issued before hashed storage was turned on was kept: its value beside its checksum.
    AccessToken.objects.filter(token_checksum=sha256(token["access_token"])).update(
        token=token["access_token"]
    )
    RefreshToken.objects.filter(token_checksum=sha256(token["refresh_token"])).update(
        token=token["refresh_token"]
    )

    with connection.schema_editor() as schema_editor:
        migration.plaintext_clear(apps, schema_editor)

    assert set(AccessToken.objects.values_list("token", flat=True)) == {""}
    assert set(RefreshToken.objects.values_list("token", flat=True)) == {""}
    assert userinfo(live_server, token["access_token"]) == 200
    assert client.refresh_token(f"{live_server.url}/oauth2/token/", refresh_token=token["refresh_token"])
