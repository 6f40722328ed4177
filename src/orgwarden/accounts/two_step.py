"""Two-step verification services: enrol an authenticator app, check codes, recovery codes.

Writes follow the house rule (atomic, one audit event each). Checking a code is a write too: an
accepted TOTP code moves the account's last accepted time step (so it cannot be replayed) and a
recovery code is burned; both happen under a row lock so two concurrent uses of the same code
cannot both succeed.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orgwarden.accounts import crypto, hooks, otp, services, throttle
from orgwarden.accounts.exceptions import AccountsError, TooManyAttempts, WrongPassword
from orgwarden.accounts.models import Account, RecoveryCode
from orgwarden.audit.services import Actor, Target, event_record


class InvalidCode(AccountsError):
    message = "That code is not valid. Enter the current code from your authenticator app."


class CurrentProofWrong(AccountsError):
    message = "That is not your current password, or not a valid code from your current app."


class TwoStepRequired(AccountsError):
    message = "Your organization requires two-step verification, so you can't turn it off."


def provisioning_uri(*, account: Account, secret: str) -> str:
    return otp.provisioning_uri(secret, account_name=account.email, issuer=settings.INSTALLATION_NAME)


def _new_recovery_codes(account: Account) -> list[str]:
    RecoveryCode.objects.filter(account=account).delete()
    codes = otp.new_recovery_codes()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(account=account, code_hash=otp.recovery_code_hash(code)) for code in codes
    )
    return codes


def replacing_proof_label(account: Account) -> str:
    """What enrolling from the settings asks of ``account`` (see ``two_step_enable``)."""
    if account.has_usable_password():
        return "Your password"
    return "A code from your current app, or a recovery code"


def two_step_enable(
    *,
    account: Account,
    secret: str,
    code: str,
    current_proof: str = "",
    at_sign_in: bool = False,
    keep_session_key: str | None = None,
) -> list[str]:
    """Turn on 2SV with ``secret`` once ``code`` proves the app has it; returns the recovery codes.

    Enrolling again (moving to a new app) replaces the previous secret and recovery codes, so it
    needs ``current_proof`` as turning 2SV off does: the password, or for an account without one (it
    signs in through its identity provider) a code from the current app or a recovery code. A first
    enrolment from the account's settings needs the password too, where the account has one: with
    a session alone — a borrowed laptop, a stolen cookie — someone could put the second step on an
    app of theirs and lock the owner out. ``at_sign_in``: the sign-in's enrolment step, which comes
    right after the password (or the IdP) proved who this is, asks nothing more.

    From the settings (``keep_session_key``: that page's session), every other session of the
    account ends, as a password change ends them: a session signed in with the password alone —
    perhaps by whoever the owner is locking out — does not outlive the second step it never
    passed. Raises ``TooManyAttempts``, ``CurrentProofWrong`` or ``InvalidCode``.
    """
    if account.has_two_step or (not at_sign_in and account.has_usable_password()):
        _current_setup_prove(account, current_proof)
    with transaction.atomic():
        step = otp.matching_step(secret, code, unix_time=time.time(), last_step=None)
        if step is None:
            raise InvalidCode()
        account = Account.objects.select_for_update().get(pk=account.pk)
        account.totp_secret = crypto.encrypt(secret)
        account.totp_last_step = step
        account.totp_enabled_at = timezone.now()
        account.save(update_fields=["totp_secret", "totp_last_step", "totp_enabled_at"])
        codes = _new_recovery_codes(account)
        ended = (
            services.sessions_delete(account=account, keep_session_key=keep_session_key)
            if keep_session_key
            else 0
        )
        event_record(
            action="account:2sv:enabled",
            actor=Actor.account(account),
            targets=[Target.account(account)],
            details={"other_sessions_ended": ended} if keep_session_key else {},
        )
    return codes


def _current_setup_prove(account: Account, proof: str) -> None:
    """``two_step_enable``'s proof of the current setup, throttled like the sign-in step it stands
    for: the password (``services.current_password_confirm``), or a code of the current app or a
    recovery code (``throttle.TWO_STEP``, per account). Before the change's transaction, so a
    refusal's count is not rolled back with it."""
    if account.has_usable_password():
        try:
            services.current_password_confirm(account=account, password=proof, passwordless_passes=False)
        except WrongPassword as exc:
            raise CurrentProofWrong() from exc
        return
    wait = throttle.TWO_STEP.retry_after(email=account.email)
    if wait:
        raise TooManyAttempts(wait)
    if not proof or two_step_verify(account=account, code=proof) is None:
        throttle.TWO_STEP.record_failure(email=account.email)
        raise CurrentProofWrong()


def two_step_refusal(account: Account) -> str | None:
    """Why ``account`` may not turn 2SV off (a policy makes it mandatory), or ``None``."""
    for provider in hooks.two_step_required:
        reason = provider(account)
        if reason:
            return reason
    return None


def two_step_disable(*, account: Account, password: str, actor: Actor | None = None) -> None:
    """Turn 2SV off; needs the password again, throttled as at sign-in (checked before the
    transaction, see ``services.current_password_confirm``). Raises ``WrongPassword``,
    ``TooManyAttempts`` or ``TwoStepRequired``."""
    services.current_password_confirm(account=account, password=password, passwordless_passes=False)
    with transaction.atomic():
        reason = two_step_refusal(account)
        if reason:
            raise TwoStepRequired(reason)
        _clear(account)
        event_record(
            action="account:2sv:disabled",
            actor=actor or Actor.account(account),
            targets=[Target.account(account)],
        )


def two_step_clear(*, account: Account) -> None:
    """Remove ``account``'s 2SV secret and recovery codes, for a caller that records its own event
    (an admin's reset, ``policies.services.two_step_reset``)."""
    _clear(account)


def _clear(account: Account) -> None:
    account.totp_secret, account.totp_last_step, account.totp_enabled_at = "", None, None
    account.save(update_fields=["totp_secret", "totp_last_step", "totp_enabled_at"])
    RecoveryCode.objects.filter(account=account).delete()


def recovery_codes_regenerate(*, account: Account, password: str) -> list[str]:
    """New recovery codes (the old ones stop working). The password is throttled as at sign-in
    (``services.current_password_confirm``). Raises ``WrongPassword`` or ``TooManyAttempts``."""
    services.current_password_confirm(account=account, password=password, passwordless_passes=False)
    with transaction.atomic():
        if not account.has_two_step:
            raise InvalidCode("Turn on two-step verification first.")
        codes = _new_recovery_codes(account)
        event_record(
            action="account:2sv:recovery_codes_regenerated",
            actor=Actor.account(account),
            targets=[Target.account(account)],
        )
    return codes


@transaction.atomic
def two_step_verify(*, account: Account, code: str) -> str | None:
    """Check a sign-in code: ``"totp"`` or ``"recovery"`` when accepted, ``None`` when not.

    An accepted TOTP code moves the last accepted step (no replay); an accepted recovery code is
    burned and recorded. A refused code changes nothing here: the caller records the failure
    with ``two_step_failure_record`` and counts it against the throttle.
    """
    account = Account.objects.select_for_update().get(pk=account.pk)
    if not account.has_two_step:
        return None
    secret = crypto.decrypt(account.totp_secret)
    if secret is not None and code.strip().replace(" ", "").isdigit():
        step = otp.matching_step(secret, code, unix_time=time.time(), last_step=account.totp_last_step)
        if step is None:
            return None
        account.totp_last_step = step
        account.save(update_fields=["totp_last_step"])
        return "totp"
    burned = RecoveryCode.objects.filter(
        account=account, code_hash=otp.recovery_code_hash(code), burned_at__isnull=True
    ).update(burned_at=timezone.now())
    if not burned:
        return None
    left = RecoveryCode.objects.filter(account=account, burned_at__isnull=True).count()
    event_record(
        action="account:2sv:recovery_code_used",
        actor=Actor.account(account),
        targets=[Target.account(account)],
        details={"recovery_codes_left": left},
    )
    return "recovery"


@transaction.atomic
def two_step_failure_record(*, account: Account, throttled: bool = False) -> None:
    event_record(
        action="account:2sv:failed",
        actor=Actor.account(account),
        targets=[Target.account(account)],
        details={"reason": "too_many_attempts" if throttled else "invalid_code"},
    )


def recovery_codes_left(*, account: Account) -> int:
    return RecoveryCode.objects.filter(account=account, burned_at__isnull=True).count()
