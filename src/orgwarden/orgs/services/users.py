"""What an org does to its users: edit a managed account's profile and email, deactivate and
reactivate it, schedule its deletion, sign it out — one at a time or in bulk — and the daily job
that anonymises accounts whose deletion is due.

Every function takes ``actor`` (an admin ``Account`` or an org API key; ``org_actor`` checks it),
finds the account among ``org``'s users (``NotFound`` otherwise, also for another org's account),
and refuses with ``NotManaged`` what only the org that manages an account may do — which is every
change here: an external user's account belongs to the person, not to the org.

Decisions where the issue is silent:
- An admin cannot deactivate, schedule the deletion of, or sign out their own account from here
  (``InvalidInput``): locking yourself out is never what the button meant.
- The deletion of an account that administers an org is refused until it is removed as an admin,
  so deleting an account can never leave an org without admins.
- Changing the email to an address on one of the org's verified domains marks it verified: the
  org proved it controls that domain.
- Deactivating a deactivated account, scheduling a deletion already scheduled, cancelling one that
  is not, or reactivating an active account changes nothing and records nothing.
- ``users_sessions_end`` and ``user_sessions_end`` return how many sessions ended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from orgwarden import humanize
from orgwarden.accounts import services as account_services
from orgwarden.accounts.models import Account, RecoveryCode, Session, SignInLink, normalize_email
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs import hooks
from orgwarden.orgs.exceptions import InvalidInput, NotFound, NotManaged, ProfileManagedByIdp
from orgwarden.orgs.models import Directory, GroupMember, OrgAdmin, Organization, OrgUser
from orgwarden.orgs.selectors import domains as domain_selectors
from orgwarden.orgs.services.access import save_unique
from orgwarden.orgs.services.actors import OrgActor, org_actor

PROFILE_FIELDS = ("display_name", "job_title", "department", "organization", "location")
PROFILE_MAX = 150
MESSAGE_MAX = 500
BULK_MAX = 500
DELETION_DELAY = timedelta(days=14)
DELETED_NAME = "Deleted user"

log = logging.getLogger("orgwarden.orgs.users")


# --- finding the account ------------------------------------------------------------------------------


def _could_be_id(value: object) -> bool:
    # From a URL or JSON: PostgreSQL refuses NUL in a query (a 500, not a 404).
    return isinstance(value, str) and bool(value) and "\x00" not in value and len(value) <= 64


def _clean_id(account_id: object) -> str:
    if not _could_be_id(account_id):
        raise NotFound()
    return account_id


def org_users_locked(org: Organization) -> QuerySet[OrgUser]:
    """``org``'s user rows, each locked with its account when read: the user row, then the account,
    in one statement. Every change of a person takes them so (the console's actions, an identity
    provider's updates): taken the other way round by one of them, two changes of the same person
    each held the row the other needed next, and PostgreSQL rolled one back (a deadlock)."""
    return OrgUser.objects.select_for_update(of=("self", "account")).select_related("account").filter(org=org)


def _org_user(*, org: Organization, account_id: str, managed: bool = True) -> OrgUser:
    """``org``'s user row for ``account_id``, locked with its account; ``NotFound``/``NotManaged``
    otherwise.

    The account is locked too, not only joined: on PostgreSQL a lock that waited for a concurrent
    change (a deactivation sent twice) returns the row's new version, but a joined row as it was
    before; the second deactivation then read "active", deactivated again and recorded it again.
    """
    org_user = (
        org_users_locked(org)
        .select_related("directory")
        .filter(account__account_id=_clean_id(account_id))
        .first()
    )
    if org_user is None:
        raise NotFound()
    if managed and not org_user.is_managed:
        raise NotManaged()
    return org_user


def _not_self(actor: OrgActor, org_user: OrgUser, what: str) -> None:
    if isinstance(actor, Account) and actor.pk == org_user.account_id:
        raise InvalidInput(f"You can't {what} your own account.")


def _clean_message(message: str) -> str:
    message = (message or "").strip()
    if "\x00" in message:  # PostgreSQL refuses NUL in text
        raise InvalidInput("Enter the message as text.")
    if len(message) > MESSAGE_MAX:
        raise InvalidInput(f"Keep the message to {MESSAGE_MAX} characters or fewer.")
    return message


# --- profile and email ------------------------------------------------------------------------------


@transaction.atomic
def user_profile_update(
    *, org: Organization, actor: OrgActor, account_id: str, changes: dict[str, str]
) -> Account:
    """Change a managed account's profile fields; returns the account.

    ``changes`` maps field names from ``PROFILE_FIELDS`` to new values (surrounding spaces are
    dropped; ``display_name`` needs 1–150 characters, the others 0–150). Raises ``NotFound``,
    ``NotManaged``, ``ProfileManagedByIdp`` (provisioned by an identity provider) or ``InvalidInput``.
    """
    who = org_actor(org=org, actor=actor)
    org_user = _org_user(org=org, account_id=account_id)
    if org_user.directory is not None and org_user.directory.kind == Directory.Kind.IDP:
        raise ProfileManagedByIdp()
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput("Say which profile fields to change.")
    account = Account.objects.select_for_update().get(pk=org_user.account_id)
    changed: dict[str, dict[str, str]] = {}
    for field, value in changes.items():
        if field not in PROFILE_FIELDS:
            raise InvalidInput(f"“{field}” is not a profile field. Use one of: {', '.join(PROFILE_FIELDS)}.")
        if not isinstance(value, str) or "\x00" in value:
            raise InvalidInput(f"Enter text for {field}.")
        value = " ".join(value.split())
        if field == "display_name" and not value:
            raise InvalidInput("Enter a name of 1 to 150 characters.")
        if len(value) > PROFILE_MAX:
            raise InvalidInput(f"Keep {field.replace('_', ' ')} to {PROFILE_MAX} characters or fewer.")
        previous = getattr(account, field)
        if previous != value:
            changed[field] = {"from": previous, "to": value}
            setattr(account, field, value)
    if changed:
        account.save(update_fields=list(changed))
        event_record(
            action="org:account:profile_updated",
            actor=who,
            org_id=org.org_id,
            targets=[Target.account(account)],
            details={"changed": changed},
        )
    return account


@transaction.atomic
def user_email_change(*, org: Organization, actor: OrgActor, account_id: str, email: str) -> Account:
    """Move a managed account to ``email`` on one of ``org``'s verified domains; returns the account.

    Updates the account and every user row that copies its email, and ends all its sessions (the
    person signs in again with the new address). Raises ``NotFound``, ``NotManaged``,
    ``ProfileManagedByIdp`` (an identity provider provisions the email: ``hooks.email_provisioned_by``)
    or ``InvalidInput``.
    """
    who = org_actor(org=org, actor=actor)
    org_user = _org_user(org=org, account_id=account_id)
    if reason := hooks.email_provisioned_refusal(org, org_user.account):
        raise ProfileManagedByIdp(reason)
    email = normalize_email(email if isinstance(email, str) else "")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput("Enter a valid email address.") from exc
    if len(email) > 254:
        raise InvalidInput("Enter a valid email address.")
    domain_name = email.rsplit("@", 1)[1]
    domain = domain_selectors.verified_domain(org=org, name=domain_name)
    if domain is None:
        verified = domain_selectors.verified_domain_names(org=org)
        where = ", ".join(verified) if verified else "none yet — verify a domain first"
        raise InvalidInput(
            f"{domain_name} is not a verified domain of {org.name}. "
            f"Use an address on one of its verified domains ({where})."
        )
    account = Account.objects.select_for_update().get(pk=org_user.account_id)
    previous = account.email
    if previous == email:
        return account
    if Account.objects.filter(email=email).exclude(pk=account.pk).exists():
        raise InvalidInput("Another account already uses this email address.")
    account.email = email
    account.email_verified = True
    # A sign-up (or another change) that takes the address after the check gets the check's answer.
    save_unique(
        account, "Another account already uses this email address.", update_fields=["email", "email_verified"]
    )
    OrgUser.objects.filter(account=account).update(email=email)
    OrgUser.objects.filter(pk=org_user.pk).update(domain=domain)
    ended, _ = Session.objects.filter(account=account).delete()
    event_record(
        action="org:account:email_changed",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(account)],
        details={"from": previous, "to": email, "sessions_ended": ended},
    )
    return account


# --- deactivation -------------------------------------------------------------------------------------


def _deactivate(*, org: Organization, who: Actor, org_user: OrgUser, message: str) -> bool:
    """Deactivate one locked, managed user row's account. False if it already was."""
    account = org_user.account
    if account.status == Account.Status.DEACTIVATED:
        return False
    Account.objects.filter(pk=account.pk).update(status=Account.Status.DEACTIVATED)
    account.status = Account.Status.DEACTIVATED
    org_user.deactivation_message = message
    org_user.save(update_fields=["deactivation_message"])
    ended, _ = Session.objects.filter(account=account).delete()
    event_record(
        action="org:account:deactivated",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(account)],
        details={"message": message, "sessions_ended": ended},
    )
    return True


