"""The product site's side of the OIDC tests: Authlib's client and the ID-token check a relying
party makes (signature against the published JWKS, found through discovery)."""

from __future__ import annotations

import requests
from authlib.integrations.requests_client import OAuth2Session
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
