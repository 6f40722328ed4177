"""A code's token request carries the ``redirect_uri`` of its authorization request, unchanged.

RFC 6749 §4.1.3: the authorization server MUST "ensure that the "redirect_uri" parameter is present
if the "redirect_uri" parameter was included in the initial authorization request …, and if
included ensure that their values are identical"; OpenID Connect requires it in every
authorization request (Core §3.1.2.1), so in every code's token request (§3.1.3.2). Before,
oauthlib filled a missing one in with the client's default redirect URI and issued tokens.

What is answered (RFC 6749 §5.2): a missing ``redirect_uri`` is ``invalid_request`` ("missing a
required parameter"); another one is ``invalid_grant`` (the grant "does not match the redirection
URI used in the authorization request"). Either leaves the code unspent, as a wrong PKCE verifier
does (see ``OrgwardenValidator.confirm_redirect_uri``). Authlib is the product site, against the
live server.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from oauth2_provider.models import RefreshToken

from orgwarden.audit.models import AuditEvent
from orgwarden.oidc.models import ExchangedCode
from orgwarden.oidc.services import site_redirect_uris_set
from orgwarden.oidc.tests.relying_party import CALLBACK, authorize

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_CALLBACK = "http://127.0.0.1:8765/other-callback"


@pytest.fixture
def person(manage, grant):
    account = manage()
    grant(account)
    return account


def token_url(live_server) -> str:
    return f"{live_server.url}/oauth2/token/"


def refused(live_server, client, location: str, verifier: str, **sent) -> OAuthError:
    """Authlib's error for the code in ``location`` sent with ``sent`` (fails when tokens come)."""
    with pytest.raises(OAuthError) as error:
        client.fetch_token(
            token_url(live_server), authorization_response=location, code_verifier=verifier, **sent
        )
    return error.value


def test_a_code_sent_without_its_redirect_uri_is_invalid_request_and_stays_usable(
    live_server, product, person
):
    client, verifier, _nonce, answer = authorize(live_server, product, person)
    location = answer.headers["Location"]

    error = refused(live_server, client, location, verifier, redirect_uri=None)  # Authlib then omits it
    assert error.error == "invalid_request" and "redirect_uri" in error.description
    assert not RefreshToken.objects.exists() and not ExchangedCode.objects.exists()

    # Unspent: the product's corrected request is the code's one exchange.
    token = client.fetch_token(
        token_url(live_server), authorization_response=location, code_verifier=verifier
    )
    assert token["id_token"] and token["refresh_token"]
    assert ExchangedCode.objects.count() == 1


@pytest.mark.parametrize("sent", [OTHER_CALLBACK, "https://attacker.test/callback", ""])
def test_a_code_sent_with_another_redirect_uri_is_refused(live_server, org, org_admin, product, person, sent):
    """Another of the site's own redirect URIs too: the code was sent to one address, not to any
    the site registered. An empty value is no value: ``invalid_request``, as when it is missing."""
    site_redirect_uris_set(
        org=org,
        actor=org_admin.account,
        site_id=product.site.site_id,
        redirect_uris=f"{CALLBACK}\n{OTHER_CALLBACK}",
    )
    client, verifier, _nonce, answer = authorize(live_server, product, person)
    location = answer.headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]

    # As a product's HTTP library would see it: OAuth's JSON error, not to be cached.
    raw = requests.post(
        token_url(live_server),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": sent,
            "code_verifier": verifier,
        },
        auth=(product.client_id, product.secret),
        timeout=5,
    )
    assert raw.status_code == 400 and raw.headers["Content-Type"] == "application/json"
    assert raw.headers["Cache-Control"] == "no-store"
    assert raw.json()["error"] == ("invalid_request" if sent == "" else "invalid_grant")
    assert "redirect_uri" in raw.json()["error_description"]
    assert not RefreshToken.objects.exists()

    token = client.fetch_token(
        token_url(live_server), authorization_response=location, code_verifier=verifier
    )
    assert token["access_token"]


def test_a_replayed_code_without_redirect_uri_still_revokes_what_its_exchange_gave(
    live_server, product, person
):
    """The code's check comes first: a second exchange is recognised whatever else it lacks."""
    client, verifier, _nonce, answer = authorize(live_server, product, person)
    location = answer.headers["Location"]
    token = client.fetch_token(
        token_url(live_server), authorization_response=location, code_verifier=verifier
    )

    error = refused(live_server, client, location, verifier, redirect_uri=None)
    assert error.error == "invalid_grant"
    assert AuditEvent.objects.filter(action="account:product:tokens_replay_revoked").count() == 1
    assert RefreshToken.objects.get(token_family__isnull=False).revoked is not None
    userinfo = requests.get(
        f"{live_server.url}/oauth2/userinfo/",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert userinfo.status_code == 401
