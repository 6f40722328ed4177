"""A member under enforced SSO signs in to a product site: product → orgwarden → pysaml2 IdP →
orgwarden → product.

Every hop is real HTTP against the live server, with nothing stubbed: Authlib's OAuth 2.0 client is
the product site (authorization code + PKCE, nonce, the token endpoint with client_secret_basic),
a ``requests`` session is the person's browser (cookies, CSRF token, redirects followed one by one
so each is checked), pysaml2's IdP side parses our AuthnRequest and signs the response, and
joserfc verifies the ID token against the JWKS orgwarden publishes.
"""

from __future__ import annotations

import re
import secrets
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from django.utils import timezone

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.oidc.tests.relying_party import CALLBACK, rp, sign_in, verify
from orgwarden.orgs.models import Activity, OrgUser
from orgwarden.sso import selectors as sso_selectors
from orgwarden.sso.tests.conftest import enforce_sso
from orgwarden.sso.tests.idp import IDP_SSO_URL

pytestmark = pytest.mark.django_db(transaction=True)

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
NEXT_INPUT = re.compile(r'name="next" value="([^"]*)"')
SSO_CONTINUE = re.compile(r'href="([^"]+)" id="sso-continue"')


@pytest.fixture
def member(connection, product, grant):
    """Ada: a managed account of the IdP's directory, whose policy enforces SSO, with access to Jira."""
    enforce_sso(connection)
    ada = AccountFactory(email="ada@example.com", display_name="Ada Lovelace")
    OrgUser.objects.create(
        org=connection.org,
        account=ada,
        email=ada.email,
        is_managed=True,
        directory=connection.directory,
        managed_notice_seen_at=timezone.now(),
    )
    grant(ada)
    return ada


def follow(browser: requests.Session, base: str, response: requests.Response) -> requests.Response:
    """One redirect, as a browser follows it (a relative Location is against the server)."""
    assert response.status_code == 302, (response.status_code, response.text[:500])
    return browser.get(urljoin(base, response.headers["Location"]), allow_redirects=False)


def through_the_idp(browser, base: str, idp, connection, idp_url: str) -> requests.Response:
    """What a person's IdP does: read our AuthnRequest, sign Ada's response, POST it to the ACS."""
    request_id, acs_url, relay_state = idp.parse_redirect(idp_url)
    assert acs_url == sso_selectors.acs_url(connection)
    saml_response = idp.response(
        sp_entity_id=sso_selectors.sp_entity_id(connection),
        acs_url=acs_url,
        email="ada@example.com",
        in_response_to=request_id,
    )
    return browser.post(
        base + urlsplit(acs_url).path,
        data={"SAMLResponse": saml_response, "RelayState": relay_state},
        allow_redirects=False,
    )


def test_member_under_enforced_sso_goes_through_the_idp_and_lands_in_the_product(
    live_server, product, member, connection, idp
):
    base = live_server.url
    client = rp(product)
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    authorize_url, state = client.create_authorization_url(
        f"{base}/oauth2/authorize/", code_verifier=verifier, nonce=nonce
    )
    authorize_path = authorize_url.removeprefix(base)
    browser = requests.Session()

    # 1. The product sends the browser to orgwarden, which has nobody signed in: to /login, with
    #    the whole authorize request (query string and all) as ``next``.
    to_login = browser.get(authorize_url, allow_redirects=False)
    assert to_login.status_code == 302 and urlsplit(to_login.headers["Location"]).path == "/login"
    login_page = follow(browser, base, to_login)
    assert login_page.status_code == 200
    assert unescape(NEXT_INPUT.search(login_page.text).group(1)) == authorize_path

    # 2. The email-first form: Ada's policy enforces SSO, so the next step is the IdP's.
    entered = browser.post(
        f"{base}/login",
        data={
            "csrfmiddlewaretoken": CSRF_INPUT.search(login_page.text).group(1),
            "next": unescape(NEXT_INPUT.search(login_page.text).group(1)),
            "email": "ada@example.com",
        },
        allow_redirects=False,
    )
    assert entered.status_code == 302 and entered.headers["Location"] == "/login/step/sso"
    step = follow(browser, base, entered)
    assert step.status_code == 200
    start = browser.get(
        urljoin(base, unescape(SSO_CONTINUE.search(step.text).group(1))), allow_redirects=False
    )
    assert start.status_code == 302 and start.headers["Location"].startswith(IDP_SSO_URL)

    # 3. At the IdP (pysaml2): parse our AuthnRequest, sign the response for Ada, POST it to the ACS.
    back = through_the_idp(browser, base, idp, connection, start.headers["Location"])

    # 4. Signed in: back to the very authorize request the product started, which now issues a code.
    assert back.status_code == 302, back.text[:500]
    assert back.headers["Location"] == authorize_path
    to_product = follow(browser, base, back)
    assert to_product.status_code == 302, to_product.text[:500]
    callback = to_product.headers["Location"]
    assert callback.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(callback).query)
    assert query["state"] == [state] and "code" in query

    # 5. The product exchanges the code (with the PKCE verifier) and checks the ID token.
    token = client.fetch_token(
        f"{base}/oauth2/token/", authorization_response=callback, code_verifier=verifier
    )
    _config, claims = verify(live_server, token["id_token"])
    assert claims["sub"] == member.account_id and claims["email"] == "ada@example.com"
    assert claims["name"] == "Ada Lovelace" and claims["nonce"] == nonce
    assert claims["aud"] == product.client_id

    signin_event = AuditEvent.objects.filter(action="account:signin:succeeded").latest("id")
    assert signin_event.details.get("method") == "sso"
    assert Activity.objects.get(account=member, site=product.site).signins == 1
    assert not AuditEvent.objects.filter(action="account:product:access_denied").exists()

    # 6. The session went through the IdP, so its product session refreshes under enforced SSO.
    refreshed = client.refresh_token(f"{base}/oauth2/token/", refresh_token=token["refresh_token"])
    assert verify(live_server, refreshed["id_token"])[1]["sub"] == member.account_id


