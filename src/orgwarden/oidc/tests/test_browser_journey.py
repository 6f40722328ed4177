"""The browser journey: a person opens the example product, signs in at orgwarden, lands back in
the product signed in; the product's API accepts their API token through introspection."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.oidc.services import site_redirect_uris_set
from orgwarden.tokens.user_services import user_token_create

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "product" / "app.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("example_product", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def product_server(live_server, org, org_admin, site):
    app = _load_example().create_app(
        orgwarden_url=live_server.url, client_id=site.client_id, client_secret=site.secret
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    site_redirect_uris_set(
        org=org, actor=org_admin.account, site_id=site.site.site_id, redirect_uris=f"{url}/callback"
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()


def test_sign_in_to_the_example_product(new_page, product_server, manage, grant, password):
    person = manage(AccountFactory(email="mia@acme.test", display_name="Mia Wong"))
    grant(person)
    page = new_page()
    page.goto(product_server + "/")
    page.get_by_role("link", name="Sign in with orgwarden").click()
    page.get_by_label("Email").fill("mia@acme.test")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(product_server + "/")
    assert "Signed in as mia@acme.test (Mia Wong)" in page.locator("#who").inner_text()

    _, value = user_token_create(account=person, label="cli")
    me = requests.get(product_server + "/api/me", auth=("mia@acme.test", value), timeout=10)
    assert me.status_code == 200 and me.json()["account_id"] == person.account_id
    bearer = requests.get(
        product_server + "/api/me", headers={"Authorization": f"Bearer {value}"}, timeout=10
    )
    assert bearer.status_code == 200
    assert (
        requests.get(product_server + "/api/me", auth=("mia@acme.test", "owt_nope"), timeout=10).status_code
        == 401
    )


def test_a_product_asking_to_sign_in_again_and_a_misconfigured_one(
    new_page, product_server, site, manage, grant, password
):
    """``prompt=login``: a signed-in person sees the sign-in form again (email filled in), signs
    in, and lands in the product with a code. A link with an unregistered redirect URI shows
    orgwarden's page saying why, and goes nowhere."""
    import re
    from urllib.parse import urlencode

    from orgwarden.testing.browser import sign_in

    person = manage(AccountFactory(email="mia@acme.test", display_name="Mia Wong"))
    grant(person)
    page = new_page()
    sign_in(page, "mia@acme.test", password)
    page.wait_for_url(re.compile(r"/(admin|account)"))
    query = {
        "client_id": site.client_id,
        "redirect_uri": f"{product_server}/callback",
        "response_type": "code",
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "state": "s1",
        "prompt": "login",
    }
    page.goto("/oauth2/authorize/?" + urlencode(query))
    assert page.get_by_label("Email").input_value() == "mia@acme.test"
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(password)
    with page.expect_request(re.compile(re.escape(product_server) + r"/callback\?code=")):
        page.get_by_role("button", name="Sign in").click()
    # The request to the product is sent before its page has loaded: let that navigation end, or
    # the next goto is interrupted by it (seen once on CI).
    page.wait_for_url(re.compile(re.escape(product_server) + r"/callback\?code="))

    # prompt=login too: a request that cannot be served is refused before any new sign-in
    page.goto("/oauth2/authorize/?" + urlencode({**query, "redirect_uri": "https://evil.example/cb"}))
    assert page.get_by_role("heading", level=1).inner_text() == "This sign-in link doesn't work"
    assert "Mismatching redirect URI." in page.get_by_role("alert").inner_text()
    assert "/oauth2/authorize/" in page.url and "evil.example" not in page.url.split("?")[0]
