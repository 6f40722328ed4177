"""Every surface of orgwarden, served by one app (see DESIGN.md's surface table)."""

import logging

from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import include, path

from orgwarden.accounts import emails
from orgwarden.api.api import api
from orgwarden.db import outage

logger = logging.getLogger("orgwarden.readyz")


def root(request):
    return redirect("console:home" if request.user.is_authenticated else "accounts:login")


def healthz(request):
    """Liveness: the process answers (the database is not asked)."""
    return HttpResponse("ok", content_type="text/plain")


def readyz(request):
    """Readiness: the process answers, reaches its database and reads its shared cache (Redis with
    ``ORGWARDEN_REDIS_URL``, else a table of the database, which this finds missing too); 503 with
    ``Retry-After`` and what is out of reach if not. Every sign-in and API call reads the cache.

    A failing mail server is said in the answer but keeps it 200 (``ok; emails failing since
    <UTC time>``, the causes in ``orgwarden.accounts.emails``' log lines): sign-in by password or
    single sign-on works without mail, and a 503 would take every instance out of the load balancer
    at once. The cache read that tells it is the one that checks the cache."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        if not outage.database_unavailable(exc):
            raise
        return _not_ready("database unavailable", exc)
    try:
        emails_failing_since = emails.mail_failing_since()
    except Exception as exc:
        if not outage.database_unavailable(exc):
            raise
        return _not_ready("cache unavailable", exc)
    if emails_failing_since:
        return HttpResponse(f"ok; emails failing since {emails_failing_since}", content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


def _not_ready(what: str, exc: BaseException) -> HttpResponse:
    logger.warning("Not ready, %s: %s", what, " ".join(str(exc).split()))  # the cause, on one line
    response = HttpResponse(what, status=503, content_type="text/plain")
    response["Retry-After"] = str(outage.RETRY_AFTER_SECONDS)
    return response


urlpatterns = [
    path("", root, name="root"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # Before the console's many patterns: introspection is the hot path of every product API call,
    # and an IdP calls SCIM for every user it syncs. Nothing else lives under scim/.
    path("", include("orgwarden.tokens.urls")),
    path("scim/", include("orgwarden.scim.urls")),
    path("", include("orgwarden.accounts.urls")),
    path("", include("orgwarden.console.urls")),
    path("", include("orgwarden.oidc.urls")),
    path("saml/", include("orgwarden.sso.urls")),
    path("helpcenter/", include("orgwarden.helpcenter.urls")),
    path("operator/support/", include("orgwarden.support.urls")),
    path("api/", api.urls),
]

handler400 = "orgwarden.console.views.errors.bad_request"
handler403 = "orgwarden.console.views.errors.forbidden"
handler404 = "orgwarden.console.views.errors.not_found"
handler500 = "orgwarden.console.views.errors.server_error"