def test_without_the_idp_there_is_no_code(live_server, product, member):
    """The password step is closed to her: a password POSTed directly never reaches the product."""
    base = live_server.url
    authorize_url, _state = rp(product).create_authorization_url(
        f"{base}/oauth2/authorize/", code_verifier=secrets.token_urlsafe(48)
    )
    browser = requests.Session()
    login_page = follow(browser, base, browser.get(authorize_url, allow_redirects=False))
    csrf = CSRF_INPUT.search(login_page.text).group(1)
    browser.post(
        f"{base}/login",
        data={"csrfmiddlewaretoken": csrf, "next": authorize_url.removeprefix(base), "email": member.email},
        allow_redirects=False,
    )
    refused = browser.post(
        f"{base}/login/step/password",
        data={"csrfmiddlewaretoken": csrf, "password": "whatever it is"},
        allow_redirects=False,
    )
    assert refused.status_code == 302 and refused.headers["Location"] == "/login/step/sso"
    again = browser.get(authorize_url, allow_redirects=False)
    assert again.status_code == 302 and urlsplit(again.headers["Location"]).path == "/login"


def test_a_password_session_from_before_sso_was_enforced_goes_through_the_idp_first(
    live_server, product, member, connection, idp
):
    """Enforcing SSO does not end the sessions signed in with a password; the authorize step sends
    such a session through the IdP, then carries on with the same authorize request."""
    base = live_server.url
    connection.directory.policies.update(enforce_sso=False)
    browser = requests.Session()
    csrf = CSRF_INPUT.search(browser.get(f"{base}/login").text).group(1)
    entered = browser.post(
        f"{base}/login", data={"csrfmiddlewaretoken": csrf, "email": member.email}, allow_redirects=False
    )
    assert entered.headers["Location"] == "/login/step/password"
    signed_in = browser.post(
        f"{base}/login/step/password",
        data={"csrfmiddlewaretoken": csrf, "password": PASSWORD},
        allow_redirects=False,
    )
    assert signed_in.status_code == 302 and "/login" not in signed_in.headers["Location"]
    enforce_sso(connection)

    client = rp(product)
    verifier = secrets.token_urlsafe(48)
    authorize_url, _state = client.create_authorization_url(
        f"{base}/oauth2/authorize/", code_verifier=verifier
    )
    detour = browser.get(authorize_url, allow_redirects=False)
    assert (
        detour.status_code == 200 and "requires you to sign in through its identity provider" in detour.text
    )
    assert not Activity.objects.exists()
    start = browser.get(
        urljoin(base, unescape(SSO_CONTINUE.search(detour.text).group(1))), allow_redirects=False
    )
    assert start.status_code == 302 and start.headers["Location"].startswith(IDP_SSO_URL)
    back = through_the_idp(browser, base, idp, connection, start.headers["Location"])
    assert back.status_code == 302 and back.headers["Location"] == authorize_url.removeprefix(base)
    callback = follow(browser, base, back).headers["Location"]
    assert callback.startswith(CALLBACK + "?") and "code=" in callback
    token = client.fetch_token(
        f"{base}/oauth2/token/", authorization_response=callback, code_verifier=verifier
    )
    assert verify(live_server, token["id_token"])[1]["sub"] == member.account_id
    methods = list(
        AuditEvent.objects.filter(action="account:signin:succeeded")
        .order_by("id")
        .values_list("details__method", flat=True)
    )
    assert methods == ["password", "sso"]


def test_a_silent_sign_in_that_needs_the_idp_answers_login_required(live_server, product, member, connection):
    """``prompt=none`` and a session that must go through the IdP first: no detour page, but
    ``login_required`` at the redirect URI (OIDC Core §3.1.2.6), so the product signs in visibly."""
    base = live_server.url
    connection.directory.policies.update(enforce_sso=False)
    browser = requests.Session()
    csrf = CSRF_INPUT.search(browser.get(f"{base}/login").text).group(1)
    browser.post(f"{base}/login", data={"csrfmiddlewaretoken": csrf, "email": member.email})
    browser.post(f"{base}/login/step/password", data={"csrfmiddlewaretoken": csrf, "password": PASSWORD})
    enforce_sso(connection)

    authorize_url, state = rp(product).create_authorization_url(
        f"{base}/oauth2/authorize/", code_verifier=secrets.token_urlsafe(48), prompt="none"
    )
    silent = browser.get(authorize_url, allow_redirects=False)
    assert silent.status_code == 302 and silent.headers["Location"].startswith(CALLBACK + "?")
    answer = parse_qs(urlsplit(silent.headers["Location"]).query)
    assert answer["error"] == ["login_required"] and answer["state"] == [state]
    assert not Activity.objects.exists()


def test_enforcing_sso_cuts_the_refresh_tokens_of_password_sessions(live_server, product, member, connection):
    """A product session that came from a sign-in without the IdP cannot outlive SSO enforcement."""
    connection.directory.policies.update(enforce_sso=False)
    client, token, _nonce = sign_in(live_server, product, member)  # a session without the IdP
    token = client.refresh_token(f"{live_server.url}/oauth2/token/", refresh_token=token["refresh_token"])
    enforce_sso(connection)
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(f"{live_server.url}/oauth2/token/", refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"