@transaction.atomic
def user_deactivate(*, org: Organization, actor: OrgActor, account_id: str, message: str = "") -> Account:
    """Deactivate a managed account: it can't sign in, its sessions end, and at sign-in the person
    sees "<org> deactivated your account." and ``message`` (≤ 500 characters). Returns the account.

    Raises ``NotFound``, ``NotManaged`` or ``InvalidInput``.
    """
    who = org_actor(org=org, actor=actor)
    org_user = _org_user(org=org, account_id=account_id)
    _not_self(actor, org_user, "deactivate")
    _deactivate(org=org, who=who, org_user=org_user, message=_clean_message(message))
    return org_user.account


@transaction.atomic
def user_reactivate(*, org: Organization, actor: OrgActor, account_id: str) -> Account:
    """Let a deactivated managed account sign in again; returns the account.

    Raises ``NotFound``, ``NotManaged``, or ``InvalidInput`` while its deletion is scheduled (cancel
    the deletion instead: that reactivates it).
    """
    who = org_actor(org=org, actor=actor)
    org_user = _org_user(org=org, account_id=account_id)
    account = org_user.account
    if org_user.deletion_scheduled_for is not None:
        raise InvalidInput("This account is scheduled for deletion. Cancel the deletion to reactivate it.")
    if account.status != Account.Status.DEACTIVATED:
        return account
    _reactivate(org_user)
    event_record(
        action="org:account:reactivated",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(account)],
    )
    return account


