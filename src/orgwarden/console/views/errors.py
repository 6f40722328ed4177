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
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
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
    """Django's handler404; the SCIM and API URLs answer their own unknown paths, the OAuth ones not."""
    answer = machine_error(
        request.path_info, 404, "There is no such endpoint.", code="not_found", oauth_code="invalid_request"
    )
    return answer or render(request, "console/errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500: it is called while the exception is handled, so ``sys.exc_info()``
    holds it."""
    return failure_answer(request, sys.exc_info()[1])


def machine_error(path: str, status: int, message: str, *, code: str, oauth_code: str) -> HttpResponse | None:
    """The error in the format of the machines that call ``path``, or ``None`` for people's pages:
    SCIM's error schema under ``/scim/``, the API's ``{"code", "message"}`` under ``/api/``, and
    OAuth's ``{"error", "error_description"}`` (``oauth_code``, one of RFC 6749's) for the OAuth
    endpoints machines call. Also used by ``orgwarden.worker`` for what gunicorn refuses itself."""
    if path.startswith("/scim/"):
        from orgwarden.scim.views import scim_error

        return scim_error(message, status)
    if path.startswith("/api/"):
        return JsonResponse({"code": code, "message": message}, status=status)
    if path.startswith(OAUTH_MACHINE_PATHS):
        from orgwarden.tokens.oauth import oauth_error

        return oauth_error(oauth_code, message, status)
    return None


def failure_answer(request: HttpRequest, exc: BaseException | None) -> HttpResponse:
    """500, or 503 with ``Retry-After`` when ``exc`` says the database is out of reach, in the
    caller's format."""
    unavailable = outage.database_unavailable(exc)
    status, message = (503, outage.MESSAGE) if unavailable else (500, UNEXPECTED)
    response = machine_error(
        request.path_info,
        status,
        message,
        code="unavailable" if unavailable else "server_error",
        oauth_code="temporarily_unavailable" if unavailable else "server_error",
    )
    if response is None:
        template = "console/errors/503.html" if unavailable else "console/errors/500.html"
        page = render_to_string(template, {"installation_name": settings.INSTALLATION_NAME})
        response = HttpResponse(page, status=status)
    if unavailable:
        response["Retry-After"] = str(outage.RETRY_AFTER_SECONDS)
    return response


def bad_request(request, exception=None):
    """Django's handler400: a request Django refuses before any view, such as a Host header this
    server does not answer to (``ALLOWED_HOSTS``, from ``ORGWARDEN_BASE_URL``)."""
    message = (
        "This server does not answer to this Host header. Send requests to the address it is "
        "configured with (ORGWARDEN_BASE_URL, or ORGWARDEN_ALLOWED_HOSTS)."
        if isinstance(exception, DisallowedHost)
        else "The request could not be read."
    )
    answer = machine_error(request.path_info, 400, message, code="bad_request", oauth_code="invalid_request")
    return answer or render(request, "console/errors/400.html", status=400)


def forbidden(request, exception=None):
    return render(request, "console/errors/403.html", status=403)
