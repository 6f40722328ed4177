"""A product asks orgwarden to sign the person in again (OIDC Core 1.0 §3.1.2.1): ``prompt=login``
("the Authorization Server SHOULD prompt the End-User for reauthentication") and ``max_age`` ("If
the elapsed time is greater than max_age seconds since the End-User last actively authenticated,
the OP MUST attempt to actively re-authenticate the End-User"). Both are in the discovery document
(``prompt_values_supported``; ``max_age`` is part of every OP's authorization request).

Before: a signed-in person was sent to ``/login``, which sends a signed-in person straight back,
so a code was issued without any new sign-in; ``max_age`` was not read at all."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import time_machine
from django.test import Client

from orgwarden.accounts import otp, two_step
from orgwarden.oidc.tests.relying_party import CALLBACK

pytestmark = pytest.mark.django_db(transaction=True)

VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def query(product, **extra: str) -> dict[str, str]:
    return {
        "client_id": product.client_id,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "state": "s-1",
        "nonce": "n-1",
        **extra,
    }


@pytest.fixture
def browser(product, manage, grant, password) -> tuple[Client, object]:
    """A browser whose person signed in through the sign-in form (so the session knows when)."""
    person = manage()
    grant(person)
    client = Client()
    assert client.post("/login", {"email": person.email})["Location"] == "/login/step/password"
    assert client.post("/login/step/password", {"password": password}).status_code == 302
    return client, person


def code_in(answer) -> str | None:
    assert answer.status_code == 302, answer.content[:300]
    location = answer["Location"]
    if not location.startswith(CALLBACK):
        return None
    return parse_qs(urlsplit(location).query).get("code", [None])[0]


def id_token_claims(product, code: str) -> dict:
    basic = base64.b64encode(f"{product.client_id}:{product.secret}".encode()).decode()
    answer = Client().post(
        "/oauth2/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER,
        },
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    payload = answer.json()["id_token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def signs_in_again(client: Client, answer, password: str) -> object:
    """Follow the answer to the sign-in page, which shows its form (the person's email filled in),
    and sign in there again; returns the authorize request's answer it comes back to."""
    assert answer.status_code == 302 and answer["Location"].startswith("/login?"), answer.get("Location")
    page = client.get(answer["Location"])
    assert page.status_code == 200 and b'name="email"' in page.content
    first = client.post(
        "/login", {"email": page.context["form"].initial["email"], "next": page.context["next"]}
    )
    assert first["Location"] == "/login/step/password"
    done = client.post("/login/step/password", {"password": password})
    assert done.status_code == 302
    return client.get(done["Location"])


def test_prompt_login_signs_the_person_in_again_before_the_code(product, browser, password):
    client, person = browser
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30), tick=True):
        before = int(dt.datetime.now(dt.UTC).timestamp())
        answer = client.get("/oauth2/authorize/", query(product, prompt="login"))
        assert code_in(answer) is None
        back = signs_in_again(client, answer, password)
        code = code_in(back)
        assert code is not None and parse_qs(urlsplit(back["Location"]).query)["state"] == ["s-1"]
        claims = id_token_claims(product, code)
    assert claims["sub"] == person.account_id and claims["nonce"] == "n-1"
    assert claims["auth_time"] >= before


def test_a_max_age_older_than_the_sign_in_asks_for_a_new_one(product, browser, password):
    client, _person = browser
    fresh = client.get("/oauth2/authorize/", query(product, max_age="600"))
    assert code_in(fresh) is not None
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11), tick=True):
        stale = client.get("/oauth2/authorize/", query(product, max_age="600"))
        assert code_in(stale) is None
        back = signs_in_again(client, stale, password)
        assert code_in(back) is not None


def test_max_age_zero_is_prompt_login(product, browser):
    client, _person = browser
    answer = client.get("/oauth2/authorize/", query(product, max_age="0"))
    assert answer["Location"].startswith("/login?") and "reauth=1" in answer["Location"]


def test_a_silent_request_that_needs_a_new_sign_in_answers_login_required(product, browser):
    client, _person = browser
    answer = client.get("/oauth2/authorize/", query(product, prompt="none", max_age="0"))
    params = parse_qs(urlsplit(answer["Location"]).query)
    assert answer["Location"].startswith(CALLBACK)
    assert params["error"] == ["login_required"] and params["state"] == ["s-1"]


def test_prompt_none_with_login_is_refused_at_the_redirect_uri_not_answered_with_a_code(product, browser):
    """ "none" with any other value is an error (OIDC Core §3.1.2.1): DOT's invalid_request."""
    client, _person = browser
    answer = client.get("/oauth2/authorize/", query(product, prompt="none login"))
    params = parse_qs(urlsplit(answer["Location"]).query)
    assert answer["Location"].startswith(CALLBACK) and "code" not in params
    assert params["error"] == ["invalid_request"] and params["state"] == ["s-1"]


def test_a_max_age_that_is_no_number_is_invalid_request_at_the_redirect_uri(product, browser):
    client, _person = browser
    answer = client.get("/oauth2/authorize/", query(product, max_age="ten"))
    params = parse_qs(urlsplit(answer["Location"]).query)
    assert answer["Location"].startswith(CALLBACK) and params["error"] == ["invalid_request"]


def test_the_sign_in_page_still_sends_a_signed_in_person_on_without_reauth(browser):
    client, _person = browser
    answer = client.get("/login", {"next": "/account/"})
    assert answer.status_code == 302 and answer["Location"] == "/account/"


def _two_step_on(person, password) -> str:
    secret = otp.new_secret()
    two_step.two_step_enable(
        account=person,
        secret=secret,
        code=otp.code_at_step(secret, otp.time_step(time.time())),
        current_proof=password,
    )
    return secret


def test_a_session_from_before_two_step_was_turned_on_signs_in_again_through_it(product, browser, password):
    """Signed in with the password alone, then 2SV turned on (in another session): before, this
    session kept opening products — a password stolen before the owner turned 2SV on kept working.
    Now the authorize step has the person sign in again, through the second step."""
    client, person = browser
    secret = _two_step_on(person, password)
    silent = client.get("/oauth2/authorize/", query(product, prompt="none"))
    assert silent.status_code == 302 and silent["Location"].startswith(CALLBACK)
    assert parse_qs(urlsplit(silent["Location"]).query)["error"] == ["login_required"]

    answer = client.get("/oauth2/authorize/", query(product))
    assert code_in(answer) is None and answer["Location"].startswith("/login?")
    page = client.get(answer["Location"])
    client.post("/login", {"email": person.email, "next": page.context["next"]})
    assert client.post("/login/step/password", {"password": password})["Location"] == "/login/step/two_step"
    # The next step's code (the drift allowed): this step's was used to turn 2SV on, a replay.
    done = client.post(
        "/login/step/two_step", {"code": otp.code_at_step(secret, otp.time_step(time.time()) + 1)}
    )
    back = client.get(done["Location"])
    assert code_in(back) is not None


def test_turning_two_step_on_in_this_session_needs_no_new_sign_in(product, browser, password):
    """Turning it on took the password and a code of the app: the session has proved both."""
    client, _person = browser
    page = client.get("/account/two-step/setup?new=1").content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    enabled = client.post(
        "/account/two-step/setup", {"code": pyotp.TOTP(secret).now(), "current_proof": password}
    )
    assert enabled.status_code == 200
    assert code_in(client.get("/oauth2/authorize/", query(product))) is not None
