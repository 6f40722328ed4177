"""A credential of product sign-in used twice revokes what it gave: an authorization code exchanged a
second time (RFC 6749 §4.1.2: "SHOULD revoke … all tokens previously issued based on that
authorization code") and a refresh token used after its rotation (RFC 9700 §4.14.2). Whoever sent
it first may have been an attacker holding a leaked code or token; both parties lose the tokens and
the product signs the person in again. Driven through the HTTP endpoints, as a product calls them."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from orgwarden.audit.models import AuditEvent
from orgwarden.oidc.models import ExchangedCode
from orgwarden.oidc.processors.validator import REFRESH_REPLAY_LEEWAY
from orgwarden.oidc.tests.relying_party import CALLBACK

pytestmark = pytest.mark.django_db(transaction=True)

VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
EVENT = "account:product:tokens_replay_revoked"


@pytest.fixture
def person(manage, grant):
    account = manage()
    grant(account)
    return account


def code_for(product, person) -> str:
    browser = Client()
    browser.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    answer = browser.get(
        "/oauth2/authorize/",
        {
            "client_id": product.client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid email",
            "code_challenge": CHALLENGE,
            "code_challenge_method": "S256",
        },
    )
    return parse_qs(urlsplit(answer["Location"]).query)["code"][0]


def token_call(product, **form: str):
    basic = base64.b64encode(f"{product.client_id}:{product.secret}".encode()).decode()
    return Client(enforce_csrf_checks=True).post("/oauth2/token/", form, HTTP_AUTHORIZATION=f"Basic {basic}")


def exchange(product, code: str):
    return token_call(
        product, grant_type="authorization_code", code=code, redirect_uri=CALLBACK, code_verifier=VERIFIER
    )


def refresh(product, refresh_token: str):
    return token_call(product, grant_type="refresh_token", refresh_token=refresh_token)


def later():
    """Past the leeway that lets a product's own retry of a refresh go without revoking."""
    return time_machine.travel(timezone.now() + REFRESH_REPLAY_LEEWAY + timedelta(seconds=1))


def userinfo(access_token: str) -> int:
    return Client().get("/oauth2/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code


def test_a_code_exchanged_twice_revokes_the_tokens_of_its_first_exchange(product, person):
    code = code_for(product, person)
    first = exchange(product, code)
    assert first.status_code == 200
    tokens = first.json()
    assert userinfo(tokens["access_token"]) == 200

    second = exchange(product, code)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    assert userinfo(tokens["access_token"]) == 401
    assert refresh(product, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    event = AuditEvent.objects.get(action=EVENT)
    assert event.details == {"replayed": "authorization_code"}
    assert event.org_id == product.site.org.org_id
    assert {t["id"] for t in event.targets} == {person.account_id, product.site.site_id}


def test_a_code_replayed_after_its_tokens_were_refreshed_revokes_the_refreshed_ones(product, person):
    code = code_for(product, person)
    tokens = exchange(product, code).json()
    rotated = refresh(product, tokens["refresh_token"]).json()
    assert userinfo(rotated["access_token"]) == 200

    assert exchange(product, code).status_code == 400
    assert userinfo(rotated["access_token"]) == 401
    assert refresh(product, rotated["refresh_token"]).status_code == 400


def test_a_refresh_token_used_after_its_rotation_revokes_its_whole_family(product, person):
    tokens = exchange(product, code_for(product, person)).json()
    rotated = refresh(product, tokens["refresh_token"])
    assert rotated.status_code == 200
    rotated = rotated.json()

    with later():
        replayed = refresh(product, tokens["refresh_token"])
        assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
        assert userinfo(rotated["access_token"]) == 401
        assert refresh(product, rotated["refresh_token"]).json()["error"] == "invalid_grant"
    event = AuditEvent.objects.get(action=EVENT)
    assert event.details == {"replayed": "refresh_token"}
    assert {t["id"] for t in event.targets} == {person.account_id, product.site.site_id}


def test_a_refresh_retried_at_once_is_refused_and_the_first_answer_keeps_working(product, person):
    """A product that lost the answer to its refresh, or two of its workers: not a replay."""
    tokens = exchange(product, code_for(product, person)).json()
    rotated = refresh(product, tokens["refresh_token"]).json()
    retried = refresh(product, tokens["refresh_token"])
    assert retried.status_code == 400 and retried.json()["error"] == "invalid_grant"
    assert userinfo(rotated["access_token"]) == 200
    assert not AuditEvent.objects.filter(action=EVENT).exists()
    assert refresh(product, rotated["refresh_token"]).status_code == 200


def test_replaying_a_dead_token_again_records_no_second_event(product, person):
    tokens = exchange(product, code_for(product, person)).json()
    refresh(product, tokens["refresh_token"])
    with later():
        for _ in range(3):
            assert refresh(product, tokens["refresh_token"]).status_code == 400
    assert AuditEvent.objects.filter(action=EVENT).count() == 1


def test_other_sign_ins_of_the_same_person_keep_their_tokens(product, person):
    kept = exchange(product, code_for(product, person)).json()
    code = code_for(product, person)
    exchange(product, code)
    exchange(product, code)
    assert userinfo(kept["access_token"]) == 200
    assert refresh(product, kept["refresh_token"]).status_code == 200


def test_an_unknown_code_or_refresh_token_revokes_nothing(product, person):
    tokens = exchange(product, code_for(product, person)).json()
    assert exchange(product, "not-a-code").json()["error"] == "invalid_grant"
    assert refresh(product, "not-a-token").json()["error"] == "invalid_grant"
    assert userinfo(tokens["access_token"]) == 200
    assert not AuditEvent.objects.filter(action=EVENT).exists()


def test_an_exchanged_code_is_kept_as_its_sha256_only(product, person):
    code = code_for(product, person)
    exchange(product, code)
    row = ExchangedCode.objects.get()
    assert row.code_hash == hashlib.sha256(code.encode()).hexdigest()
    assert code not in str(ExchangedCode.objects.values().get())