def _reactivate(org_user: OrgUser) -> None:
    Account.objects.filter(pk=org_user.account_id).update(status=Account.Status.ACTIVE)
    org_user.account.status = Account.Status.ACTIVE
    org_user.deactivation_message = ""
    org_user.deletion_scheduled_for = None
    org_user.save(update_fields=["deactivation_message", "deletion_scheduled_for"])


# --- scheduled deletion -------------------------------------------------------------------------------


@transaction.atomic
def user_deletion_schedule(*, org: Organization, actor: OrgActor, account_id: str) -> OrgUser:
    """Schedule a managed account's deletion 14 days from now and deactivate it at once.

    Until then the deletion can be cancelled (``user_deletion_cancel``); ``deletions_run`` then
    anonymises it. Returns the user row. Raises ``NotFound``, ``NotManaged`` or ``InvalidInput``
    (your own account, or an org admin's).
    """
    who = org_actor(org=org, actor=actor)
    org_user = _org_user(org=org, account_id=account_id)
    _not_self(actor, org_user, "delete")
    if org_user.deletion_scheduled_for is not None:
        return org_user
    if OrgAdmin.objects.filter(account_id=org_user.account_id).exists():
        raise InvalidInput("This account administers an organization. Remove it from the admins first.")
    account = org_user.account
    was = account.status
    Account.objects.filter(pk=account.pk).update(status=Account.Status.DEACTIVATED)
    account.status = Account.Status.DEACTIVATED
    org_user.deletion_scheduled_for = timezone.now() + DELETION_DELAY
    org_user.save(update_fields=["deletion_scheduled_for"])
    ended, _ = Session.objects.filter(account=account).delete()
    event_record(
        action="org:account:deletion_scheduled",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(account)],
        details={
            "deletion_scheduled_for": org_user.deletion_scheduled_for.isoformat(),
            "previous_status": was,
            "sessions_ended": ended,
        },
    )
    return org_user


