"""The product site's side of the OIDC tests: Authlib's client, the ID-token check a relying party
makes (signature against the published JWKS, found through discovery), and a signed-in person's
browser (a ``requests`` session carrying a real session cookie)."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.test import Client
from joserfc import jwt
from joserfc.jwk import KeySet

CALLBACK = "http://127.0.0.1:8765/callback"


def rp(site) -> OAuth2Session:
    """Authlib's client for ``site`` (a ``tokens.tests.conftest.Site``): PKCE with S256."""
    return OAuth2Session(
        site.client_id,
        site.secret,
        scope="openid email profile",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    )


def verify(live_server, id_token: str):
    """The discovery document and the ID token's claims, its RS256 signature checked against JWKS."""
    config = requests.get(f"{live_server.url}/.well-known/openid-configuration", timeout=5).json()
    jwks = requests.get(config["jwks_uri"], timeout=5).json()
    decoded = jwt.decode(id_token, KeySet.import_key_set(jwks))
    assert decoded.header["alg"] == "RS256"
    return config, decoded.claims


def browser_of(account) -> requests.Session:
    """A browser signed in as ``account`` (Django's login, not the sign-in flow)."""
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    browser = requests.Session()
    browser.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    return browser


def authorize(live_server, site, account):
    """Authlib starts a sign-in; ``account``'s browser asks for the code. Returns what both need next."""
    client = rp(site)
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, _state = client.create_authorization_url(
        f"{live_server.url}/oauth2/authorize/", code_verifier=verifier, nonce=nonce
    )
    answer = browser_of(account).get(url, allow_redirects=False)
    return client, verifier, nonce, answer


def sign_in(live_server, site, account):
    """A complete product sign-in of ``account``: Authlib's client, its token, the nonce."""
    client, verifier, nonce, answer = authorize(live_server, site, account)
    assert answer.status_code == 302, answer.text[:500]
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK) and "code" in parse_qs(urlsplit(location).query)
    token = client.fetch_token(
        f"{live_server.url}/oauth2/token/", authorization_response=location, code_verifier=verifier
    )
    return client, token, nonce
