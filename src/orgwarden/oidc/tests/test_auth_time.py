"""The ID token's ``auth_time`` is when the person signed in in the session the product sign-in came
from (OIDC Core §2: "Time when the End-User authentication occurred"), and stays that on the ID
tokens its refreshes issue.

Before, it was the account's ``last_login`` (django-oauth-toolkit's default), which any sign-in on
another device moves: a product checking ``auth_time`` against its ``max_age`` was told of a
sign-in that had not happened in this browser. The authorize step judges ``max_age`` by the
session's own sign-in time; the ID token now names that same instant. Driven through the sign-in
form and the OIDC endpoints with Django's test client; the clock is time-machine's.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client, override_settings
from oauth2_provider.models import RefreshToken

from orgwarden.oidc.models import SignInTime
from orgwarden.oidc.tests.relying_party import CALLBACK

pytestmark = pytest.mark.django_db(transaction=True)

VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
START = dt.datetime(2026, 11, 2, 9, 0, 0, 250_000, tzinfo=dt.UTC)  # not on a whole second


def at(minutes: int):
    return time_machine.travel(START + dt.timedelta(minutes=minutes), tick=False)


@pytest.fixture
def person(product, manage, grant):
    account = manage()
    grant(account)
    return account


def signed_in(person, password: str) -> Client:
    """A browser (a session) in which ``person`` signs in through the sign-in form, now."""
    browser = Client()
    assert browser.post("/login", {"email": person.email})["Location"] == "/login/step/password"
    assert browser.post("/login/step/password", {"password": password}).status_code == 302
    return browser


def authorize(browser: Client, product, **extra: str):
    return browser.get(
        "/oauth2/authorize/",
        {
            "client_id": product.client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid email",
            "code_challenge": CHALLENGE,
            "code_challenge_method": "S256",
            **extra,
        },
    )


def code_in(answer) -> str:
    assert answer.status_code == 302 and answer["Location"].startswith(CALLBACK), answer.get("Location")
    return parse_qs(urlsplit(answer["Location"]).query)["code"][0]


def token_call(product, **form: str) -> dict:
    basic = base64.b64encode(f"{product.client_id}:{product.secret}".encode()).decode()
    answer = Client().post("/oauth2/token/", form, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert answer.status_code == 200, answer.content
    return answer.json()


def exchange(product, code: str) -> dict:
    return token_call(
        product, grant_type="authorization_code", code=code, redirect_uri=CALLBACK, code_verifier=VERIFIER
    )


def claims_of(tokens: dict) -> dict:
    payload = tokens["id_token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def unix(minutes: int) -> int:
    return int((START + dt.timedelta(minutes=minutes)).timestamp())


def test_auth_time_is_this_sessions_sign_in_not_a_later_one_on_another_device(product, person, password):
    with at(0):
        laptop = signed_in(person, password)
    with at(10):
        phone = signed_in(person, password)  # moves the account's last sign-in
        from_phone = claims_of(exchange(product, code_in(authorize(phone, product))))
    with at(20):
        tokens = exchange(product, code_in(authorize(laptop, product)))
    assert claims_of(tokens)["auth_time"] == unix(0)
    assert from_phone["auth_time"] == unix(10)

    # Refreshed after yet another sign-in elsewhere: the new ID token names the same sign-in.
    with at(30):
        signed_in(person, password)
    with at(40):
        refreshed = token_call(product, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
        again = token_call(product, grant_type="refresh_token", refresh_token=refreshed["refresh_token"])
    assert claims_of(refreshed)["auth_time"] == claims_of(again)["auth_time"] == unix(0)
    assert claims_of(again)["iat"] == unix(40)


def test_max_age_and_auth_time_agree(product, person, password):
    """A code given under ``max_age`` carries an ``auth_time`` within it, which the product checks."""
    with at(0):
        laptop = signed_in(person, password)
    with at(10):
        signed_in(person, password)
    with at(20):
        # 20 minutes since this session signed in: within 25, so no new sign-in …
        within = claims_of(exchange(product, code_in(authorize(laptop, product, max_age="1500"))))
        assert within["auth_time"] == unix(0) and within["iat"] - within["auth_time"] <= 1500
        # … past 15, though the other device signed in 10 minutes ago: sign in again first.
        answer = authorize(laptop, product, max_age="900")
        assert answer.status_code == 302 and answer["Location"].startswith("/login?")
    with at(21):
        page = laptop.get(answer["Location"])
        laptop.post("/login", {"email": person.email, "next": page.context["next"]})
        done = laptop.post("/login/step/password", {"password": password})
        renewed = claims_of(exchange(product, code_in(laptop.get(done["Location"]))))
    assert renewed["auth_time"] == unix(21) and renewed["iat"] - renewed["auth_time"] <= 900


def test_the_sign_in_time_is_kept_for_the_code_then_for_its_token_family(product, person, password):
    with at(0):
        laptop = signed_in(person, password)
        code = code_in(authorize(laptop, product))
        row = SignInTime.objects.get()
        assert row.grant is not None and row.token_family is None and row.auth_time == START
        exchange(product, code)
    row = SignInTime.objects.get()
    assert row.grant is None and row.auth_time == START
    assert row.token_family == RefreshToken.objects.get().token_family


def test_a_session_that_never_recorded_its_sign_in_time_counts_from_its_row(product, person):
    """With the session-limit middleware switched off (``ORGWARDEN_SESSION_LIMITS=false``) nothing
    writes the time into a session signed in another way: its row's creation, not "now"."""
    with override_settings(SESSION_LIMITS_ENABLED=False), at(0):
        browser = Client()
        browser.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    with override_settings(SESSION_LIMITS_ENABLED=False), at(5):
        tokens = exchange(product, code_in(authorize(browser, product)))
    assert claims_of(tokens)["auth_time"] == unix(0)


