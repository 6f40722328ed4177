"""Extension points of the accounts domain, which apps above it register into at startup.

``accounts`` imports no app above it, yet some of its moments matter to them: an account created
on a domain an org claims automatically is managed from birth; a deactivated person should see why
at sign-in. Apps register plain functions here from their ``AppConfig.ready()``; the accounts
services call them inside their own transaction, so what a hook writes commits or rolls back with
the change that triggered it. Explicit lists, not Django signals: what runs is greppable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

    from orgwarden.accounts.models import Account

# Called with the new account, inside account_create's transaction, and ``managed_by_caller``: true
# when the caller makes the account a managed account of an org itself, in the same transaction
# (SCIM provisioning), so no hook needs to claim it.
account_created: list[Callable[..., None]] = []
# Return why the account must keep two-step verification on (a policy), or None.
two_step_required: list[Callable[[Account], str | None]] = []
# Return the message to show a deactivated account at sign-in (first non-empty answer wins).
deactivation_notice: list[Callable[[Account], str | None]] = []
# Return why ``account`` may not change its email to the new address, or None (first refusal wins).
email_change_refusal: list[Callable[[Account, str], str | None]] = []
# Return why ``account`` may not change its own profile (its name), or None (first refusal wins).
profile_change_refusal: list[Callable[[Account], str | None]] = []
# Return why ``account`` may not close itself, or None (first refusal wins).
close_refusal: list[Callable[[Account], str | None]] = []
# Called with the account (already saved with its new email) and the old email, inside the change's
# transaction: apps keep their copies of the email in step.
account_email_changed: list[Callable[[Account, str], None]] = []
# Return what ``password`` lacks for ``account`` beyond Django's validators (a policy's minimum
# length and strength); an empty list when nothing. Consulted by ``services.password_check``.
password_rules: list[Callable[[Account, str], list[str]]] = []
# Called with the account, inside ``services.account_unverified_take_over``'s transaction, when an
# org takes over an account whose email was never verified: apps revoke the credentials they keep for
# it (API tokens) and return how many they revoked, for that function's one audit event.
unverified_credentials_revoke: list[Callable[[Account], int]] = []
# Called with the request and the account once a sign-in completes (after ``signin_success_record``,
# inside a transaction; the session is already the signed-in one): break-glass alerts, session stamps.
signed_in: list[Callable[[HttpRequest, Account], None]] = []


def run_account_created(account: Account, *, managed_by_caller: bool = False) -> None:
    for hook in account_created:
        hook(account, managed_by_caller=managed_by_caller)


def notice_for_deactivated(account: Account) -> str:
    for provider in deactivation_notice:
        message = provider(account)
        if message:
            return message
    return "Your account is deactivated. Contact your administrator."


def first_refusal(checks: list[Callable[..., str | None]], *args: object) -> str | None:
    """The first non-empty answer of ``checks`` called with ``args``, or None when all allow it."""
    for check in checks:
        message = check(*args)
        if message:
            return message
    return None


def refusal_of_email_change(account: Account, new_email: str) -> str | None:
    return first_refusal(email_change_refusal, account, new_email)


def refusal_of_profile_change(account: Account) -> str | None:
    return first_refusal(profile_change_refusal, account)


def refusal_of_close(account: Account) -> str | None:
    return first_refusal(close_refusal, account)


def run_account_email_changed(account: Account, old_email: str) -> None:
    for hook in account_email_changed:
        hook(account, old_email)


def password_rule_failures(account: Account, password: str) -> list[str]:
    failures: list[str] = []
    for rule in password_rules:
        failures.extend(rule(account, password))
    return failures


def run_signed_in(request: HttpRequest, account: Account) -> None:
    for hook in signed_in:
        hook(request, account)


def run_unverified_credentials_revoke(account: Account) -> int:
    return sum(hook(account) for hook in unverified_credentials_revoke)
