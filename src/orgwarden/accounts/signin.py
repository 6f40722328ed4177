"""The email-first sign-in flow, as a small state machine kept in the session.

Step 1 asks only for the email. Every later step is a ``SignInStep``: it says whether it is still
required for this flow and this account, and the view registered under its ``key`` handles it.
``next_step`` walks ``STEPS`` in order and returns the first one still required; when none is, the
flow is complete and the person is signed in. Later capabilities slot their steps into ``STEPS``
(an SSO redirect before the password, a two-step verification code after it, a forced password
change at the end) without touching the others.

What a flow has proved so far is kept in ``SignInFlow.proofs`` ("password", "link", later "sso",
"totp" …), so each step decides from facts, not from where the person came from.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.contrib.auth import login
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from orgwarden.accounts import hooks, services, throttle
from orgwarden.accounts.models import Account, Session, normalize_email, stored_session_key

SESSION_KEY = "signin_flow"
FLOW_MAX_AGE = 15 * 60  # a half-finished sign-in is forgotten after 15 minutes
BACKEND = "orgwarden.accounts.backends.AccountBackend"
AUTH_AT_KEY = "_auth_at"  # unix time the session's sign-in completed
# What the session's sign-in proved ("password", "sso", "totp" …): the authorize step of product
# sign-in asks whether it went through SSO when the account's policy enforces it.
AUTH_PROOFS_KEY = "_auth_proofs"


@dataclass
class SignInFlow:
    email: str
    next_url: str = ""
    proofs: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)

    def account(self) -> Account | None:
        return Account.objects.filter(email=self.email).first()

    def save(self, request: HttpRequest) -> None:
        request.session[SESSION_KEY] = asdict(self)

    @classmethod
    def load(cls, request: HttpRequest) -> SignInFlow | None:
        data = request.session.get(SESSION_KEY)
        if not isinstance(data, dict):
            return None
        try:
            flow = cls(**data)
        except TypeError:
            return None
        if time.time() - flow.started_at > FLOW_MAX_AGE:
            return None
        return flow

    @staticmethod
    def clear(request: HttpRequest) -> None:
        request.session.pop(SESSION_KEY, None)


class SignInStep(Protocol):
    key: str

    def required(self, flow: SignInFlow, account: Account | None) -> bool: ...


class PasswordStep:
    """Prove knowledge of the password, unless the flow already has a first factor."""

    key = "password"
    FIRST_FACTORS = frozenset({"password", "link", "sso"})
    # Proven to orgwarden itself. Two-step verification, its enrolment and password expiry apply
    # after these only: after SSO they are the identity provider's job.
    LOCAL_FIRST_FACTORS = frozenset({"password", "link"})

    def required(self, flow: SignInFlow, account: Account | None) -> bool:
        return not self.FIRST_FACTORS.intersection(flow.proofs)


class TwoStepStep:
    """Enter a code from the authenticator app, or a recovery code, when the account has 2SV on."""

    key = "two_step"
    PROOFS = frozenset({"totp", "recovery"})

    def required(self, flow: SignInFlow, account: Account | None) -> bool:
        return (
            account is not None
            and account.has_two_step
            and bool(PasswordStep.LOCAL_FIRST_FACTORS.intersection(flow.proofs))
            and not self.PROOFS.intersection(flow.proofs)
        )


STEPS: list[SignInStep] = [PasswordStep(), TwoStepStep()]


def register_step(step: SignInStep, *, after: str | None = None, before: str | None = None) -> None:
    """Slot a step into the flow (from an ``AppConfig.ready()``); at the end when no anchor is given."""
    if any(existing.key == step.key for existing in STEPS):
        return
    keys = [existing.key for existing in STEPS]
    if after is not None:
        STEPS.insert(keys.index(after) + 1, step)
    elif before is not None:
        STEPS.insert(keys.index(before), step)
    else:
        STEPS.append(step)


def next_step(flow: SignInFlow, account: Account | None) -> str | None:
    """The key of the first step still required, or ``None`` when the flow is complete."""
    for step in STEPS:
        if step.required(flow, account):
            return step.key
    return None


def password_signs_in(email: str, account: Account | None) -> bool:
    """Whether a sign-in as ``email`` (``account``: its account, ``None`` for a person without one
    yet) would ask for a password: ``False`` when a step before the password takes its place (the
    ``sso`` step of an org whose policy enforces single sign-on). Sign-up and password reset ask
    this, so neither hands out a password that the sign-in would never ask for — nor one that lets
    a person the identity provider never admitted in beside it."""
    return next_step(SignInFlow(email=normalize_email(email)), account) == PasswordStep.key


def safe_next_url(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` if it is a path on this host, else the console's home."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url("console:home")


def session_proofs(request: HttpRequest) -> frozenset[str]:
    """What the current session's sign-in proved; empty for a session signed in another way
    (or before proofs were recorded), which therefore satisfies no requirement."""
    return proofs_in(request.session)


def session_signed_in_at(request: HttpRequest) -> float | None:
    """Unix time this session's sign-in completed (``sign_in_time``); ``None`` when the session has
    no row any more (ended while this request ran). The one read of it in product sign-in: the
    authorize step judges ``max_age`` by it and the ID token's ``auth_time`` names it
    (``oidc.views.AuthorizeView``), whatever the configuration."""
    recorded = sign_in_time(request.session, created_at=None)
    key = request.session.session_key
    if recorded is not None or not key:
        return recorded
    created = (
        Session.objects.filter(session_key=stored_session_key(key))
        .values_list("created_at", flat=True)
        .first()
    )
    return sign_in_time(request.session, created_at=created)


def sign_in_time(session_data: Mapping[str, Any], *, created_at: datetime | None) -> float | None:
    """When the sign-in of a session with this data and row creation time completed (unix time).

    ``AUTH_AT_KEY`` when the session holds it: every sign-in writes it (``flow_advance``), and the
    session-limit middleware writes it on the first request of a session that lacks it (one from
    before the key; its limits count from then). With that middleware switched off
    (``ORGWARDEN_SESSION_LIMITS=false``) nothing writes it into such a session, which then counts
    from its row's creation: a sign-in starts a new row. ``None`` with neither. Product tokens'
    checks read sessions the same way (``oidc.processors.validator``).
    """
    value = session_data.get(AUTH_AT_KEY)
    if isinstance(value, int | float) and not isinstance(value, bool) and value:
        return float(value)
    return created_at.timestamp() if created_at is not None else None


def session_proof_add(request: HttpRequest, proof: str) -> None:
    """Record that this session has now proved ``proof`` as its sign-in would (turning two-step
    verification on in the settings takes the password and a code of the app: ``"totp"``)."""
    request.session[AUTH_PROOFS_KEY] = sorted(session_proofs(request) | {proof})


def proofs_in(session_data: Mapping[str, Any]) -> frozenset[str]:
    """What the sign-in of a session with this data proved (``Session.get_decoded()`` or a live one)."""
    proofs = session_data.get(AUTH_PROOFS_KEY)
    if not isinstance(proofs, list):
        return frozenset()
    return frozenset(p for p in proofs if isinstance(p, str))


def flow_start(
    request: HttpRequest, *, email: str, next_url: str, proofs: list[str] | None = None
) -> SignInFlow:
    flow = SignInFlow(email=normalize_email(email), next_url=next_url, proofs=list(proofs or []))
    flow.save(request)
    return flow


def flow_advance(request: HttpRequest, flow: SignInFlow) -> HttpResponseRedirect:
    """Go to the next required step, or finish: sign the account in and record the success."""
    account = flow.account()
    step = next_step(flow, account)
    if step is not None:
        flow.save(request)
        return HttpResponseRedirect(reverse("accounts:signin_step", args=[step]))
    if account is None or not account.is_active:  # only reachable if the account changed mid-flow
        SignInFlow.clear(request)
        return HttpResponseRedirect(reverse("accounts:login"))
    SignInFlow.clear(request)
    login(request, account, backend=BACKEND)
    # When this session's sign-in happened: the absolute session limit counts from here.
    request.session[AUTH_AT_KEY] = time.time()
    request.session[AUTH_PROOFS_KEY] = list(flow.proofs)
    with transaction.atomic():
        services.signin_success_record(account=account, method="+".join(flow.proofs))
        hooks.run_signed_in(request, account)
    throttle.clear_account(email=account.email)
    return HttpResponseRedirect(safe_next_url(request, flow.next_url))