@pytest.mark.parametrize("limits_on", [True, False], ids=["session-limits-on", "session-limits-off"])
@pytest.mark.parametrize("recorded", [True, False], ids=["signed-in-by-the-form", "session-without-its-time"])
@pytest.mark.parametrize("managed", [True, False], ids=["under-a-policy", "under-no-policy"])
def test_max_age_is_judged_by_the_auth_time_the_id_token_names(
    product, org, manage, grant, password, limits_on, recorded, managed
):
    """OIDC Core §3.1.2.1: with ``max_age`` the person signs in again when more than that has passed
    since their sign-in, and the ID token's ``auth_time`` (§2) names that sign-in, for the product
    to check. The two read one time, in every configuration: session limits on or off, a policy or
    none, a session signed in by the form or one that never recorded its sign-in time (from before
    the key, or signed in another way). Judged to the second: ``auth_time`` is whole seconds, the
    sign-in at ``START`` is not. Before, with session limits off, a session without its time was
    sent to sign in again whatever its age, while its ID tokens counted it from its row."""
    from orgwarden.accounts.tests.factories import AccountFactory
    from orgwarden.orgs.models import OrgUser
    from orgwarden.policies.selectors import session_limits_for

    person = AccountFactory()
    if managed:
        manage(person)
    else:  # an external user of the org: no policy, no session limits
        OrgUser.objects.create(org=org, account=person, email=person.email)
    grant(person)
    assert (session_limits_for(person) is not None) is managed
    with override_settings(SESSION_LIMITS_ENABLED=limits_on), at(0):
        browser = Client()
        if recorded:
            assert browser.post("/login", {"email": person.email})["Location"] == "/login/step/password"
            assert browser.post("/login/step/password", {"password": password}).status_code == 302
        else:
            browser.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    with override_settings(SESSION_LIMITS_ENABLED=limits_on), at(5):
        auth_time = claims_of(exchange(product, code_in(authorize(browser, product))))["auth_time"]
        now = (START + dt.timedelta(minutes=5)).timestamp()
        whole = int(now - auth_time)  # the product's now - auth_time, not a whole number
        assert whole < now - auth_time < whole + 1
        for max_age in (whole - 1, whole, whole + 1):
            if max_age < 0:
                continue
            answer = authorize(browser, product, max_age=str(max_age))
            product_accepts = now - auth_time <= max_age
            if product_accepts:
                assert claims_of(exchange(product, code_in(answer)))["auth_time"] == auth_time
            else:
                assert answer.status_code == 302 and answer["Location"].startswith("/login?"), max_age
    # Counted from the sign-in at minute 0, unless the session-limit middleware met a session
    # without its time: its limits (and so its sign-in) count from that first request.
    assert auth_time == (unix(5) if limits_on and not recorded else unix(0))


def test_a_session_with_no_time_and_no_row_has_no_sign_in_time():
    """Ended while the request ran: nothing to judge ``max_age`` by, so the authorize step asks for
    a new sign-in rather than count it as fresh (it used to be "now")."""
    from orgwarden.accounts.signin import AUTH_AT_KEY, sign_in_time

    assert sign_in_time({}, created_at=None) is None
    assert sign_in_time({AUTH_AT_KEY: True}, created_at=None) is None
    assert sign_in_time({AUTH_AT_KEY: 12.5}, created_at=None) == 12.5
    assert sign_in_time({}, created_at=START) == START.timestamp()
