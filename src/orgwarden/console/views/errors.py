"""Error pages that keep the product's look and say what to do next.

``server_error`` (Django's handler500) answers in the caller's own format: SCIM's error schema
under ``/scim/``, the API's ``{"code", "message"}`` under ``/api/``, an OAuth error for the OAuth
endpoints products and IdP-facing machines call, and the HTML page for people. When the error is
the database being out of reach (``orgwarden.db.outage``) the answer is 503 with ``Retry-After``
instead of 500. Its pages are rendered without the request's context processors: those read the
session, which lives in the database that may be what failed.
"""

import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from orgwarden.db import outage

# The OAuth endpoints that machines call (products, relying parties); /oauth2/authorize/ and
# /oauth2/logout/ are pages a person's browser is sent to, and get the HTML page.
OAUTH_MACHINE_PATHS = (
    "/oauth2/introspect",
    "/oauth2/token/",
    "/oauth2/revoke_token/",
    "/oauth2/userinfo/",
    "/oauth2/jwks.json",
    "/.well-known/",
)
UNEXPECTED = "An unexpected error happened on the server. It has been logged."


def csrf_failure(request, reason=""):
    return render(request, "console/errors/csrf.html", status=403)


def not_found(request, exception=None):
    return render(request, "console/errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500: it is called while the exception is handled, so ``sys.exc_info()``
    holds it."""
    return failure_answer(request, sys.exc_info()[1])


def failure_answer(request: HttpRequest, exc: BaseException | None) -> HttpResponse:
    """500, or 503 with ``Retry-After`` when ``exc`` says the database is out of reach, in the
    caller's format."""
    unavailable = outage.database_unavailable(exc)
    status, message = (503, outage.MESSAGE) if unavailable else (500, UNEXPECTED)
    path = request.path_info
    if path.startswith("/scim/"):
        from orgwarden.scim.views import scim_error

        response = scim_error(message, status)
    elif path.startswith("/api/"):
        from orgwarden.api.api import error

        response = error(request, status, "unavailable" if unavailable else "server_error", message)
    elif path.startswith(OAUTH_MACHINE_PATHS):
        from orgwarden.tokens.oauth import oauth_error

        response = oauth_error("temporarily_unavailable" if unavailable else "server_error", message, status)
    else:
        template = "console/errors/503.html" if unavailable else "console/errors/500.html"
        page = render_to_string(template, {"installation_name": settings.INSTALLATION_NAME})
        response = HttpResponse(page, status=status)
    if unavailable:
        response["Retry-After"] = str(outage.RETRY_AFTER_SECONDS)
    return response


def bad_request(request, exception=None):
    return render(request, "console/errors/400.html", status=400)


def forbidden(request, exception=None):
    return render(request, "console/errors/403.html", status=403)
