"""A product's refresh token or authorization code sent twice at once: the second is refused the
way a second use is."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken, RefreshToken

from orgwarden.oidc.tests.relying_party import CALLBACK, authorize, sign_in

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


def exchange(product, code: str, verifier: str):
    """POST /oauth2/token/ with the authorization-code grant (PKCE), the site's credentials in Basic."""
    basic = base64.b64encode(f"{product.client_id}:{product.secret}".encode()).decode()
    return Client().post(
        "/oauth2/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )


def test_an_authorization_code_sent_twice_at_once_is_exchanged_once(
    live_server, product, manage, grant, monkeypatch
):
    """A product retries its code exchange (or two of its workers both exchange it). One exchange
    checked the code, then the other exchanged it and deleted its grant before the first looked the
    grant up again (its redirect URI, its PKCE challenge): ``Grant.DoesNotExist``, a 500. Seen 1 in
    10 at once on PostgreSQL. Now an exchange locks the code's grant while it checks it: the other
    waits, then finds no code (``invalid_grant``, nothing saved): one set of tokens was saved, and
    the code's second use revoked it.

    The other exchange runs right after this one's check of the code, from another connection and
    thread, as a concurrent request does."""
    import threading

    from django.db import connection, connections
    from oauth2_provider.oauth2_validators import OAuth2Validator

    from orgwarden.testing.races import a_session_waits_on_a_lock

    person = manage()
    grant(person)
    _client, verifier, _nonce, answer = authorize(live_server, product, person)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    real = OAuth2Validator.validate_code
    other_answer: list = []

    def other_exchange() -> None:
        try:
            other_answer.append(exchange(product, code, verifier))
        finally:
            connections.close_all()

    def then_the_other(self, *args, **kwargs):
        checked = real(self, *args, **kwargs)
        if not other_answer and threading.current_thread() is threading.main_thread():
            other = threading.Thread(target=other_exchange)
            other.start()
            # Done at once when nothing stops it; else waiting for this exchange's lock (PostgreSQL
            # shows the wait; SQLite's one writer waits unseen, so a second is enough to tell).
            for _ in range(200 if connection.vendor == "postgresql" else 20):
                if not other.is_alive() or a_session_waits_on_a_lock():
                    break
                other.join(timeout=0.05)
            threads.append(other)
        return checked

    threads: list[threading.Thread] = []
    monkeypatch.setattr(OAuth2Validator, "validate_code", then_the_other)
    this_answer = exchange(product, code, verifier)
    threads[0].join(timeout=30)
    answers = sorted([this_answer, other_answer[0]], key=lambda r: r.status_code)
    assert [r.status_code for r in answers] == [200, 400], [r.content for r in answers]
    assert answers[1].json()["error"] == "invalid_grant"
    # One set of tokens was saved, and the second use of the code revoked it (RFC 6749 §4.1.2;
    # test_replay.py): none works, and no second set exists.
    assert RefreshToken.objects.count() == 1 and RefreshToken.objects.get().revoked is not None
    assert not AccessToken.objects.exists()
