"""The policies' sign-in steps: enrol in two-step verification, and replace an expired password.

Registered by ``PoliciesConfig.ready()`` into ``accounts.signin.STEPS`` and ``accounts.views.STEP_VIEWS``:

- ``two_step_enrol`` (right after the password): the account's policy makes 2SV mandatory, or the
  account is a break-glass admin, and it has no authenticator app yet. The step shows a new secret
  (QR code and text), turns 2SV on once a code matches (``two_step.two_step_enable``, which records
  ``account:2sv:enabled``), adds ``"totp"`` to the flow's proofs — the code just entered is one —
  and shows the recovery codes once, with "Continue". The ``two_step`` step then has nothing to ask.
- ``password_expired`` (after ``two_step``): the policy expires passwords and the account's password
  is older than that (``password_changed_at``, or the account's creation if never set). The person
  sets a new one that passes the policy's rules (``services.password_expired_change``).

Both apply only once the flow has a first factor, so nothing about the policy is shown to someone
who has not proved they own the account. Sessions already open are not cut when a policy changes.
"""

from __future__ import annotations

import segno
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from orgwarden.accounts import crypto, otp, signin, two_step
from orgwarden.accounts.exceptions import AccountsError
from orgwarden.accounts.forms import SetPasswordForm
from orgwarden.accounts.models import Account
from orgwarden.accounts.signin import PasswordStep, SignInFlow, TwoStepStep
from orgwarden.accounts.views_two_step import EnrolForm
from orgwarden.policies import selectors, services

ENROL_SECRET_KEY = "policies_enrol_secret"  # noqa: S105 (a session key name)
RENEWED = "password_renewed"


def _has_first_factor(flow: SignInFlow) -> bool:
    return bool(PasswordStep.LOCAL_FIRST_FACTORS.intersection(flow.proofs))


class TwoStepEnrolStep:
    key = "two_step_enrol"

    def required(self, flow: SignInFlow, account: Account | None) -> bool:
        return (
            account is not None
            and not account.has_two_step
            and _has_first_factor(flow)
            and not TwoStepStep.PROOFS.intersection(flow.proofs)
            and selectors.two_step_requirement(account) is not None
        )


class PasswordExpiredStep:
    key = "password_expired"

    def required(self, flow: SignInFlow, account: Account | None) -> bool:
        if account is None or RENEWED in flow.proofs or not _has_first_factor(flow):
            return False
        expires = selectors.password_expires_at(account, selectors.policy_for(account))
        return expires is not None and expires <= timezone.now()


def two_step_enrol_view(request: HttpRequest, flow: SignInFlow) -> HttpResponse:
    account = flow.account()
    pending = request.session.get(ENROL_SECRET_KEY)
    secret = crypto.decrypt(pending) if pending else None
    if secret is None:
        secret = otp.new_secret()
        request.session[ENROL_SECRET_KEY] = crypto.encrypt(secret)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_step.two_step_enable(
                account=account, secret=secret, code=form.cleaned_data["code"], at_sign_in=True
            )
        except AccountsError as exc:
            form.add_error("code", exc.message)
        else:
            request.session.pop(ENROL_SECRET_KEY, None)
            flow.proofs.append("totp")
            flow.save(request)
            return render(request, "policies/two_step_enrol_codes.html", {"codes": codes, "flow": flow})
    uri = two_step.provisioning_uri(account=account, secret=secret)
    return render(
        request,
        "policies/two_step_enrol.html",
        {
            "form": form,
            "flow": flow,
            "reason": selectors.two_step_requirement(account),
            "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
            "qr": segno.make(uri, error="m").svg_data_uri(scale=4, border=2),
        },
        status=400 if form.errors else 200,
    )


def password_expired_view(request: HttpRequest, flow: SignInFlow) -> HttpResponse:
    account = flow.account()
    policy = selectors.policy_for(account)
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_expired_change(account=account, new_password=form.cleaned_data["new_password"])
        except AccountsError as exc:
            for message in getattr(exc, "messages", [exc.message]):
                form.add_error("new_password", message)
        else:
            flow.proofs.append(RENEWED)
            return signin.flow_advance(request, flow)
    return render(
        request,
        "policies/password_expired.html",
        {"form": form, "flow": flow, "policy": policy},
        status=400 if form.errors else 200,
    )
