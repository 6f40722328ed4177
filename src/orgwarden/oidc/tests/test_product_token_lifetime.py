"""How long a product's tokens work: no longer than the orgwarden session they rest on.

Authlib is the product site (``relying_party``); the clock is time-machine's. A refresh token at
the token endpoint and an access token at userinfo stop working when the person's orgwarden
sessions are past their policy's idle or absolute limit, have been ended, or the account is no
longer active, exactly when the browser would be signed out.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests
import time_machine
from authlib.integrations.base_client.errors import OAuthError

from orgwarden.accounts.models import Account, Session
from orgwarden.accounts.services import sessions_end_all
from orgwarden.audit.services import Actor
from orgwarden.oidc.tests.relying_party import browser_of, sign_in
from orgwarden.orgs.services.users import user_deactivate
from orgwarden.policies.services import policy_update

pytestmark = pytest.mark.django_db(transaction=True)


def limits(org, org_admin, policy, *, idle: int, absolute: int) -> None:
    policy_update(
        org=org,
        actor=org_admin.account,
        policy_id=policy.policy_id,
        settings={"idle_session_minutes": idle, "absolute_session_minutes": absolute},
    )


def later(minutes: int):
    """The clock ``minutes`` from now, still running (the live server and requests need it to)."""
    return time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes), tick=True)


def refresh(live_server, client, token) -> dict:
    return client.refresh_token(f"{live_server.url}/oauth2/token/", refresh_token=token["refresh_token"])


def refused(live_server, client, token) -> str:
    """The OAuth error of refreshing ``token`` (fails the test when the refresh works)."""
    with pytest.raises(OAuthError) as error:
        refresh(live_server, client, token)
    return error.value.error


def userinfo(live_server, access_token: str) -> requests.Response:
    """Userinfo as the product calls it (plain HTTP: Authlib would refuse an expired token itself)."""
    return requests.get(
        f"{live_server.url}/oauth2/userinfo/",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=5,
    )


@pytest.fixture
def signed_in(live_server, product, manage, grant):
    """A managed person with access to ``product``, signed in to it: (person, Authlib client, token)."""
    person = manage()
    grant(person)
    client, token, _nonce = sign_in(live_server, product, person)
    return person, client, token


# --- the policy's session limits -------------------------------------------------------------------


def test_a_refresh_past_the_idle_limit_is_refused(signed_in, live_server, org, org_admin, default_policy):
    limits(org, org_admin, default_policy, idle=15, absolute=60)
    _person, client, token = signed_in
    with later(10):
        token = refresh(live_server, client, token)  # within both limits: works
    with later(20):  # no orgwarden activity for 20 minutes
        assert refused(live_server, client, token) == "invalid_grant"


def test_a_refresh_past_the_absolute_limit_is_refused_whatever_the_activity(
    signed_in, live_server, org, org_admin, default_policy
):
    limits(org, org_admin, default_policy, idle=15, absolute=60)
    person, client, token = signed_in
    browser = browser_of(person)  # another session of the person, kept busy in orgwarden
    assert browser.get(f"{live_server.url}/account/", allow_redirects=False).status_code == 200
    for minutes in (10, 20, 30, 40, 50):
        with later(minutes):
            assert browser.get(f"{live_server.url}/account/", allow_redirects=False).status_code == 200
            token = refresh(live_server, client, token)
    with later(61):
        # That session began 61 minutes ago (seen 11 minutes ago); the sign-in's own one is idle.
        assert refused(live_server, client, token) == "invalid_grant"


def test_the_probe_of_the_finding_five_hours_later(signed_in, live_server, org, org_admin, default_policy):
    """The reported case: idle 15 minutes, absolute 60; orgwarden never touched again."""
    limits(org, org_admin, default_policy, idle=15, absolute=60)
    _person, client, token = signed_in
    with later(5 * 60):
        assert refused(live_server, client, token) == "invalid_grant"


def test_any_session_begun_before_the_token_carries_it_and_none_begun_after(
    live_server, org, org_admin, product, manage, grant, default_policy
):
    """A refresh rests on any live session of the account that already existed when the token was
    issued, not only on the one the product sign-in came from; a session begun later carries only
    tokens issued after it."""
    limits(org, org_admin, default_policy, idle=15, absolute=60)
    person = manage()
    other = browser_of(person)  # a second device, signed in first
    grant(person)
    client, token, _nonce = sign_in(live_server, product, person)
    with later(10):
        assert other.get(f"{live_server.url}/account/", allow_redirects=False).status_code == 200
    with later(20):  # the product's own browser session is idle; the other device's is not
        token = refresh(live_server, client, token)
    with later(50):  # both idle now; a new sign-in does not bring the product's tokens back
        again = browser_of(person)
        assert again.get(f"{live_server.url}/account/", allow_redirects=False).status_code == 200
        assert refused(live_server, client, token) == "invalid_grant"


def test_with_session_limits_turned_off_a_refresh_needs_only_a_live_session(
    signed_in, live_server, org, org_admin, default_policy, settings
):
    """``ORGWARDEN_SESSION_LIMITS=false`` turns the browser's check off; the refresh's follows."""
    settings.SESSION_LIMITS_ENABLED = False
    limits(org, org_admin, default_policy, idle=15, absolute=60)
    _person, client, token = signed_in
    with later(5 * 60):
        assert refresh(live_server, client, token)["access_token"]


# --- access tokens at userinfo --------------------------------------------------------------------


def test_userinfo_refuses_the_access_token_of_a_deactivated_account_at_once(
    signed_in, live_server, org, org_admin
):
    person, _client, token = signed_in
    assert userinfo(live_server, token["access_token"]).status_code == 200
    user_deactivate(org=org, actor=org_admin.account, account_id=person.account_id)
    answer = userinfo(live_server, token["access_token"])
    assert answer.status_code == 401 and "invalid_token" in answer.headers["WWW-Authenticate"]


@pytest.mark.parametrize("status", [Account.Status.DEACTIVATED, Account.Status.CLOSED])
def test_an_account_no_longer_active_loses_its_product_tokens_even_with_live_sessions(
    signed_in, live_server, status
):
    """The check does not rest on the service that changed the status ending the sessions too: a
    way of deactivating added later cannot forget the product tokens."""
    person, client, token = signed_in
    Account.objects.filter(pk=person.pk).update(status=status)
    assert Session.objects.filter(account=person).exists()
    assert userinfo(live_server, token["access_token"]).status_code == 401
    assert refused(live_server, client, token) == "invalid_grant"


def test_signing_out_everywhere_cuts_the_access_token_too(signed_in, live_server):
    person, _client, token = signed_in
    sessions_end_all(account=person, actor=Actor.account(person))
    assert userinfo(live_server, token["access_token"]).status_code == 401


def test_after_signing_out_everywhere_a_new_sign_in_does_not_revive_old_tokens(
    signed_in, live_server, product
):
    """ "Sign out everywhere" (say, after a laptop was stolen) must end the product tokens for good:
    they used to work again as soon as the owner signed back in, since any live session carried them."""
    person, client, token = signed_in
    sessions_end_all(account=person, actor=Actor.account(person))
    again = browser_of(person)
    assert again.get(f"{live_server.url}/account/", allow_redirects=False).status_code == 200
    assert userinfo(live_server, token["access_token"]).status_code == 401
    assert refused(live_server, client, token) == "invalid_grant"
    _client, fresh, _nonce = sign_in(live_server, product, person)  # a new product sign-in works
    assert userinfo(live_server, fresh["access_token"]).status_code == 200


def test_userinfo_refuses_an_access_token_once_the_sessions_are_past_the_idle_limit(
    signed_in, live_server, org, org_admin, default_policy
):
    limits(org, org_admin, default_policy, idle=15, absolute=60)
    _person, _client, token = signed_in
    with later(10):
        assert userinfo(live_server, token["access_token"]).status_code == 200
    with later(20):  # the access token has 40 minutes left; the session it rests on is idle
        assert userinfo(live_server, token["access_token"]).status_code == 401


def test_introspection_answers_inactive_for_a_product_access_token(
    signed_in, live_server, org, org_admin, product
):
    """A guard, not a fix: introspection (``tokens``) knows user API tokens only, and the tests of
    ``tokens`` check that a deactivated or closed account's API token is inactive there. A product
    sign-in's access token, live or of a deactivated account, is never active there."""
    person, _client, token = signed_in
    ask = {"token": token["access_token"]}
    auth = (product.client_id, product.secret)
    url = f"{live_server.url}/oauth2/introspect"
    assert requests.post(url, data=ask, auth=auth, timeout=5).json() == {"active": False}
    user_deactivate(org=org, actor=org_admin.account, account_id=person.account_id)
    assert requests.post(url, data=ask, auth=auth, timeout=5).json() == {"active": False}
