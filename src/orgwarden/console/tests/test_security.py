"""Security properties of every response: headers, cookies, CSRF, oversized input, error pages."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Organization

pytestmark = pytest.mark.django_db

BACKEND = "orgwarden.accounts.backends.AccountBackend"


@pytest.mark.parametrize("path", ["/login", "/signup", "/password-reset", "/no-such-page"])
def test_security_headers_on_public_pages(client, path):
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_security_headers_on_console_pages(admin_client, org):
    for path in [f"/admin/o/{org.org_id}/", f"/admin/o/{org.org_id}/admins/", "/account/security/"]:
        response = admin_client.get(path)
        assert response.status_code == 200
        assert response["X-Frame-Options"] == "DENY"
        assert "Content-Security-Policy" in response
        assert response["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_http_only_and_same_site_lax(account):
    client = Client()
    client.post("/login", {"email": account.email})
    client.post("/login/step/password", {"password": PASSWORD})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert client.get("/account/").status_code == 200


def test_csrf_cookie_is_http_only(client):
    client.get("/login")
    assert client.cookies[settings.CSRF_COOKIE_NAME]["httponly"] is True


def test_csrf_is_enforced_on_sign_in(account):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login", {"email": account.email})
    assert response.status_code == 403
    assert b"<!doctype html>" in response.content  # the product's page, not Django's bare one
    assert "signin_flow" not in client.session


def test_csrf_is_enforced_on_console_writes(org_admin, org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org_admin.account, backend=BACKEND)
    old = org.name
    response = client.post(f"/admin/o/{org.org_id}/settings/", {"name": "Forged"})
    assert response.status_code == 403
    response = client.post("/admin/new", {"name": "Forged"})
    assert response.status_code == 403
    org.refresh_from_db()
    assert org.name == old and Organization.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_a_post_with_the_csrf_token_works(org_admin, org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org_admin.account, backend=BACKEND)
    client.get(f"/admin/o/{org.org_id}/settings/")
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(f"/admin/o/{org.org_id}/settings/", {"name": "Real", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/login", {"email": "a" * 10_000 + "@example.com"}),
        ("/password-reset", {"email": "a" * 10_000 + "@example.com"}),
        ("/signup", {"email": "a" * 10_000 + "@example.com", "display_name": "A", "password": "x" * 20}),
        ("/signup", {"email": "a@example.com", "display_name": "n" * 10_000, "password": "long enough pass"}),
        ("/signup", {"email": "a@example.com", "display_name": "N", "password": "p" * 10_000}),
    ],
)
def test_oversized_input_is_a_form_error_not_a_500(client, path, data):
    response = client.post(path, data)
    assert response.status_code == 400
    assert b'class="errorlist' in response.content
    assert not Account.objects.filter(email="a@example.com").exists()
    assert not AuditEvent.objects.exists()


def test_oversized_password_at_sign_in_is_a_form_error(client, account):
    client.post("/login", {"email": account.email})
    response = client.post("/login/step/password", {"password": "p" * 10_000})
    assert response.status_code == 400 and b'class="errorlist' in response.content


def test_oversized_org_name_and_invite_email_are_form_errors(admin_client, org):
    assert admin_client.post("/admin/new", {"name": "n" * 10_000}).status_code == 400
    response = admin_client.post(f"/admin/o/{org.org_id}/admins/", {"email": "a" * 10_000 + "@example.com"})
    assert response.status_code == 400 and b'class="errorlist' in response.content


@pytest.mark.parametrize("bad", ["x" * 5000, "%00", "a%00b"])
def test_odd_ids_in_urls_are_404_not_500(admin_client, org, bad):
    paths = [
        f"/admin/o/{bad}/",
        f"/admin/o/{org.org_id}/admins/{bad}/remove",
        f"/admin/o/{org.org_id}/invitations/{bad}/revoke",
        f"/admin/invitations/{bad}",
        f"/account/sessions/{bad}/end",
    ]
    for path in paths:
        response = admin_client.post(path)
        assert response.status_code in (400, 404), (path, response.status_code)


@pytest.mark.parametrize("bad", ["x" * 5000, "a%00b"])
def test_odd_links_are_a_clear_answer_not_a_500(client, bad):
    for path in [f"/password-reset/{bad}/token", f"/verify-email/{bad}", f"/login/link/{bad}"]:
        response = client.post(path)
        assert response.status_code in (400, 404), (path, response.status_code)


def test_null_bytes_in_form_input_are_a_form_error(client):
    response = client.post("/login", {"email": "a\x00@example.com"})
    assert response.status_code == 400


def test_unknown_urls_render_the_products_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    content = response.content.decode()
    assert "<!doctype html>" in content and "app.css" in content
    assert "Page not found" in content or "not found" in content.lower()


def test_unknown_org_renders_the_products_404_page(admin_client):
    response = admin_client.get("/admin/o/nope/")
    assert response.status_code == 404 and b"app.css" in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/admin/o/%00/",
        "/admin/o/x%00y/domains/",
        "/saml/%00/metadata",
        "/helpcenter/%00/",
        "/api/admin/v1/orgs/%00",
        "/scim/directory/%00/Users",
        "/oauth2/token/%00",
    ],
)
def test_a_nul_anywhere_in_the_path_is_a_404_before_any_view(admin_client, path):
    """In the caller's format: the API's, SCIM's error schema, OAuth's error, else the 404 page."""
    response = admin_client.get(path)
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert response.json()["code"] == "not_found"
    elif path.startswith("/scim/"):
        assert response["Content-Type"] == "application/scim+json"
        assert response.json()["status"] == "404"
    elif path.startswith("/oauth2/"):
        assert response.json()["error"] == "invalid_request"
    else:
        assert b"Page not found" in response.content


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/scim/directory/d1/Users", "scim"),
        ("/api/admin/v1/orgs", "api"),
        ("/oauth2/token/", "oauth"),
        ("/login", "page"),
    ],
)
def test_a_host_this_server_does_not_answer_to_is_a_400_in_the_callers_format(client, path, kind):
    response = client.get(path, HTTP_HOST="evil.example")
    assert response.status_code == 400
    if kind == "page":
        assert b"Bad request" in response.content
        return
    body = response.json()
    message = {
        "scim": body.get("detail"),
        "api": body.get("message"),
        "oauth": body.get("error_description"),
    }[kind]
    assert "Host header" in message
    if kind == "scim":
        assert response["Content-Type"] == "application/scim+json" and body["status"] == "400"
    elif kind == "api":
        assert body["code"] == "bad_request"
    else:
        assert body["error"] == "invalid_request"


def test_an_unknown_oauth_endpoint_is_an_oauth_404(client):
    response = client.post("/oauth2/token/extra")
    assert response.status_code == 404
    assert response.json() == {"error": "invalid_request", "error_description": "There is no such endpoint."}


def test_an_id_with_anything_after_it_names_nothing(admin_client, org_admin, org):
    """Ids were cut to 24 characters before the lookup, so ``<a real id>zz`` acted on the real object."""
    from django.utils import timezone

    from orgwarden.accounts.services import account_create
    from orgwarden.helpcenter import selectors as help_centers
    from orgwarden.helpcenter import services as help_center_services
    from orgwarden.orgs.models import Domain
    from orgwarden.orgs.services.access import site_add
    from orgwarden.orgs.services.claims import local_directory
    from orgwarden.policies import services as policies
    from orgwarden.policies.models import AuthenticationPolicy, BreakGlassAdmin
    from orgwarden.tokens.models import SiteCredential

    admin = org_admin.account
    Domain.objects.create(
        org=org,
        name="suffix.example.com",
        token="t" * 32,
        status=Domain.Status.VERIFIED,
        method=Domain.Method.DNS,
        claim=Domain.Claim.AUTOMATIC,
        verified_at=timezone.now(),
    )
    managed = account_create(
        email="person@suffix.example.com", display_name="Person", password=None, email_verified=True
    )
    policy = policies.policy_create(
        org=org, actor=admin, directory_id=local_directory(org).directory_id, name="Strict"
    )
    policies.break_glass_add(org=org, actor=admin, account_id=admin.account_id)
    site = site_add(org=org, actor=admin, product="jira-software", name="Jira", url="https://j.example.test")
    jsm = site_add(
        org=org, actor=admin, product="jira-service-management", name="JSM", url="https://s.example.test"
    )
    help_center_services.help_center_authentication_set(
        org=org, actor=admin, site_id=jsm.site_id, password_enabled=True, sso_enabled=False
    )
    customer = help_center_services.customer_sign_up(
        help_center=help_centers.help_center_get(org=org, site_id=jsm.site_id),
        email="customer@client.example",
        password=PASSWORD,
    )
    base = f"/admin/o/{org.org_id}"
    posts = [
        (f"{base}/policies/{policy.policy_id}zz/rename", {"name": "Renamed"}),
        (f"{base}/policies/{policy.policy_id}zz/delete", {}),
        (f"{base}/policies/break-glass/{admin.account_id}zz/remove", {}),
        (f"{base}/policies/accounts/{managed.account_id}zz/reset-two-step", {}),
        (f"{base}/products/{site.site_id}zz/credential", {}),
        (
            f"{base}/products/{site.site_id}zz/sign-in-addresses",
            {"redirect_uris": "https://j.example.test/cb"},
        ),
        (f"{base}/help-centers/{jsm.site_id}/customers/{customer.customer_id}zz/deactivate", {}),
        (f"{base}/help-centers/{jsm.site_id}/customers/{customer.customer_id}zz/remove", {}),
    ]
    events = AuditEvent.objects.count()
    for path, data in posts:
        assert admin_client.post(path, data).status_code == 404, path
    assert AuditEvent.objects.count() == events
    assert AuthenticationPolicy.objects.filter(pk=policy.pk, name="Strict").exists()
    assert BreakGlassAdmin.objects.filter(org=org, account=admin).exists()
    assert not SiteCredential.objects.exists()
    customer.refresh_from_db()
    assert customer.is_active


def test_a_back_address_with_a_control_character_goes_to_the_forms_own_page(admin_client, org_admin, org):
    """A NUL in ``next``/``back`` redirected to a 404 page, losing the message of what was done."""
    from orgwarden.accounts.services import account_create
    from orgwarden.orgs.services.claims import account_claim
    from orgwarden.tokens.user_services import user_token_create

    person = account_create(email="tok@example.com", display_name="Tok", password=None, email_verified=True)
    account_claim(org=org, account=person, domain=None, actor=Actor.system())
    token, _ = user_token_create(account=person, label="cli")
    base = f"/admin/o/{org.org_id}"
    posts = [
        (f"{base}/billing/trial", {"next": f"{base}/policies/\x00x"}, f"{base}/billing/"),
        (f"{base}/api-tokens/{token.token_id}/revoke", {"next": f"{base}/users/\x01"}, f"{base}/api-tokens/"),
        (
            f"{base}/users/bulk",
            {
                "action": "sessions_end",
                "account_id": person.account_id,
                "confirm": "1",
                "back": f"{base}/\x00",
            },
            f"{base}/users/",
        ),
    ]
    for path, data, landing in posts:
        response = admin_client.post(path, data)
        assert response.status_code == 302 and response["Location"] == landing, (path, response["Location"])
    good = admin_client.post(f"{base}/billing/trial", {"next": f"{base}/policies/"})
    assert good["Location"] == f"{base}/policies/"
