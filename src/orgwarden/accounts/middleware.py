"""Keeps each session's last-seen time, IP and user agent current, at most once a minute."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from orgwarden.accounts.models import Session, stored_session_key

SEEN_KEY = "_seen_at"
SEEN_EVERY = 60  # seconds; a write per session per minute at most


class SessionActivityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The session key first: a request without a session cookie (an IdP's SCIM call, a REST
        # client) then skips loading the session and the user.
        if request.session.session_key and request.user.is_authenticated:
            now = time.time()
            if now - request.session.get(SEEN_KEY, 0) >= SEEN_EVERY:
                ctx = request.audit_context
                Session.objects.filter(session_key=stored_session_key(request.session.session_key)).update(
                    last_seen_at=timezone.now(), ip=ctx.ip, user_agent=ctx.user_agent
                )
                request.session[SEEN_KEY] = now
        return self.get_response(request)
