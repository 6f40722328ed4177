"""Product sign-in through orgwarden with Authlib's OAuth 2.0 / OIDC client as the relying party.

A live server runs orgwarden; the product site's side is Authlib (authorization code + PKCE, the
token endpoint with client_secret_basic, refresh) and joserfc verifies the ID token against the
JWKS published by orgwarden. The browser part is a ``requests`` session carrying a real session
cookie of the signed-in person.
"""

from __future__ import annotations

import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.oidc.tests.relying_party import CALLBACK, authorize, browser_of, sign_in, verify
from orgwarden.orgs.models import Activity
from orgwarden.orgs.services.users import user_deactivate

pytestmark = pytest.mark.django_db(transaction=True)


def authorize_query(product, **extra: str) -> dict[str, str]:
    """An authorization request of ``product`` for the Django test client (PKCE's RFC 7636 example
    challenge), with ``extra`` parameters."""
    return {
        "client_id": product.client_id,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        **extra,
    }


def test_access_through_a_group_signs_in_with_the_right_claims(live_server, product, manage, grant):
    person = manage(AccountFactory(email="mia@acme.test", display_name="Mia Wong"))
    grant(person)
    client, token, nonce = sign_in(live_server, product, person)
    config, claims = verify(live_server, token["id_token"])
    assert claims["sub"] == person.account_id and claims["email"] == "mia@acme.test"
    assert claims["name"] == "Mia Wong" and claims["nonce"] == nonce and claims["aud"] == product.client_id
    assert claims["iss"] == config["issuer"] == settings.BASE_URL  # not the address it was reached by
    assert config["token_endpoint"] == f"{live_server.url}/oauth2/token/"  # which it was
    assert "S256" in config["code_challenge_methods_supported"]
    info = client.get(config["userinfo_endpoint"]).json()
    assert info["sub"] == person.account_id and info["email"] == "mia@acme.test"
    refreshed = client.refresh_token(f"{live_server.url}/oauth2/token/", refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    row = Activity.objects.get(account=person, site=product.site)
    assert row.signins == 1


def test_pkce_is_required(live_server, product, manage, grant):
    person = manage()
    grant(person)
    client = OAuth2Session(product.client_id, product.secret, scope="openid", redirect_uri=CALLBACK)
    url, _ = client.create_authorization_url(f"{live_server.url}/oauth2/authorize/")
    answer = browser_of(person).get(url, allow_redirects=False)
    assert answer.status_code in (302, 400)
    assert "code=" not in answer.headers.get("Location", "")


def test_no_access_is_refused_with_a_clear_page_and_audited(live_server, product, manage):
    person = manage()
    _client, _verifier, _nonce, answer = authorize(live_server, product, person)
    assert answer.status_code == 403
    assert "You don't have access to Jira" in answer.text and "ask your admin" in answer.text
    event = AuditEvent.objects.get(action="account:product:access_denied")
    assert event.details["reason"] == "no_access" and event.org_id == product.site.org.org_id
    assert not Activity.objects.exists()


def test_deactivated_is_refused_and_its_refresh_token_fails(
    live_server, org, org_admin, product, manage, grant
):
    person = manage()
    grant(person)
    client, token, _nonce = sign_in(live_server, product, person)
    user_deactivate(org=org, actor=org_admin.account, account_id=person.account_id)
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(f"{live_server.url}/oauth2/token/", refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"


def test_losing_access_cuts_the_refresh_token(live_server, org, org_admin, product, manage, grant):
    from orgwarden.orgs.services.access import group_member_remove

    person = manage()
    grant(person)
    client, token, _nonce = sign_in(live_server, product, person)
    group_member_remove(
        org=org, actor=org_admin.account, group_id=product.group.group_id, account_id=person.account_id
    )
    with pytest.raises(OAuthError):
        client.refresh_token(f"{live_server.url}/oauth2/token/", refresh_token=token["refresh_token"])


def test_signing_out_everywhere_cuts_the_refresh_token(live_server, product, manage, grant):
    from orgwarden.accounts.services import sessions_end_all
    from orgwarden.audit.services import Actor

    person = manage()
    grant(person)
    client, token, _nonce = sign_in(live_server, product, person)
    sessions_end_all(account=person, actor=Actor.account(person))
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(f"{live_server.url}/oauth2/token/", refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"


def test_a_posted_authorize_request_goes_through_the_checks_of_a_get(product, manage):
    """OIDC Core lets a relying party POST the authorization request. It is answered with a 303 to
    the GET of the same parameters: no code past the access check (DOT's consent-form POST issued
    one), no 500 on an unknown client, and no CSRF refusal of another site's form."""
    from urllib.parse import parse_qs, urlsplit

    from django.test import Client
    from oauth2_provider.models import Grant

    person = manage()  # no access to the site
    client = Client(enforce_csrf_checks=True)
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    form = authorize_query(product, state="s", allow="Authorize")
    response = client.post("/oauth2/authorize/", form)
    assert response.status_code == 303
    location = urlsplit(response["Location"])
    assert location.path == "/oauth2/authorize/"
    assert {k: v[0] for k, v in parse_qs(location.query).items()} == form
    refused = client.get(response["Location"])
    assert refused.status_code == 403 and b"have access to" in refused.content
    unknown = client.post("/oauth2/authorize/", {**form, "client_id": "unknown"})
    assert unknown.status_code == 303 and client.get(unknown["Location"]).status_code == 400
    assert not Grant.objects.exists() and not Activity.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "data", "headers"),
    [
        ("get", "/oauth2/authorize/", {"client_id": "a\x00", "response_type": "code"}, {}),
        (
            "post",
            "/oauth2/token/",
            {"grant_type": "authorization_code", "client_id": "a\x00", "code": "c"},
            {},
        ),
        ("post", "/oauth2/token/", {"grant_type": "authorization_code", "code": "c\x00"}, "basic"),
        ("post", "/oauth2/token/", {"grant_type": "refresh_token", "refresh_token": "r\x00"}, "basic"),
        ("post", "/oauth2/revoke_token/", {"token": "t\x00"}, "basic"),
        ("get", "/oauth2/logout/", {"client_id": "a\x00"}, {}),
        ("get", "/oauth2/logout/", {"id_token_hint": "x\x00"}, {}),
        ("get", "/oauth2/userinfo/", {}, {"HTTP_AUTHORIZATION": "Bearer t\x00"}),
        ("post", "/oauth2/token/", {"grant_type": "authorization_code", "code": "c"}, "basic_nul"),
    ],
)
def test_a_nul_anywhere_in_an_oidc_request_is_invalid_request_not_a_500(product, method, path, data, headers):
    """PostgreSQL refuses NUL in text; django-oauth-toolkit's look-ups catch Python's ValueError for
    it, not psycopg's DataError, so a NUL in a client id, code or token was a 500 there."""
    import base64

    from django.test import Client
    from oauth2_provider.models import AccessToken, Grant, RefreshToken

    if headers == "basic":
        credentials = base64.b64encode(f"{product.client_id}:{product.secret}".encode()).decode()
        headers = {"HTTP_AUTHORIZATION": f"Basic {credentials}"}
    elif headers == "basic_nul":
        headers = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"a\x00:b").decode()}
    response = getattr(Client(), method)(path, data, **headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert not (Grant.objects.exists() or AccessToken.objects.exists() or RefreshToken.objects.exists())


def test_a_device_code_grant_is_unsupported_not_a_500(product):
    """DOT's token view reads the device_code field of that grant type unguarded (a KeyError, a 500);
    orgwarden's product sign-in issues codes and refresh tokens only."""
    import base64

    from django.test import Client

    credentials = base64.b64encode(f"{product.client_id}:{product.secret}".encode()).decode()
    response = Client().post(
        "/oauth2/token/",
        {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
        HTTP_AUTHORIZATION=f"Basic {credentials}",
    )
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_prompt_none_answers_a_code_or_login_required_not_a_500(product, manage, grant):
    """A silent sign-in (``prompt=none``, OIDC Core §3.1.2.1) asked the validator's silent-login
    checks, which oauthlib leaves unimplemented: a NotImplementedError, a 500, signed in or not."""
    from urllib.parse import parse_qs, urlsplit

    from django.test import Client
    from oauth2_provider.models import Grant

    person = manage()
    grant(person)
    query = authorize_query(product, state="s", prompt="none")
    anonymous = Client().get("/oauth2/authorize/", query)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(CALLBACK)
    assert parse_qs(urlsplit(anonymous["Location"]).query) == {"error": ["login_required"], "state": ["s"]}
    assert not Grant.objects.exists()
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    signed_in = client.get("/oauth2/authorize/", query)
    assert signed_in.status_code == 302 and "code" in parse_qs(urlsplit(signed_in["Location"]).query)
    assert Activity.objects.get(account=person, site=product.site).signins == 1


@pytest.mark.parametrize(
    ("path", "method", "allow", "use"),
    [
        ("/oauth2/token/", "get", "POST, OPTIONS", "POST"),
        ("/oauth2/token/", "put", "POST, OPTIONS", "POST"),
        ("/oauth2/token/", "delete", "POST, OPTIONS", "POST"),
        ("/oauth2/revoke_token/", "get", "POST, OPTIONS", "POST"),
        ("/oauth2/userinfo/", "delete", "GET, POST, HEAD, OPTIONS", "GET or POST"),
        ("/oauth2/jwks.json", "post", "GET, HEAD, OPTIONS", "GET"),
        ("/.well-known/openid-configuration", "put", "GET, HEAD, OPTIONS", "GET"),
    ],
)
def test_oauth_endpoints_answer_a_wrong_method_with_an_oauth_error(path, method, allow, use):
    """A client calling an endpoint with the wrong method reads why, as at introspection."""
    from django.test import Client

    response = getattr(Client(), method)(path)
    assert response.status_code == 405 and response["Allow"] == allow
    assert response.json() == {"error": "invalid_request", "error_description": f"Use {use}."}
    assert response["Cache-Control"] == "no-store"


def test_prompt_none_without_access_answers_access_denied_at_the_redirect_uri(product, manage):
    """A silent sign-in may show no page (OIDC Core §3.1.2.6): a person without access to the site
    is answered ``access_denied`` at the relying party's registered redirect URI, not with the 403
    page (in a hidden iframe, a silent renewal would wait on it forever). An unregistered redirect
    URI still gets the page: errors never go to an address the client did not register."""
    from urllib.parse import parse_qs, urlsplit

    from django.test import Client
    from oauth2_provider.models import Grant

    person = manage()  # managed, but no group gives access to the site
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    query = authorize_query(product, state="s1", prompt="none")
    silent = client.get("/oauth2/authorize/", query)
    assert silent.status_code == 302 and silent["Location"].startswith(CALLBACK + "?")
    assert parse_qs(urlsplit(silent["Location"]).query) == {
        "error": ["access_denied"],
        "error_description": ["You don't have access to this product site."],
        "state": ["s1"],
    }
    assert AuditEvent.objects.filter(action="account:product:access_denied").count() == 1
    assert client.get("/oauth2/authorize/", {**query, "prompt": "login"}).status_code == 403  # a page
    elsewhere = client.get("/oauth2/authorize/", {**query, "redirect_uri": "https://evil.example/cb"})
    assert elsewhere.status_code == 403 and "evil.example" not in elsewhere.get("Location", "")
    assert not Grant.objects.exists()


def test_prompt_none_for_someone_who_must_turn_on_two_step_answers_interaction_required(
    product, manage, grant
):
    """They do have access: they must do something first, so a silent request is told that a visible
    one is needed (interaction_required), not that access is denied."""
    from urllib.parse import parse_qs, urlsplit

    from django.test import Client

    from orgwarden.billing.tests.factories import SubscriptionFactory
    from orgwarden.oidc.checks import sign_in_refusal
    from orgwarden.policies.models import AuthenticationPolicy

    person = manage()
    grant(person)
    SubscriptionFactory(org=product.site.org)  # policies are enforced under a subscription
    AuthenticationPolicy.objects.filter(org=product.site.org).update(two_step="mandatory")
    assert sign_in_refusal(account=person, site=product.site) == "two_step_required"
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    silent = client.get("/oauth2/authorize/", authorize_query(product, prompt="none"))
    assert silent.status_code == 302
    answer = parse_qs(urlsplit(silent["Location"]).query)
    assert answer["error"] == ["interaction_required"]
    assert "two-step verification" in answer["error_description"][0]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/oauth2/authorize/"),
        ("get", "/oauth2/userinfo/"),
        ("post", "/oauth2/token/"),
        ("post", "/oauth2/revoke_token/"),
    ],
)
@pytest.mark.parametrize("escape", ["%zz", "%2p", "%%41"])
def test_a_broken_percent_escape_in_the_query_is_invalid_request_not_a_500(
    product, manage, method, path, escape
):
    """oauthlib parses the request URI itself and raises ValueError on a ``%`` that starts no
    escape, where Django reads past it: a 500 at every endpoint that hands the URI to oauthlib."""
    from django.test import Client
    from oauth2_provider.models import AccessToken, Grant

    client = Client()
    client.force_login(manage(), backend="orgwarden.accounts.backends.AccountBackend")
    query = f"client_id={product.client_id}&response_type=code&state={escape}"
    response = getattr(client, method)(f"{path}?{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert not (Grant.objects.exists() or AccessToken.objects.exists())


@pytest.mark.parametrize(
    "path",
    ["/oauth2/token/", "/oauth2/revoke_token/", "/oauth2/jwks.json", "/.well-known/openid-configuration"],
)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("grant_type=authorization_code&code=c", "application/x-www-form-urlencoded; charset=latin1"),
        ("code=" + "a" * (1024 * 1024 + 1), "application/x-www-form-urlencoded"),
        ("&".join(f"f{i}=1" for i in range(1001)), "application/x-www-form-urlencoded"),
        ("code=c", "multipart/form-data"),
    ],
    ids=["latin1", "too_big", "too_many_fields", "no_boundary"],
)
def test_a_body_that_is_no_readable_form_is_an_oauth_error_not_an_html_page(
    product, path, body, content_type
):
    """Reading such a form raises in Django (a non-UTF-8 URL-encoded charset, its size or field
    limit, a multipart body without boundary) and its answer was the console's HTML 400 page."""
    import base64

    from django.test import Client
    from oauth2_provider.models import AccessToken

    credentials = base64.b64encode(f"{product.client_id}:{product.secret}".encode()).decode()
    response = Client().post(path, body, content_type=content_type, HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert not AccessToken.objects.exists()


def test_an_unknown_client_at_logout_is_a_400_page_not_a_500(product, manage):
    """RP-initiated logout looked ``client_id`` up with ``.get()`` when no ID token hint named the
    client first: an unknown one was a DoesNotExist, a 500. Nobody is signed out by it."""
    from django.test import Client

    from orgwarden.accounts.models import Session

    client = Client()
    client.force_login(manage(), backend="orgwarden.accounts.backends.AccountBackend")
    query = {"client_id": "unknown", "post_logout_redirect_uri": CALLBACK}
    answer = client.get("/oauth2/logout/", query)
    assert answer.status_code == 400 and "text/html" in answer["Content-Type"]
    posted = client.post("/oauth2/logout/", {**query, "allow": "1"})
    assert posted.status_code == 400
    assert Session.objects.count() == 1


@pytest.mark.parametrize("method", [{"code_challenge_method": "plain"}, {}])
def test_pkce_plain_or_no_method_is_refused(product, manage, grant, method):
    """S256 only: with "plain" (what an omitted method means) the challenge is the verifier, so
    whoever sees the authorization request can redeem its code."""
    from urllib.parse import parse_qs, urlsplit

    from django.test import Client
    from oauth2_provider.models import Grant

    person = manage()
    grant(person)
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    query = authorize_query(product, state="s", code_challenge="a" * 43)
    query.pop("code_challenge_method")
    refused = client.get("/oauth2/authorize/", {**query, **method})
    assert refused.status_code == 302 and refused["Location"].startswith(CALLBACK + "?")
    answer = parse_qs(urlsplit(refused["Location"]).query)
    assert answer["error"] == ["invalid_request"] and answer["state"] == ["s"]
    assert not Grant.objects.exists()


@pytest.mark.parametrize("extra", [{"nonce": "n" * 256}, {"code_challenge": "c" * 129}])
def test_a_parameter_longer_than_its_column_is_invalid_request_not_a_500(product, manage, grant, extra):
    """django-oauth-toolkit stores the nonce (255 characters) and the code challenge (128, RFC 7636's
    cap) with the code: PostgreSQL refused a longer one (a 500), SQLite stored it. The error goes
    back to the registered redirect URI, as any other invalid request's."""
    from urllib.parse import parse_qs, urlsplit

    from django.test import Client
    from oauth2_provider.models import Grant

    person = manage()
    grant(person)
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    refused = client.get("/oauth2/authorize/", authorize_query(product, state="s", **extra))
    assert refused.status_code == 302 and refused["Location"].startswith(CALLBACK + "?")
    answer = parse_qs(urlsplit(refused["Location"]).query)
    assert answer["error"] == ["invalid_request"] and answer["state"] == ["s"]
    assert not Grant.objects.exists()
    elsewhere = client.get(
        "/oauth2/authorize/", authorize_query(product, redirect_uri="https://evil.example/cb", **extra)
    )
    assert elsewhere.status_code == 400 and "evil.example" not in elsewhere.get("Location", "")


def test_the_issuer_is_the_installations_base_url_whatever_address_a_product_uses(
    live_server, product, manage, grant, settings
):
    """A product site that reaches orgwarden by an internal address gets ID tokens — first and
    refreshed — whose ``iss`` is the issuer discovery names: ORGWARDEN_BASE_URL. Before, both were
    built from the Host of each request, so discovery fetched at the public address and a token
    fetched at an internal one disagreed, and the product refused the sign-in."""
    settings.BASE_URL = "https://id.acme.test"
    person = manage(AccountFactory(email="mia@acme.test"))
    grant(person)
    client, token, _nonce = sign_in(live_server, product, person)  # every call to 127.0.0.1
    config, claims = verify(live_server, token["id_token"])
    assert config["issuer"] == claims["iss"] == "https://id.acme.test"
    refreshed = client.refresh_token(f"{live_server.url}/oauth2/token/", refresh_token=token["refresh_token"])
    assert verify(live_server, refreshed["id_token"])[1]["iss"] == "https://id.acme.test"