@transaction.atomic
def user_deletion_cancel(*, org: Organization, actor: OrgActor, account_id: str) -> OrgUser:
    """Cancel a scheduled deletion and reactivate the account. Returns the user row.

    Raises ``NotFound`` or ``NotManaged``; an account with no deletion scheduled is left as it is.
    """
    who = org_actor(org=org, actor=actor)
    org_user = _org_user(org=org, account_id=account_id)
    if org_user.deletion_scheduled_for is None:
        return org_user
    scheduled_for = org_user.deletion_scheduled_for
    _reactivate(org_user)
    event_record(
        action="org:account:deletion_cancelled",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(org_user.account)],
        details={"deletion_scheduled_for": scheduled_for.isoformat()},
    )
    return org_user


def deletions_run(*, now: datetime | None = None) -> int:
    """Anonymise every managed account whose deletion is due; returns how many were deleted.

    Each account in its own transaction, re-checked under lock so a deletion cancelled meanwhile is
    skipped. One account failing does not hold back the others: the failures are logged, and
    ``DeletionsFailed`` is raised at the end (the daily job then reports a failure). Audit events
    keep their snapshots.
    """
    now = now or timezone.now()
    due = list(
        OrgUser.objects.filter(is_managed=True, deletion_scheduled_for__lte=now)
        .order_by("deletion_scheduled_for", "pk")
        .values_list("pk", flat=True)
    )
    deleted, failed = 0, 0
    for pk in due:
        try:
            deleted += _account_delete(org_user_pk=pk, now=now)
        except Exception:  # one account must not stop the others; the trace goes to the log
            failed += 1
            log.exception("scheduled deletion of org user %s failed", pk)
    if failed:
        raise DeletionsFailed(f"{failed} scheduled deletion(s) failed and {deleted} succeeded; see the log.")
    return deleted


class DeletionsFailed(RuntimeError):
    """Some due deletions failed (the others were done)."""


@transaction.atomic
def _account_delete(*, org_user_pk: int, now: datetime) -> int:
    org_user = (
        OrgUser.objects.select_for_update(of=("self",))
        .select_related("org")
        .filter(pk=org_user_pk, is_managed=True, deletion_scheduled_for__lte=now)
        .first()
    )
    if org_user is None:
        return 0
    account = Account.objects.select_for_update().get(pk=org_user.account_id)
    org = org_user.org
    account.email = f"deleted-{account.account_id}@deleted.invalid"
    account.display_name = DELETED_NAME
    for field in PROFILE_FIELDS[1:]:
        setattr(account, field, "")
    account.set_unusable_password()
    account.status = Account.Status.CLOSED
    account.email_verified = False
    account.totp_secret, account.totp_last_step, account.totp_enabled_at = "", None, None
    account.save()
    RecoveryCode.objects.filter(account=account).delete()
    memberships, _ = GroupMember.objects.filter(account=account).delete()
    sessions, _ = Session.objects.filter(account=account).delete()
    SignInLink.objects.filter(account=account).delete()
    OrgUser.objects.filter(account=account).delete()
    event_record(
        action="org:account:deleted",
        actor=Actor.system("scheduled deletion"),
        org_id=org.org_id,
        targets=[Target("account", account.account_id, DELETED_NAME)],
        details={
            "deletion_scheduled_for": org_user.deletion_scheduled_for.isoformat(),
            "group_memberships_removed": memberships,
            "sessions_ended": sessions,
        },
    )
    return 1


# --- sessions ------------------------------------------------------------------------------------------


@transaction.atomic
def user_sessions_end(*, org: Organization, actor: OrgActor, account_id: str) -> int:
    """Sign a managed account out everywhere; returns how many sessions ended.

    Raises ``NotFound``, ``NotManaged`` or ``InvalidInput`` (your own account: use your account page).
    """
    who = org_actor(org=org, actor=actor)
    org_user = _org_user(org=org, account_id=account_id)
    _not_self(actor, org_user, "sign out")
    return account_services.sessions_end_all(account=org_user.account, actor=who, org_id=org.org_id)


