"""Security headers Django 5.2 does not set itself."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse

from orgwarden.logs import SECRET_PATH_PARAMETERS


class ContentSecurityPolicyMiddleware:
    """Adds the installation's Content-Security-Policy and Permissions-Policy to every response.

    The pages load scripts and styles from this origin only and have no inline script or style,
    so the strict policy holds; the browser tests fail on any CSP violation the pages cause.

    A page whose URL holds a secret (a one-time link's token: ``logs.SECRET_PATH_PARAMETERS``) is
    sent with ``Referrer-Policy: strict-origin`` instead of the installation's ``same-origin``: its
    styles, scripts and links then send only the origin as Referer, not the URL with the token (a
    proxy's access log would keep it). Not ``no-referrer``: under it a browser sends ``Origin:
    null`` with the page's own form, which Django's CSRF check refuses.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and not SECRET_PATH_PARAMETERS.isdisjoint(match.kwargs):
            response.headers["Referrer-Policy"] = "strict-origin"
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        return response


class RejectNulInPathMiddleware:
    """Answer 404 to any path holding a NUL character, before a view can pass it to the database.

    PostgreSQL refuses NUL in text, so an id like ``/admin/o/%00/`` would otherwise reach a query
    and fail there. No id holds a NUL, so the honest answer is "not found" — the product's 404 page,
    or the 404 in the format of the machine calling (SCIM, the REST API, OAuth). Forms and the REST
    API already refuse NUL in values they parse.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            from orgwarden.console.views.errors import machine_error  # SCIM's, the API's, OAuth's

            answer = machine_error(
                request.path, 404, "Not found.", code="not_found", oauth_code="invalid_request"
            )
            if answer is not None:
                return answer
            raise Http404("No such page")
        return self.get_response(request)
