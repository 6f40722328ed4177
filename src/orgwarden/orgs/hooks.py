"""Extension points of the orgs domain for the apps above it (registered in ``AppConfig.ready()``).

Called inside the transaction of the change, so what a hook writes commits with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from orgwarden.accounts.hooks import first_refusal

if TYPE_CHECKING:
    from orgwarden.accounts.models import Account
    from orgwarden.orgs.models import Directory, Organization

# Called with every new directory (each gets its default authentication policy this way).
directory_created: list[Callable[[Directory], None]] = []


def run_directory_created(directory: Directory) -> None:
    for hook in directory_created:
        hook(directory)


# Called when an org stops managing an account (``claims.account_release``), before its audit event:
# each hook takes away what the org's identity providers still hold over the account (SCIM records,
# SAML identity links) and returns what it did, for that event's details.
account_released: list[Callable[[Organization, Account], dict]] = []


def run_account_released(org: Organization, account: Account) -> dict:
    details: dict = {}
    for hook in account_released:
        details.update(hook(org, account))
    return details


# Asked before an admin changes a managed account's email (``users.user_email_change``): a hook that
# keeps the account's email in step with a source of its own (a SCIM record, whose next update
# would undo the change) returns why the change is refused, else None.
email_provisioned_by: list[Callable[[Organization, Account], str | None]] = []


def email_provisioned_refusal(org: Organization, account: Account) -> str | None:
    return first_refusal(email_provisioned_by, org, account)
