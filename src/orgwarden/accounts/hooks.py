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
    from orgwarden.accounts.models import Account

# Called with the new account, inside account_create's transaction.
account_created: list[Callable[[Account], None]] = []
# Return the message to show a deactivated account at sign-in (first non-empty answer wins).
deactivation_notice: list[Callable[[Account], str | None]] = []


def run_account_created(account: Account) -> None:
    for hook in account_created:
        hook(account)


def notice_for_deactivated(account: Account) -> str:
    for provider in deactivation_notice:
        message = provider(account)
        if message:
            return message
    return "Your account is deactivated. Contact your administrator."
