"""Adds the caller's rate-limit standing to every REST API answer."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class RateLimitHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        standing = getattr(request, "ratelimit", None)
        if standing is not None:
            for name, value in standing.headers().items():
                response.headers[name] = value
        return response
