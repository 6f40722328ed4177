"""Idle and absolute session limits of the account's authentication policy, on every request.

Cost: ONE cache read per authenticated request (the policy generation) once the session knows its
limits. The session keeps ``_policy`` = {generation, org, idle, abs, at}: the limits in force and
when they were resolved. They are resolved again from the database only when

- the generation differs (a policy changed or members moved: ``services._generation_bump``), or
- they are older than ``REFRESH_SECONDS`` (claims, releases and directory moves happen in the orgs
  domain, which does not bump the generation; they take effect within this delay).

Idle time is measured from ``_seen_at``, which ``SessionActivityMiddleware`` moves at most once a
minute, or from the sign-in (``_auth_at``) before the first request. This middleware therefore sits
right BEFORE ``SessionActivityMiddleware``: after it, ``_seen_at`` would already be "now". Absolute
time counts from ``_auth_at``; a session older than this feature (no ``_auth_at``) starts counting
at its first request.

An expired session is ended (its row deleted, ``account:session:expired`` recorded with the
reason), the person is signed out and sent to the sign-in page with a message saying why.
``ORGWARDEN_SESSION_LIMITS=false`` turns the check off (benchmarks, emergencies).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.messages.storage import default_storage
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from orgwarden.accounts.middleware import SEEN_KEY
from orgwarden.accounts.signin import AUTH_AT_KEY
from orgwarden.humanize import minutes_in_words
from orgwarden.policies import selectors, services

POLICY_KEY = "_policy"
REFRESH_SECONDS = 300


class SessionLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not getattr(settings, "SESSION_LIMITS_ENABLED", True):
            raise MiddlewareNotUsed()
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The session key first: a request without a session cookie (an IdP's SCIM call, a REST
        # client) then skips loading the session and the user.
        if request.session.session_key and request.user.is_authenticated:
            expired = self._check(request)
            if expired is not None:
                return expired
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        session = request.session
        now = time.time()
        current = selectors.generation()
        stored = session.get(POLICY_KEY)
        if (
            not isinstance(stored, dict)
            or stored.get("gen") != current
            or now - stored.get("at", 0) > REFRESH_SECONDS
        ):
            limits = selectors.session_limits_for(request.user)
            stored = {"gen": current, "at": now, **(limits.as_session() if limits else {})}
            session[POLICY_KEY] = stored
        auth_at = session.get(AUTH_AT_KEY)
        if auth_at is None:
            auth_at = session[AUTH_AT_KEY] = now
        if "idle" not in stored:  # no policy applies: nothing to check
            return None
        idle, absolute = stored["idle"], stored["abs"]
        seen_at = session.get(SEEN_KEY)
        reason = limit_passed(auth_at=auth_at, seen_at=seen_at, idle=idle, absolute=absolute, now=now)
        if reason is not None:
            return self._expire(request, stored, reason, idle if reason == "idle_timeout" else absolute)
        return None

    def _expire(self, request: HttpRequest, stored: dict, reason: str, minutes: int) -> HttpResponse:
        account = request.user
        services.session_expire(
            account=account,
            session_key=request.session.session_key,
            org_id=stored.get("org", ""),
            reason=reason,
            limit_minutes=minutes,
        )
        logout(request)
        # MessageMiddleware sits after this one, so it has not attached its storage yet.
        request._messages = default_storage(request)
        if reason == "idle_timeout":
            text = (
                f"You were signed out after {minutes_in_words(minutes)} without activity. "
                "Sign in again to continue."
            )
        else:
            text = (
                f"You were signed out because your session reached its limit of {minutes_in_words(minutes)}. "
                "Sign in again to continue."
            )
        messages.info(request, text)
        target = reverse("accounts:login")
        if request.method == "GET" and not request.path.startswith("/login"):
            target += "?" + urlencode({"next": request.get_full_path()})
        response = HttpResponseRedirect(target)
        request._messages.update(response)
        return response


def limit_passed(
    *, auth_at: float, seen_at: float | None, idle: int, absolute: int, now: float
) -> str | None:
    """Which limit a session signed in at ``auth_at`` and last seen at ``seen_at`` (unix times;
    ``None``: not seen since its sign-in) has passed at ``now`` under limits of ``idle`` and
    ``absolute`` minutes: ``"idle_timeout"``, ``"absolute_timeout"`` or ``None``.

    The one rule of this middleware and of product refresh tokens (``oidc.processors.validator``),
    so a product session ends exactly when the browser session it rests on would.
    """
    if now - (seen_at or auth_at) > idle * 60:
        return "idle_timeout"
    if now - auth_at > absolute * 60:
        return "absolute_timeout"
    return None
