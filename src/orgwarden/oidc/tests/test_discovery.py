"""The discovery document says what the provider does (OIDC Discovery 1.0 §3), checked by using it:
every advertised response type, client authentication method, grant type, signing algorithm and
endpoint works for a product site, as a relying party that trusts the document would use them."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.test import Client

from orgwarden.oidc.tests.relying_party import CALLBACK

pytestmark = pytest.mark.django_db(transaction=True)

VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def discovery() -> dict:
    answer = Client().get("/.well-known/openid-configuration")
    assert answer.status_code == 200
    return answer.json()


def path_of(url: str) -> str:
    return urlsplit(url).path


def basic(client_id: str, secret: str) -> str:
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def authorize(browser: Client, config: dict, product, response_type: str = "code") -> str:
    """The redirect an authorization request of ``response_type`` gets; asserts it is no error."""
    answer = browser.get(
        path_of(config["authorization_endpoint"]),
        {
            "client_id": product.client_id,
            "redirect_uri": CALLBACK,
            "response_type": response_type,
            "scope": "openid email",
            "code_challenge": CHALLENGE,
            "code_challenge_method": config["code_challenge_methods_supported"][0],
            "state": "s1",
            "nonce": "n1",
        },
    )
    assert answer.status_code == 302, answer.content[:300]
    location = answer["Location"]
    assert location.startswith(CALLBACK), location
    assert "error=" not in location, f"{response_type}: {location}"
    return location


def exchange(config: dict, product, code: str, method: str) -> dict:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    form["code_verifier"] = VERIFIER
    headers = {}
    if method == "client_secret_basic":
        headers["HTTP_AUTHORIZATION"] = basic(product.client_id, product.secret)
    else:
        assert method == "client_secret_post", method
        form.update(client_id=product.client_id, client_secret=product.secret)
    answer = Client(enforce_csrf_checks=True).post(path_of(config["token_endpoint"]), form, **headers)
    assert answer.status_code == 200, (method, answer.content)
    return answer.json()


@pytest.fixture
def browser(product, manage, grant) -> Client:
    person = manage()
    grant(person)
    browser = Client()
    browser.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    return browser


def test_every_advertised_response_type_gets_an_answer_not_an_error(product, browser):
    config = discovery()
    assert config["response_types_supported"]
    for response_type in config["response_types_supported"]:
        authorize(browser, config, product, response_type)


def test_every_advertised_client_authentication_method_exchanges_a_code(product, browser):
    config = discovery()
    for method in config["token_endpoint_auth_methods_supported"]:
        location = authorize(browser, config, product)
        code = parse_qs(urlsplit(location).query)["code"][0]
        tokens = exchange(config, product, code, method)
        encoded = tokens["id_token"].split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        assert header["alg"] in config["id_token_signing_alg_values_supported"]


def test_signing_algorithms_are_those_the_sites_sign_with(product):
    assert discovery()["id_token_signing_alg_values_supported"] == ["RS256"]


def test_the_grant_types_are_listed_and_each_works(product, browser):
    config = discovery()
    # Absent, the spec's default is ["authorization_code", "implicit"]: implicit is not served here.
    assert sorted(config["grant_types_supported"]) == ["authorization_code", "refresh_token"]
    location = authorize(browser, config, product)
    tokens = exchange(config, product, parse_qs(urlsplit(location).query)["code"][0], "client_secret_basic")
    refreshed = Client(enforce_csrf_checks=True).post(
        path_of(config["token_endpoint"]),
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        HTTP_AUTHORIZATION=basic(product.client_id, product.secret),
    )
    assert refreshed.status_code == 200 and refreshed.json()["access_token"]


def test_the_advertised_response_modes_work(product, browser):
    config = discovery()
    for mode in config.get("response_modes_supported", ["query", "fragment"]):
        answer = browser.get(
            path_of(config["authorization_endpoint"]),
            {
                "client_id": product.client_id,
                "redirect_uri": CALLBACK,
                "response_type": "code",
                "response_mode": mode,
                "scope": "openid",
                "code_challenge": CHALLENGE,
                "code_challenge_method": "S256",
            },
        )
        location = urlsplit(answer["Location"])
        part = location.query if mode == "query" else location.fragment
        assert "code" in parse_qs(part), (mode, answer["Location"])


def test_the_revocation_endpoint_is_listed_and_revokes(product, browser):
    config = discovery()
    assert config["revocation_endpoint"].endswith("/oauth2/revoke_token/")
    assert "client_secret_basic" in config["revocation_endpoint_auth_methods_supported"]
    location = authorize(browser, config, product)
    tokens = exchange(config, product, parse_qs(urlsplit(location).query)["code"][0], "client_secret_basic")
    api = Client(enforce_csrf_checks=True)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"}
    claims = api.get(path_of(config["userinfo_endpoint"]), **bearer)
    assert claims.status_code == 200 and claims["Content-Type"] == "application/json"
    revoked = api.post(
        path_of(config["revocation_endpoint"]),
        {"token": tokens["access_token"], "token_type_hint": "access_token"},
        HTTP_AUTHORIZATION=basic(product.client_id, product.secret),
    )
    assert revoked.status_code == 200
    refused = api.get(path_of(config["userinfo_endpoint"]), **bearer)
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/json"  # an OAuth error, not a web page
    assert refused.json()["error"] == "invalid_token"


@pytest.mark.parametrize("endpoint", ["token_endpoint", "revocation_endpoint"])
def test_a_wrong_client_secret_is_a_401_that_challenges_basic_not_bearer(product, endpoint):
    """RFC 6749 §5.2: the 401 of invalid_client includes WWW-Authenticate "matching the
    authentication scheme used by the client"; a site authenticates with HTTP Basic."""
    answer = Client(enforce_csrf_checks=True).post(
        path_of(discovery()[endpoint]),
        {"grant_type": "authorization_code", "code": "x", "token": "x"},
        HTTP_AUTHORIZATION=basic(product.client_id, "not-the-secret"),
    )
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert answer["WWW-Authenticate"].startswith("Basic ")
    assert answer["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"client_id": "not-a-client"}, "Invalid client_id parameter value."),
        ({"redirect_uri": "https://evil.example/cb"}, "Mismatching redirect URI."),
    ],
)
def test_an_unknown_client_or_redirect_uri_gets_a_page_saying_why_and_no_redirect(
    product, browser, change, reason
):
    """RFC 6749 §4.1.2.1: the person is told, and nothing goes to the address: orgwarden's page,
    in its layout, which says what to tell the product's admin (DOT's page had no title)."""
    config = discovery()
    query = {
        "client_id": product.client_id,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "state": "s1",
    }
    answer = browser.get(path_of(config["authorization_endpoint"]), {**query, **change})
    assert answer.status_code == 400 and "Location" not in answer
    page = answer.content.decode()
    assert "<title>This sign-in link doesn't work" in page
    assert reason in page and "tell the admin of that product" in page
    assert "evil.example" not in page
