"""Security headers Django 5.2 does not set itself."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse


class ContentSecurityPolicyMiddleware:
    """Adds the installation's Content-Security-Policy and Permissions-Policy to every response.

    The pages load scripts and styles from this origin only and have no inline script or style,
    so the strict policy holds; the browser tests fail on any CSP violation the pages cause.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        return response


class RejectNulInPathMiddleware:
    """Answer 400 to any path holding a NUL character, before a view can pass it to the database.

    PostgreSQL refuses NUL in text, so an id like ``/admin/o/%00/`` would otherwise reach a query
    and fail there. Forms and the REST API already refuse NUL in values they parse.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            message = "The address holds a NUL character."
            if request.path.startswith("/api/"):  # the REST API's own error format
                return JsonResponse({"code": "invalid_request", "message": message}, status=400)
            return HttpResponseBadRequest(f"Bad request: {message}", content_type="text/plain")
        return self.get_response(request)
