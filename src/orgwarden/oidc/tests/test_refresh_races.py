"""A product's refresh token sent twice at once: the second is refused the way a second use is."""

from __future__ import annotations

import base64
import hashlib

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken, RefreshToken

from orgwarden.oidc.tests.relying_party import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def refresh(product, refresh_token: str):
    """POST /oauth2/token/ with the refresh grant, the site's credentials in HTTP Basic."""
    basic = base64.b64encode(f"{product.client_id}:{product.secret}".encode()).decode()
    return Client().post(
        "/oauth2/token/",
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )


def test_a_refresh_token_sent_twice_at_once_is_refused_the_second_time_not_500(
    live_server, product, manage, grant
):
    """A product retries a refresh (or two of its workers refresh at once). Both passed validation;
    the second then waited for the first's lock on the refresh token and found it rotated: DOT took
    that for its grace period and answered the first's access token, whose value is not stored here
    (only its SHA-256), so the answer named an empty token and looking it up raised: a 500. The
    second answers ``invalid_grant``, as a refresh token used after its rotation does, and the
    first's new tokens stay the only live ones."""
    from orgwarden.testing.races import behind_an_open_transaction

    person = manage()
    grant(person)
    _client, token, _nonce = sign_in(live_server, product, person)
    first: list = []

    def first_refresh() -> None:
        first.append(refresh(product, token["refresh_token"]))

    response = behind_an_open_transaction(first_refresh, lambda: refresh(product, token["refresh_token"]))
    assert first[0].status_code == 200
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert response["Cache-Control"] == "no-store"
    issued = first[0].json()
    live = AccessToken.objects.values_list("token_checksum", flat=True)
    assert list(live) == [hashlib.sha256(issued["access_token"].encode()).hexdigest()]
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
