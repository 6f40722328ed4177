"""Sign-in, sign-up, email verification, password reset and account settings pages. Thin."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.accounts import hooks, selectors, services, signin, throttle
from orgwarden.accounts.exceptions import (
    AccountsError,
    InvalidLink,
    InvalidPassword,
    PasswordNotUsed,
    TooManyAttempts,
    WrongPassword,
)
from orgwarden.accounts.forms import (
    AccountCloseForm,
    EmailChangeForm,
    EmailForm,
    PasswordChangeForm,
    PasswordForm,
    ProfileForm,
    SetPasswordForm,
    SignupForm,
)
from orgwarden.accounts.models import normalize_email, stored_session_key
from orgwarden.accounts.signin import SignInFlow
from orgwarden.audit.middleware import client_ip
from orgwarden.idn import idn_unicode


def _form_error(form, exc: AccountsError, field: str | None = None) -> None:
    for message in getattr(exc, "messages", [exc.message]):
        form.add_error(field, message)


@require_http_methods(["GET", "POST"])
def login_email(request: HttpRequest) -> HttpResponse:
    """Step 1: the email only. What comes next is the state machine's decision."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    # ``reauth=1``: someone signed in must sign in again (a product asked for it with OIDC's
    # ``prompt=login`` or ``max_age``, see ``oidc.views``), so the form is shown, not skipped.
    reauth = request.user.is_authenticated and request.GET.get("reauth") == "1"
    if request.user.is_authenticated and request.method == "GET" and not reauth:
        # Not ``redirect()``: it would look a bare word like "!" up as a URL name (a 500).
        return HttpResponseRedirect(signin.safe_next_url(request, next_url))
    email = request.GET.get("email", "") or (request.user.email if reauth else "")
    form = EmailForm(request.POST or None, initial={"email": email})
    if request.method == "POST" and form.is_valid():
        flow = signin.flow_start(request, email=form.cleaned_data["email"], next_url=next_url[:2000])
        return signin.flow_advance(request, flow)
    return render(
        request,
        "accounts/login_email.html",
        {"form": form, "next": next_url, "signup_enabled": settings.SIGNUP_ENABLED},
        status=400 if form.errors else 200,
    )


@never_cache  # steps show a new TOTP secret and recovery codes: never kept by a browser's cache
@require_http_methods(["GET", "POST"])
def signin_step(request: HttpRequest, step: str) -> HttpResponse:
    flow = SignInFlow.load(request)
    if flow is None:
        messages.info(request, "Enter your email to sign in.")
        return redirect("accounts:login")
    handler = STEP_VIEWS.get(step)
    if handler is None or signin.next_step(flow, flow.account()) != step:
        return signin.flow_advance(request, flow)
    return handler(request, flow)


def password_step(request: HttpRequest, flow: SignInFlow) -> HttpResponse:
    form = PasswordForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        wait = throttle.retry_after(email=flow.email, ip=ip)
        if wait:
            services.signin_failure_record(email=flow.email, reason="too_many_attempts", throttled=True)
            form.add_error(None, f"Too many attempts. Wait {wait} seconds, then try again.")
            status = 429
        else:
            from django.contrib.auth import authenticate

            password = form.cleaned_data["password"]
            existing = flow.account()
            if existing is not None and existing.status == existing.Status.DEACTIVATED:
                # One hash, as for every other email: ``authenticate`` would hash, refuse the
                # inactive account, and a second hash to tell a right password from a wrong one
                # would double the answer's time — telling anyone who times it that the address has
                # an account, and that it is deactivated.
                account, knows_password = None, existing.check_password(password)
            else:
                account, knows_password = authenticate(request, email=flow.email, password=password), False
            if knows_password:
                # Only someone who knows the password learns that the account is deactivated, and why.
                services.signin_failure_record(email=flow.email, reason="account_deactivated")
                SignInFlow.clear(request)
                notice = hooks.notice_for_deactivated(existing)
                return render(request, "accounts/deactivated.html", {"notice": notice}, status=403)
            if account is None:
                throttle.record_failure(email=flow.email, ip=ip)
                services.signin_failure_record(email=flow.email, reason="invalid_credentials")
                form.add_error(None, "Incorrect email or password.")
                status = 400
            else:
                flow.proofs.append("password")
                return signin.flow_advance(request, flow)
    elif form.errors:
        status = 400
    return render(request, "accounts/login_password.html", {"form": form, "flow": flow}, status=status)