# --- bulk ---------------------------------------------------------------------------------------------


def org_users_bulk(
    *, org: Organization, account_ids: Iterable[str], skip_gone: bool, managed_only: bool = True
) -> list[OrgUser]:
    """The locked, managed user rows of ``account_ids``, in the order given: all or ``NotFound`` /
    ``NotManaged``, or with ``skip_gone`` those that are managed users of ``org`` (none, maybe).
    Without ``managed_only``, external users' rows as well, never ``NotManaged`` (an invitation
    sent again is for both). Raises ``InvalidInput`` for no id, or more than ``BULK_MAX``."""
    if isinstance(account_ids, str) or not isinstance(account_ids, Iterable):
        raise InvalidInput("Give a list of account ids.")
    ids = list(dict.fromkeys(i if isinstance(i, str) else "" for i in account_ids))  # "" is no one's
    if not ids:
        raise InvalidInput("Select at least one user.")
    if len(ids) > BULK_MAX:
        raise InvalidInput(f"Select at most {BULK_MAX} users at a time.")
    rows = {
        row.account.account_id: row
        for row in org_users_locked(org)
        .filter(account__account_id__in=[i for i in ids if _could_be_id(i)])
        .order_by("pk")
    }
    if len(rows) != len(ids) and not skip_gone:
        raise NotFound()
    ordered = [rows[i] for i in ids if i in rows]
    if not managed_only:
        return ordered
    if skip_gone:  # released since the selection was made: as gone, for these actions
        return [row for row in ordered if row.is_managed]
    if any(not row.is_managed for row in ordered):
        raise NotManaged()
    return ordered


@transaction.atomic
def users_deactivate(
    *, org: Organization, actor: OrgActor, account_ids: list[str], message: str = "", skip_gone: bool = False
) -> int:
    """Deactivate up to 500 managed accounts, all or none; returns how many were deactivated
    (already deactivated ones are left as they are). One event per account.

    Raises ``NotFound`` (any id not a user of ``org``), ``NotManaged`` or ``InvalidInput``. With
    ``skip_gone`` an id that is not (or no longer) a managed user of ``org`` is passed over instead: a
    selection made in the console may have gone stale (another admin, a second tab, a released
    domain).
    """
    who = org_actor(org=org, actor=actor)
    message = _clean_message(message)
    rows = org_users_bulk(org=org, account_ids=account_ids, skip_gone=skip_gone)
    for row in rows:
        _not_self(actor, row, "deactivate")
    return sum(1 for row in rows if _deactivate(org=org, who=who, org_user=row, message=message))


@transaction.atomic
def users_sessions_end(
    *, org: Organization, actor: OrgActor, account_ids: list[str], skip_gone: bool = False
) -> int:
    """Sign up to 500 managed accounts out everywhere, all or none; returns how many sessions ended.

    One event per account. Raises ``NotFound``, ``NotManaged`` or ``InvalidInput``; ``skip_gone``
    as for ``users_deactivate``.
    """
    who = org_actor(org=org, actor=actor)
    rows = org_users_bulk(org=org, account_ids=account_ids, skip_gone=skip_gone)
    for row in rows:
        _not_self(actor, row, "sign out")
    return sum(
        account_services.sessions_end_all(account=row.account, actor=who, org_id=org.org_id) for row in rows
    )


# --- what a deactivated person is told ----------------------------------------------------------------


def deactivation_notice(account: Account) -> str | None:
    """For ``accounts.hooks.deactivation_notice``: why the org that manages ``account`` deactivated it."""
    org_user = OrgUser.objects.select_related("org").filter(account=account, is_managed=True).first()
    if org_user is None:
        return None
    parts = [f"{org_user.org.name} deactivated your account."]
    if org_user.deletion_scheduled_for is not None:
        parts.append(f"It will be deleted on {humanize.moment_in_full(org_user.deletion_scheduled_for)}.")
    if org_user.deactivation_message:
        parts.append(org_user.deactivation_message)
    return " ".join(parts)
