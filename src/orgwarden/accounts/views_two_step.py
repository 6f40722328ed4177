"""Two-step verification pages: the sign-in step, and enrolment/settings on the account pages."""

from __future__ import annotations

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from orgwarden.accounts import crypto, otp, signin, throttle, two_step
from orgwarden.accounts.exceptions import AccountsError, TooManyAttempts, WrongPassword
from orgwarden.accounts.signin import SignInFlow
from orgwarden.audit.middleware import client_ip

PENDING_SECRET_KEY = "two_step_pending_secret"  # noqa: S105 (a session key name)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Verification code",
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
    )


class EnrolForm(forms.Form):
    code = forms.CharField(
        label="Code from the app",
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class ProvenEnrolForm(EnrolForm):
    """Enrolling from the settings: the code from the new app, and the password (or, moving 2SV to
    a new app without one, a proof of the current setup): see ``two_step.two_step_enable``."""

    current_proof = forms.CharField(
        max_length=400, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args, account, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["current_proof"].label = two_step.replacing_proof_label(account)
        if not account.has_usable_password():
            self.fields["current_proof"].widget = forms.TextInput(attrs={"autocomplete": "one-time-code"})


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label="Your password", max_length=400, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )  # fmt: skip


def two_step_step(request: HttpRequest, flow: SignInFlow) -> HttpResponse:
    """Sign-in step: a TOTP code or a recovery code; failures are throttled per account."""
    account = flow.account()
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        wait = throttle.TWO_STEP.retry_after(email=flow.email)
        if wait:
            two_step.two_step_failure_record(account=account, throttled=True)
            form.add_error(None, f"Too many wrong codes. Wait {wait // 60 + 1} minutes, then try again.")
            status = 429
        else:
            method = two_step.two_step_verify(account=account, code=form.cleaned_data["code"])
            if method is None:
                throttle.TWO_STEP.record_failure(email=flow.email, ip=client_ip(request))
                two_step.two_step_failure_record(account=account)
                form.add_error("code", "That code is not valid, or was already used.")
                status = 400
            else:
                throttle.TWO_STEP.clear_account(email=flow.email)
                flow.proofs.append(method)
                if method == "recovery":
                    left = two_step.recovery_codes_left(account=account)
                    messages.warning(
                        request,
                        f"You used a recovery code; {left} left. Generate new ones in your account settings.",
                    )
                return signin.flow_advance(request, flow)
    elif form.errors:
        status = 400
    return render(request, "accounts/two_step/signin_step.html", {"form": form, "flow": flow}, status=status)


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    account = request.user
    return render(
        request,
        "accounts/two_step/settings.html",
        {
            "section": "two_step",
            "codes_left": two_step.recovery_codes_left(account=account) if account.has_two_step else 0,
            "required_reason": two_step.two_step_refusal(account),
            "password_form": PasswordConfirmForm(),
        },
    )


@login_required
@never_cache  # the new secret, then the recovery codes: shown once, never kept by the browser's cache
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Show a new secret (QR code and text), then turn 2SV on once a code from the app matches."""
    pending = request.session.get(PENDING_SECRET_KEY)
    secret = crypto.decrypt(pending) if pending else None
    if secret is None or (request.method == "GET" and request.GET.get("new")):
        secret = otp.new_secret()
        request.session[PENDING_SECRET_KEY] = crypto.encrypt(secret)
    replacing = request.user.has_two_step
    data = request.POST or None
    proven = replacing or request.user.has_usable_password()
    form = ProvenEnrolForm(data, account=request.user) if proven else EnrolForm(data)
    throttled = False
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_step.two_step_enable(
                account=request.user,
                secret=secret,
                code=form.cleaned_data["code"],
                current_proof=form.cleaned_data.get("current_proof", ""),
                keep_session_key=request.session.session_key,
            )
        except (two_step.CurrentProofWrong, TooManyAttempts) as exc:
            form.add_error("current_proof", exc.message)
            throttled = isinstance(exc, TooManyAttempts)
        except AccountsError as exc:
            form.add_error("code", exc.message)
        else:
            request.session.pop(PENDING_SECRET_KEY, None)
            if proven:  # the password (or the current app) and a code of the new app, just now
                signin.session_proof_add(request, "totp")
            messages.success(request, "Two-step verification is on.")
            return render(
                request, "accounts/two_step/recovery_codes.html", {"codes": codes, "section": "two_step"}
            )
    uri = two_step.provisioning_uri(account=request.user, secret=secret)
    return render(
        request,
        "accounts/two_step/setup.html",
        {
            "form": form,
            "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
            "qr": segno.make(uri, error="m").svg_data_uri(scale=5, border=2),
            "uri": uri,
            "section": "two_step",
            "replacing": replacing,
        },
        status=429 if throttled else 400 if form.errors else 200,
    )


def _too_many_attempts(request: HttpRequest, exc: TooManyAttempts) -> HttpResponse:
    """The two-step settings page with the refusal, as a 429 (the password was not checked)."""
    messages.error(request, exc.message)
    response = settings_page(request)
    response.status_code = 429
    return response


@login_required
@require_http_methods(["POST"])
def disable(request: HttpRequest) -> HttpResponse:
    form = PasswordConfirmForm(request.POST)
    if form.is_valid():
        try:
            two_step.two_step_disable(account=request.user, password=form.cleaned_data["password"])
        except TooManyAttempts as exc:
            return _too_many_attempts(request, exc)
        except AccountsError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Two-step verification is off.")
    else:
        messages.error(request, "Enter your password.")
    return redirect("accounts:two_step")


@login_required
@never_cache  # the new recovery codes
@require_http_methods(["POST"])
def regenerate_codes(request: HttpRequest) -> HttpResponse:
    form = PasswordConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter your password.")
        return redirect("accounts:two_step")
    try:
        codes = two_step.recovery_codes_regenerate(
            account=request.user, password=form.cleaned_data["password"]
        )
    except TooManyAttempts as exc:
        return _too_many_attempts(request, exc)
    except WrongPassword as exc:
        messages.error(request, exc.message)
        return redirect("accounts:two_step")
    except AccountsError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:two_step")
    return render(request, "accounts/two_step/recovery_codes.html", {"codes": codes, "section": "two_step"})
