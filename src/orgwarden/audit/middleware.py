"""Sets the audit request context (client IP, user agent) for the duration of each request."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from orgwarden.audit import context

USER_AGENT_MAX = 512


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind ``TRUST_X_FORWARDED_FOR`` trusted proxies the
    X-Forwarded-For entry that many hops from the right — the address the outermost trusted proxy
    saw. The entries left of it are whatever the client sent, so the first one is never taken: a
    client would choose its own address for the audit log and the per-address sign-in throttle."""
    candidates = []
    hops = int(getattr(settings, "TRUST_X_FORWARDED_FOR", 0))
    if hops:
        forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= hops:
            candidates.append(forwarded[-hops])
    candidates.append(request.META.get("REMOTE_ADDR", ""))
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def request_context(request: HttpRequest) -> context.RequestContext:
    agent = request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX]
    return context.RequestContext(ip=client_ip(request), user_agent=agent)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ctx = request_context(request)
        request.audit_context = ctx
        with context.using(ctx):
            return self.get_response(request)
