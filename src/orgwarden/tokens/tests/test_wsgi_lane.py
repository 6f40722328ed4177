"""``orgwarden.wsgi``: introspection through the short middleware chain answers as the full stack does.

Each request is made twice through real WSGI calls — once to ``OrgwardenWSGIHandler`` (what
``orgwarden serve`` runs), once to Django's plain ``WSGIHandler`` with every middleware — and the
two answers must have the same status, body and headers. That the lane was taken is seen on the
request itself: the session middleware, which is not in the short chain, never ran on it.
"""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from django.urls import resolve
from django.utils.module_loading import import_string

from orgwarden.testing.wsgi import wsgi_call
from orgwarden.tokens.user_services import user_token_create
from orgwarden.wsgi import MACHINE_ENDPOINTS, OrgwardenWSGIHandler

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keep_the_test_connection")]

URL = "/oauth2/introspect"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(app, path: str = URL, *, method: str = "POST", form: dict | None = None, **meta) -> tuple:
    return wsgi_call(app, path, method=method, body=urlencode(form or {}).encode(), **meta)


def both(site, **kwargs) -> tuple:
    """The answer of the lane and of the full stack; asserts that the lane took the short chain."""
    lane, full = OrgwardenWSGIHandler(), WSGIHandler()
    seen = []
    chain = lane.machine_chains[URL]

    def watched(request):
        response = chain(request)
        seen.append(hasattr(request, "session"))  # set by SessionMiddleware, outside the short chain
        return response

    lane.machine_chains[URL] = watched
    answers = call(lane, **kwargs), call(full, **kwargs)
    if kwargs.get("path", URL) == URL:
        assert seen == [False], "the lane was not taken"
    return answers


def test_the_lane_answers_every_case_as_the_full_stack(site, manage, grant):
    person = manage()
    grant(person)
    _, value = user_token_create(account=person, label="cli")
    auth = {"HTTP_AUTHORIZATION": _basic(site.client_id, site.secret)}
    cases = [
        dict(form={"token": value}, **auth),  # active, with site access
        dict(form={"token": "owt_unknown"}, **auth),  # inactive
        dict(form={"token": value, "client_id": site.client_id, "client_secret": site.secret}),  # in the body
        dict(form={"token": value}, HTTP_AUTHORIZATION=_basic(site.client_id, "owcs_wrong")),  # 401
        dict(form={"token": value}, HTTP_AUTHORIZATION="Basic %%%"),  # 401, unreadable header
        dict(form={"token": value}, HTTP_AUTHORIZATION=_basic("\x00", site.secret)),  # 401, NUL in the id
        dict(form={}, **auth),  # 400, no token
        dict(method="GET", **auth),  # 405
    ]
    statuses = []
    for case in cases:
        lane, full = both(site, **case)
        assert lane == full, case
        statuses.append(lane[0][:3])
    assert statuses == ["200", "200", "200", "401", "401", "401", "400", "405"]
    active = call(OrgwardenWSGIHandler(), form={"token": value}, **auth)
    assert b'"active": true' in active[2] and b'"site_role": "user"' in active[2]
    # what every answer carries: security headers of the short chain, no caching
    headers = dict(active[1])
    assert headers["Cache-Control"] == "no-store" and headers["Pragma"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_a_disallowed_host_is_refused_by_the_lane_too(site):
    lane, full = both(site, form={"token": "owt_x"}, HTTP_HOST="evil.test")
    assert lane[0] == full[0] == "400 Bad Request"


@override_settings(SECURE_SSL_REDIRECT=True)
def test_the_lane_redirects_to_https_when_the_installation_asks_for_it(site):
    lane, full = both(site, form={"token": "owt_x"})
    assert lane[0] == full[0] and lane[0].startswith("301")
    assert ("Location", "https://127.0.0.1:8000/oauth2/introspect") in lane[1]


def test_other_paths_take_the_full_stack(site):
    lane = call(OrgwardenWSGIHandler(), path=URL + "/", form={"token": "owt_x"})
    full = call(WSGIHandler(), path=URL + "/", form={"token": "owt_x"})
    assert lane == full and lane[0].startswith("404")


def test_every_machine_endpoint_is_the_view_its_url_routes_to():
    for path, view in MACHINE_ENDPOINTS.items():
        assert resolve(path).func is import_string(view), path


@override_settings(
    MACHINE_MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
)
def test_middleware_with_view_hooks_cannot_join_the_short_chain():
    with pytest.raises(ImproperlyConfigured, match="hooks into views"):
        OrgwardenWSGIHandler()


@override_settings(
    MACHINE_MIDDLEWARE=[
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "django.middleware.security.SecurityMiddleware",
    ]
)
def test_the_short_chain_must_follow_the_full_stacks_order():
    with pytest.raises(ImproperlyConfigured):
        OrgwardenWSGIHandler()