STEP_VIEWS = {"password": password_step}


def signin_link(request: HttpRequest, token: str) -> HttpResponse:
    """A one-time sign-in link: GET shows a button (mail scanners follow links), POST uses it."""
    if request.method != "POST":
        return render(request, "accounts/signin_link.html", {})
    try:
        account = services.signin_link_consume(token=token)
    except InvalidLink as exc:
        return render(request, "accounts/link_invalid.html", {"message": exc.message}, status=400)
    if request.user.is_authenticated:
        logout(request)
    flow = signin.flow_start(request, email=account.email, next_url="", proofs=["link"])
    if not account.has_usable_password():
        flow.next_url = "/account/security/?set=1"
    return signin.flow_advance(request, flow)


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        services.signout_record(account=request.user)
    logout(request)
    messages.success(request, "You are signed out.")
    return redirect("accounts:login")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Self sign-up. Each attempt counts (``throttle.requests_admit``), before anything is looked
    up: a refusal says nothing about whether the address has an account (sign-up itself does: the
    README's Security section says why that is accepted)."""
    if not settings.SIGNUP_ENABLED:
        return render(request, "accounts/signup_disabled.html", status=403)
    # An invitation links here with ``next`` (back to the invitation) and the invited ``email``;
    # ``flow_advance`` only follows ``next`` when it is a path on this host.
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    form = SignupForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    wait = 0
    if request.method == "POST" and form.is_valid():
        email = normalize_email(form.cleaned_data["email"])
        wait = throttle.SIGNUPS.admit(form, email_key=email, ip=client_ip(request))
    if not wait and request.method == "POST" and form.is_valid():
        try:
            account = services.account_signup(**form.cleaned_data)
        except PasswordNotUsed:
            # The address's org enforces SSO: the sign-in takes them to its identity provider,
            # which creates their account at the first sign-in (as the email step would).
            flow = signin.flow_start(request, email=form.cleaned_data["email"], next_url=next_url[:2000])
            return signin.flow_advance(request, flow)
        except AccountsError as exc:
            _form_error(form, exc, "password" if isinstance(exc, InvalidPassword) else None)
        else:
            flow = signin.flow_start(
                request, email=account.email, next_url=next_url[:2000] or "/account/", proofs=["password"]
            )
            shown = idn_unicode(account.email)
            messages.success(request, f"Welcome! We sent a link to {shown} to verify your email.")
            return signin.flow_advance(request, flow)
    response = render(
        request,
        "accounts/signup.html",
        {"form": form, "next": next_url},
        status=429 if wait else 400 if form.errors else 200,
    )
    if wait:
        response["Retry-After"] = str(wait)
    return response


@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirm button (mail scanners prefetch links); POST verifies.

    Opened outside a session of the account, the page also asks for the account's password
    (``services.email_verify`` says why) and offers the way for whoever reads the mailbox but did
    not sign up: a password reset, which clears what the person who did set.
    """
    try:
        account = services.email_verification_account(token=token)
    except InvalidLink as exc:
        return render(request, "accounts/link_invalid.html", {"message": exc.message}, status=400)
    signed_in = request.user if request.user.is_authenticated else None
    needs_password = services.email_verification_asks_password(account=account, signed_in=signed_in)
    form = PasswordForm(request.POST if request.method == "POST" else None) if needs_password else None
    throttled = False
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            account = services.email_verify(
                token=token, signed_in=signed_in, password=form.cleaned_data["password"] if form else ""
            )
        except InvalidLink as exc:
            return render(request, "accounts/link_invalid.html", {"message": exc.message}, status=400)
        except (TooManyAttempts, WrongPassword) as exc:
            if form is None:  # the account got a password since this request looked: ask for it
                return redirect(request.path)
            if isinstance(exc, TooManyAttempts):
                form.add_error(None, exc.message)
                throttled = True
            else:
                form.add_error("password", "That is not the password of this account.")
        else:
            messages.success(request, f"Your email {idn_unicode(account.email)} is verified.")
            return redirect("accounts:account" if signed_in == account else "accounts:login")
    return render(
        request,
        "accounts/verify_email.html",
        {"form": form, "email": account.email},
        status=429 if throttled else 400 if form is not None and form.errors else 200,
    )


@login_required
@require_POST
def resend_verification(request: HttpRequest) -> HttpResponse:
    if not request.user.email_verified:
        services.email_verification_send(account=request.user)
        messages.success(request, f"We sent a new verification link to {idn_unicode(request.user.email)}.")
    return redirect("accounts:account")


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """Ask for a reset link. Each request counts (``throttle.requests_admit``), the account exists or
    not: nobody makes this server send an address reset email after reset email."""
    form = EmailForm(request.POST or None)
    wait = 0
    if request.method == "POST" and form.is_valid():
        email = normalize_email(form.cleaned_data["email"])
        wait = throttle.RESETS.admit(form, email_key=email, ip=client_ip(request))
        if not wait:
            services.password_reset_request(email=email)
            return render(request, "accounts/password_reset_sent.html", {"email": form.cleaned_data["email"]})
    response = render(
        request,
        "accounts/password_reset.html",
        {"form": form},
        status=429 if wait else 400 if form.errors else 200,
    )
    if wait:
        response["Retry-After"] = str(wait)
    return response


@require_http_methods(["GET", "POST"])
def password_reset_confirm(request: HttpRequest, account_id: str, token: str) -> HttpResponse:
    try:
        services.password_reset_account(account_id=account_id, token=token)
    except (InvalidLink, PasswordNotUsed) as exc:
        return render(request, "accounts/link_invalid.html", {"message": exc.message}, status=400)
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset_complete(
                account_id=account_id, token=token, new_password=form.cleaned_data["new_password"]
            )
        except AccountsError as exc:
            _form_error(form, exc, "new_password")
        else:
            logout(request)
            messages.success(request, "Your password is changed. Sign in with the new one.")
            return redirect("accounts:login")
    return render(
        request,
        "accounts/password_reset_confirm.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, initial={"display_name": request.user.display_name})
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(account=request.user, display_name=form.cleaned_data["display_name"])
        except AccountsError as exc:
            _form_error(form, exc, "display_name")
        else:
            messages.success(request, "Profile saved.")
            return redirect("accounts:account")
    return render(
        request,
        "accounts/account.html",
        {
            "form": form,
            "section": "profile",
            "profile_locked": hooks.refusal_of_profile_change(request.user),
            # Closing is not offered to an account that may not close itself (a managed one, the
            # only admin of an org): the page says why instead, as the close page would.
            "close_refusal": hooks.refusal_of_close(request.user),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None)
    throttled = False
    # An account without one (a one-time link's first sign-in) chooses its first password: nothing
    # is changed, and that link's session is its only one.
    had_password = request.user.has_usable_password()
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                account=request.user,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
                keep_session_key=request.session.session_key,
            )
        except TooManyAttempts as exc:  # as the sign-in password step answers it
            form.add_error(None, exc.message)
            throttled = True
        except AccountsError as exc:
            field = "current_password" if exc.__class__.__name__ == "WrongPassword" else "new_password"
            _form_error(form, exc, field)
        else:
            from django.contrib.auth import update_session_auth_hash

            update_session_auth_hash(request, request.user)
            if had_password:
                messages.success(request, "Password changed. Your other sessions were signed out.")
            else:
                messages.success(request, "Password set.")
            return redirect("accounts:security")
    sessions = selectors.sessions_of(account=request.user)
    return render(
        request,
        "accounts/security.html",
        {
            "form": form,
            "sessions": sessions,
            "current_id": stored_session_key(request.session.session_key or ""),
            "has_password": request.user.has_usable_password(),
            "section": "security",
        },
        status=429 if throttled else 400 if form.errors else 200,
    )


@login_required
@require_POST
def session_end(request: HttpRequest, session_id: str) -> HttpResponse:
    try:
        services.session_end(account=request.user, session_id=session_id)
    except AccountsError as exc:
        raise Http404(exc.message) from exc
    if session_id == stored_session_key(request.session.session_key or ""):
        # The row is gone: log out so the response does not try to save the deleted session
        # (which Django answers with a 400 "session interrupted").
        logout(request)
        return redirect("accounts:login")
    messages.success(request, "Session ended.")
    return redirect("accounts:security")


@login_required
@require_POST
def sessions_end_all(request: HttpRequest) -> HttpResponse:
    from orgwarden.audit.services import Actor

    keep = request.session.session_key if request.POST.get("keep_current") == "1" else None
    count = services.sessions_end_all(
        account=request.user, actor=Actor.account(request.user), keep_session_key=keep
    )
    if keep is None:
        logout(request)  # this session's row is gone too; see session_end
        return redirect("accounts:login")
    messages.success(request, f"Signed out of {count} other session{'s' if count != 1 else ''}.")
    return redirect("accounts:security")


@login_required
@require_http_methods(["GET", "POST"])
def email_change(request: HttpRequest) -> HttpResponse:
    """Ask for a new email: a confirmation link goes to it; nothing changes until it is followed."""
    form = EmailChangeForm(request.POST or None)
    throttled = False
    if request.method == "POST" and form.is_valid():
        try:
            new_email = services.email_change_request(
                account=request.user,
                new_email=form.cleaned_data["new_email"],
                current_password=form.cleaned_data["current_password"],
            )
        except TooManyAttempts as exc:
            form.add_error(None, exc.message)
            throttled = True
        except AccountsError as exc:
            field = "current_password" if exc.__class__.__name__ == "WrongPassword" else "new_email"
            _form_error(form, exc, field)
        else:
            shown = idn_unicode(new_email)
            messages.success(request, f"We sent a link to {shown}. Your email changes when you open it.")
            return redirect("accounts:account")
    return render(
        request,
        "accounts/email_change.html",
        {"form": form, "has_password": request.user.has_usable_password(), "section": "profile"},
        status=429 if throttled else 400 if form.errors else 200,
    )


def email_change_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link sent to the new address: GET shows a confirm button (mail scanners), POST changes."""
    if request.method != "POST":
        return render(request, "accounts/email_change_confirm.html", {})
    keep = request.session.session_key if request.user.is_authenticated else None
    try:
        account = services.email_change_confirm(token=token, keep_session_key=keep)
    except AccountsError as exc:
        return render(request, "accounts/link_invalid.html", {"message": exc.message}, status=400)
    if request.user.is_authenticated and request.user.pk != account.pk:
        logout(request)
    shown = idn_unicode(account.email)
    messages.success(request, f"Your email is now {shown}. Your other sessions were signed out.")
    if request.user.is_authenticated:
        return redirect("accounts:account")
    from urllib.parse import urlencode

    from django.urls import reverse

    return redirect(reverse("accounts:login") + "?" + urlencode({"email": account.email}))


@login_required
@require_http_methods(["GET", "POST"])
def account_close(request: HttpRequest) -> HttpResponse:
    refusal = hooks.refusal_of_close(request.user)
    # Bound on every POST, an empty one too: adding the refusal to an unbound form raises.
    form = AccountCloseForm(request.POST if request.method == "POST" else None)
    throttled = False
    if request.method == "POST" and form.is_valid() and not refusal:
        try:
            services.account_close(
                account=request.user, current_password=form.cleaned_data["current_password"]
            )
        except AccountsError as exc:
            field = "current_password" if exc.__class__.__name__ == "WrongPassword" else None
            _form_error(form, exc, field)
            throttled = isinstance(exc, TooManyAttempts)
        else:
            logout(request)  # its session row is gone; see session_end
            messages.success(request, "Your account is closed.")
            return redirect("accounts:login")
    if request.method == "POST" and refusal:
        form.add_error(None, refusal)
    return render(
        request,
        "accounts/account_close.html",
        {
            "form": form,
            "refusal": refusal,
            "has_password": request.user.has_usable_password(),
            "section": "profile",
        },
        status=429 if throttled else 400 if form.errors else 200,
    )
