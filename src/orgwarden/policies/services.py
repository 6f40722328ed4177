"""Every write of the policies domain. Each function checks who may do it, writes, and records its event.

Who may act: an org admin (console) or an org API key (REST API), through ``org_actor``; break-glass
admins are chosen by admins only. Every change that can move an account's session limits bumps the
policy generation after commit (``_generation_bump``), so the session-limit middleware re-resolves
limits once per session instead of on every request.

Decisions where the issue is silent:
- a policy name is 1–100 characters and unique in the org, whatever the case;
- ``policy_update`` is all-or-nothing: every invalid setting is reported at once and nothing changes;
- ``billable`` may be false only on the local directory's default policy (the issue's rule), and
  ``enforce_sso`` only on an identity-provider directory's billable policy;
- moving an account to the policy it is already in is allowed and records it as not moved;
- a break-glass admin must be an org admin; removing the admin role does not delete the row but the
  selectors ignore it (``break_glass_orgs``), so re-adding the admin restores it.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from orgwarden.accounts import emails, two_step
from orgwarden.accounts.ids import public_id_lookup
from orgwarden.accounts.models import Account, Session, stored_session_key
from orgwarden.accounts.services import password_check
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs.exceptions import InvalidName, NotFound
from orgwarden.orgs.models import Directory, OrgAdmin, Organization, OrgUser
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.policies import selectors
from orgwarden.policies.exceptions import (
    BreakGlassRefused,
    DefaultPolicyProtected,
    InvalidSetting,
    MoveRefused,
    NameTaken,
    NoTwoStepToReset,
    TooManyBreakGlass,
)
from orgwarden.policies.models import DAY, AuthenticationPolicy, BreakGlassAdmin, PolicyMember

MOVE_MAX = 500
BREAK_GLASS_MAX = 3
EXPIRY_CHOICES = (0, 30, 60, 90, 180, 365)
SETTINGS = (
    "two_step",
    "password_min_length",
    "password_min_strength",
    "password_expiry_days",
    "idle_session_minutes",
    "absolute_session_minutes",
    "api_tokens_allowed",
    "api_token_max_days",
    "billable",
    "enforce_sso",
)
SSO_NEEDS_IDP = "Connect an identity provider first: single sign-on can be enforced only for its directory."


def policy_target(policy: AuthenticationPolicy) -> Target:
    return Target("policy", policy.policy_id, policy.name)


def _generation_bump() -> None:
    """After commit: a new policy generation, so every session re-resolves its limits once."""
    transaction.on_commit(lambda: cache.set(selectors.GENERATION_KEY, uuid.uuid4().hex, timeout=None))


def _clean_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not 1 <= len(name) <= 100:
        raise InvalidName()
    return name


def _name_free(*, org: Organization, name: str, exclude_pk: int | None = None) -> None:
    taken = AuthenticationPolicy.objects.filter(org=org, name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise NameTaken()


def _save_named(policy: AuthenticationPolicy, **kwargs: Any) -> None:
    """Save, turning the case-insensitive name constraint (a concurrent twin) into ``NameTaken``."""
    try:
        with transaction.atomic():
            policy.save(**kwargs)
    except IntegrityError as exc:
        raise NameTaken() from exc


# --- orgs.hooks.directory_created ------------------------------------------------------------------


def default_policy_create(directory: Directory) -> AuthenticationPolicy:
    """``orgs.hooks.directory_created``: every directory gets its default policy (in its transaction).

    The org's creation event (or the directory's) explains it; no event of its own.
    """
    existing = AuthenticationPolicy.objects.filter(directory=directory, is_default=True).first()
    if existing is not None:
        return existing
    base = "Default policy" if directory.kind == Directory.Kind.LOCAL else f"{directory.name} default policy"
    # Directory names need not be unique (two "Okta" tenants) and an admin may have taken the name
    # for a policy of their own; policy names are unique per org, so the next free "… (n)" is used.
    for n in range(1, 1000):
        suffix = "" if n == 1 else f" ({n})"
        name = base[: 100 - len(suffix)] + suffix
        if AuthenticationPolicy.objects.filter(org_id=directory.org_id, name__iexact=name).exists():
            continue
        policy = AuthenticationPolicy(org=directory.org, directory=directory, is_default=True, name=name)
        try:
            _save_named(policy)
        except NameTaken:  # a case SQLite's ASCII-only iexact missed, or a concurrent twin
            continue
        return policy
    raise NameTaken()


# --- policies -------------------------------------------------------------------------------------


@transaction.atomic
def policy_create(
    *, org: Organization, actor: OrgActor, directory_id: str, name: str
) -> AuthenticationPolicy:
    """A new, non-default policy of ``org``'s directory ``directory_id``, with default settings.

    Raises ``NotFound`` (directory of another org, or an actor who may not), ``InvalidName``, ``NameTaken``.
    """
    who = org_actor(org=org, actor=actor)
    directory = selectors.directory_get(org=org, directory_id=directory_id)
    name = _clean_name(name)
    _name_free(org=org, name=name)
    policy = AuthenticationPolicy(org=org, directory=directory, name=name, is_default=False)
    _save_named(policy)
    event_record(
        action="org:policy:created",
        actor=who,
        org_id=org.org_id,
        targets=[policy_target(policy)],
        details={"directory": directory.name, "directory_id": directory.directory_id},
    )
    return policy


def _policy_for_update(*, org: Organization, policy_id: str) -> AuthenticationPolicy:
    """``org``'s policy ``policy_id``, locked, as committed. Raises ``NotFound``, also when a
    concurrent request deleted it while this one waited for the lock.

    What a change compares with must be read under the lock: two renames (or deletes) sent at once
    both read the policy before either committed, and each recorded its change."""
    policy = selectors.policy_get(org=org, policy_id=policy_id)
    locked = (
        AuthenticationPolicy.objects.select_for_update()
        .select_related("directory", "org")
        .filter(pk=policy.pk)
        .first()
    )
    if locked is None:
        raise NotFound()
    return locked


@transaction.atomic
def policy_rename(*, org: Organization, actor: OrgActor, policy_id: str, name: str) -> AuthenticationPolicy:
    """Rename ``policy_id``. Raises ``NotFound``, ``InvalidName``, ``NameTaken``."""
    who = org_actor(org=org, actor=actor)
    policy = _policy_for_update(org=org, policy_id=policy_id)
    name = _clean_name(name)
    if name == policy.name:
        return policy
    _name_free(org=org, name=name, exclude_pk=policy.pk)
    previous, policy.name = policy.name, name
    _save_named(policy, update_fields=["name", "updated_at"])
    event_record(
        action="org:policy:renamed",
        actor=who,
        org_id=org.org_id,
        targets=[policy_target(policy)],
        details={"from": previous, "to": name},
    )
    return policy


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("true", "on", "1", 1):
        return True
    if value in ("false", "off", "0", 0, ""):
        return False
    return None


def settings_validate(policy: AuthenticationPolicy, changes: dict[str, Any]) -> dict[str, Any]:
    """The settings of ``policy`` with ``changes`` applied; raises ``InvalidSetting`` with every error."""
    errors: dict[str, str] = {}
    unknown = sorted(set(changes) - set(SETTINGS))
    if unknown:
        errors["settings"] = f"Unknown setting: {', '.join(unknown)}."
    values = {key: getattr(policy, key) for key in SETTINGS}
    ranges = {
        "password_min_length": (8, 100, "Minimum password length must be 8 to 100 characters."),
        "password_min_strength": (0, 4, "Minimum password strength must be 0 to 4."),
        "idle_session_minutes": (15, 30 * DAY, "The idle limit must be 15 minutes to 30 days."),
        "absolute_session_minutes": (15, 90 * DAY, "The absolute limit must be 15 minutes to 90 days."),
        "api_token_max_days": (1, 365, "The maximum API token lifetime must be 1 to 365 days."),
    }
    for key, value in changes.items():
        if key == "two_step":
            if value not in AuthenticationPolicy.TwoStep.values:
                errors[key] = "Two-step verification must be optional or mandatory."
            else:
                values[key] = value
        elif key in ranges:
            low, high, message = ranges[key]
            number = _as_int(value)
            if number is None or not low <= number <= high:
                errors[key] = message
            else:
                values[key] = number
        elif key == "password_expiry_days":
            number = _as_int(value)
            if number not in EXPIRY_CHOICES:
                errors[key] = "Password expiry must be never, or 30, 60, 90, 180 or 365 days."
            else:
                values[key] = number
        elif key in ("api_tokens_allowed", "billable", "enforce_sso"):
            flag = _as_bool(value)
            if flag is None:
                errors[key] = "Choose yes or no."
            else:
                values[key] = flag
    if not errors:
        if values["absolute_session_minutes"] < values["idle_session_minutes"]:
            errors["absolute_session_minutes"] = "The absolute limit can't be shorter than the idle limit."
        local_default = policy.is_default and policy.directory.kind == Directory.Kind.LOCAL
        if not values["billable"] and not local_default:
            errors["billable"] = "Only the local directory's default policy can be non-billable."
        if values["enforce_sso"]:
            if policy.directory.kind != Directory.Kind.IDP:
                errors["enforce_sso"] = SSO_NEEDS_IDP
            elif not values["billable"]:
                errors["enforce_sso"] = "A non-billable policy can't enforce single sign-on."
    if errors:
        raise InvalidSetting(errors)
    return values


@transaction.atomic
def policy_update(
    *, org: Organization, actor: OrgActor, policy_id: str, settings: dict[str, Any]
) -> AuthenticationPolicy:
    """Change some of ``policy_id``'s settings (keys of ``SETTINGS``); all or nothing.

    Records ``org:policy:updated`` with each changed setting's ``from``/``to`` (no event when nothing
    changes). Current sessions are not cut: new limits apply from the next request, a new 2SV or
    password rule at the next sign-in. Raises ``NotFound`` or ``InvalidSetting``.
    """
    who = org_actor(org=org, actor=actor)
    policy = _policy_for_update(org=org, policy_id=policy_id)
    values = settings_validate(policy, settings)
    changed = {
        key: {"from": getattr(policy, key), "to": value}
        for key, value in values.items()
        if getattr(policy, key) != value
    }
    if not changed:
        return policy
    for key, change in changed.items():
        setattr(policy, key, change["to"])
    policy.save(update_fields=[*changed, "updated_at"])
    event_record(
        action="org:policy:updated",
        actor=who,
        org_id=org.org_id,
        targets=[policy_target(policy)],
        details={"changed": changed},
    )
    _generation_bump()
    return policy


@transaction.atomic
def policy_delete(*, org: Organization, actor: OrgActor, policy_id: str) -> int:
    """Delete a non-default policy; its members go back to their directory's default. Returns how many.

    Raises ``NotFound`` or ``DefaultPolicyProtected``.
    """
    who = org_actor(org=org, actor=actor)
    policy = _policy_for_update(org=org, policy_id=policy_id)
    if policy.is_default:
        raise DefaultPolicyProtected()
    moved = PolicyMember.objects.filter(policy=policy).count()
    target = policy_target(policy)
    policy.delete()  # cascades to its PolicyMember rows: the default applies again
    event_record(
        action="org:policy:deleted",
        actor=who,
        org_id=org.org_id,
        targets=[target],
        details={"members_moved_to_default": moved, "directory": policy.directory.name},
    )
    _generation_bump()
    return moved


@transaction.atomic
def policy_members_move(*, org: Organization, actor: OrgActor, policy_id: str, account_ids: list[str]) -> int:
    """Put the managed accounts ``account_ids`` under ``policy_id``; all or nothing. Returns how many.

    Only accounts ``org`` manages in the policy's own directory, at most 500 per call. Moving to the
    directory's default deletes their ``PolicyMember`` rows. Raises ``NotFound`` or ``MoveRefused``.
    """
    who = org_actor(org=org, actor=actor)
    policy = _policy_for_update(org=org, policy_id=policy_id)
    ids = list(dict.fromkeys(public_id_lookup(a) for a in account_ids))
    if not ids:
        raise MoveRefused("Choose at least one account.")
    if len(ids) > MOVE_MAX:
        raise MoveRefused(f"Move at most {MOVE_MAX} accounts at a time.")
    in_directory = OrgUser.objects.filter(org=org, is_managed=True, account__account_id__in=ids)
    if policy.directory.kind == Directory.Kind.LOCAL:
        in_directory = in_directory.filter(Q(directory=policy.directory) | Q(directory__isnull=True))
    else:
        in_directory = in_directory.filter(directory=policy.directory)
    found = list(in_directory.select_related("account"))
    if len(found) != len(ids):
        missing = len(ids) - len(found)
        raise MoveRefused(
            f"{missing} of these accounts {'is' if missing == 1 else 'are'} not managed in the "
            f"{policy.directory.name}: a policy applies only to its own directory's accounts."
        )
    accounts = [row.account for row in found]
    _members_place(policy, accounts)
    event_record(
        action="org:policy:members_moved",
        actor=who,
        org_id=org.org_id,
        targets=[policy_target(policy), *(Target.account(a) for a in accounts[:50])],
        details={"count": len(accounts), "account_ids": [a.account_id for a in accounts]},
    )
    _generation_bump()
    return len(accounts)


def _members_place(policy: AuthenticationPolicy, accounts: list[Account]) -> None:
    """Take ``accounts`` out of their policies and, unless ``policy`` is the default, into it.

    A concurrent move of one of them places it after our delete ran (PostgreSQL: our insert waits
    for it, then fails on the one-policy-per-account constraint). Only this savepoint rolls back;
    the other move's rows are visible then, so moving again replaces them, as when it came first.
    Raises ``MoveRefused`` should yet another move win that second try.
    """
    for _ in range(2):
        try:
            with transaction.atomic():
                PolicyMember.objects.filter(account__in=accounts).delete()
                if not policy.is_default:
                    PolicyMember.objects.bulk_create(
                        PolicyMember(policy=policy, account=account) for account in accounts
                    )
        except IntegrityError:
            continue
        return
    raise MoveRefused("These accounts are being moved by another request right now; try again.")


# --- break-glass admins ------------------------------------------------------------------------------


def _require_admin(*, org: Organization, actor: Account) -> Actor:
    """Break-glass admins are chosen by org admins (an API key may not)."""
    if not isinstance(actor, Account):
        raise NotFound()
    return org_actor(org=org, actor=actor)


@transaction.atomic
def break_glass_add(*, org: Organization, actor: Account, account_id: str) -> BreakGlassAdmin:
    """Make the org admin ``account_id`` a break-glass admin (at most three per org).

    Raises ``NotFound``, ``BreakGlassRefused`` (not an admin, or already one) or ``TooManyBreakGlass``.
    """
    who = _require_admin(org=org, actor=actor)
    Organization.objects.select_for_update().filter(pk=org.pk).first()  # serialises concurrent adds
    admin = OrgAdmin.objects.select_related("account").filter(
        org=org, account__account_id=public_id_lookup(account_id)
    )
    role = admin.first()
    if role is None:
        raise BreakGlassRefused("Only an admin of this organization can be a break-glass admin.")
    if BreakGlassAdmin.objects.filter(org=org, account=role.account).exists():
        raise BreakGlassRefused("This admin is already a break-glass admin.")
    if BreakGlassAdmin.objects.filter(org=org).count() >= BREAK_GLASS_MAX:
        raise TooManyBreakGlass()
    row = BreakGlassAdmin.objects.create(org=org, account=role.account)
    event_record(
        action="org:break_glass:added",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(role.account)],
    )
    return row


@transaction.atomic
def break_glass_remove(*, org: Organization, actor: Account, account_id: str) -> None:
    """Stop ``account_id`` being a break-glass admin of ``org``. Raises ``NotFound``."""
    who = _require_admin(org=org, actor=actor)
    row = (
        BreakGlassAdmin.objects.select_related("account")
        .filter(org=org, account__account_id=public_id_lookup(account_id))
        .first()
    )
    if row is None:
        raise NotFound()
    row.delete()
    event_record(
        action="org:break_glass:removed",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(row.account)],
    )


# --- admin reset of two-step verification -----------------------------------------------------------


@transaction.atomic
def two_step_reset(*, org: Organization, actor: OrgActor, account_id: str) -> int:
    """Clear the 2SV of a managed account of ``org`` and end its sessions; returns how many ended.

    For a person who lost their phone and their recovery codes. At the next sign-in the account
    enrols again if its policy makes 2SV mandatory. Raises ``NotFound``, or ``NoTwoStepToReset``
    (changing nothing) for an account without 2SV — a reset sent twice resets once.
    """
    who = org_actor(org=org, actor=actor)
    account = selectors.managed_account(org=org, account_id=account_id)
    account = Account.objects.select_for_update().get(pk=account.pk)
    had = account.has_two_step
    if not had:
        raise NoTwoStepToReset()
    two_step.two_step_clear(account=account)
    ended, _ = Session.objects.filter(account=account).delete()
    event_record(
        action="org:account:2sv_reset",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(account)],
        details={"had_two_step": had, "sessions_ended": ended},
    )
    return ended


# --- sign-in and session enforcement ----------------------------------------------------------------


@transaction.atomic
def password_expired_change(*, account: Account, new_password: str) -> None:
    """The expired-password sign-in step's write: set a new password, end every session.

    The flow proved the old password moments ago. Raises ``InvalidPassword`` (Django's validators
    and the policy's length and strength rules, through ``password_check``) or ``PasswordReused``.
    """
    from orgwarden.accounts.exceptions import InvalidPassword

    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.check_password(new_password):
        raise InvalidPassword(["Choose a password different from the one that expired."])
    password_check(password=new_password, account=account)
    account.set_password(new_password)
    account.password_changed_at = timezone.now()
    account.save(update_fields=["password", "password_changed_at"])
    ended, _ = Session.objects.filter(account=account).delete()
    event_record(
        action="account:password:changed",
        actor=Actor.account(account),
        targets=[Target.account(account)],
        details={"other_sessions_ended": ended, "reason": "expired"},
    )


@transaction.atomic
def session_expire(
    *, account: Account, session_key: str, org_id: str, reason: str, limit_minutes: int
) -> None:
    """End a session past its policy's idle or absolute limit (``reason``: idle_timeout/absolute_timeout)."""
    Session.objects.filter(account=account, session_key=stored_session_key(session_key)).delete()
    event_record(
        action="account:session:expired",
        actor=Actor.account(account),
        org_id=org_id,
        targets=[Target.account(account)],
        details={"reason": reason, "limit_minutes": limit_minutes},
    )


def break_glass_signed_in(request, account: Account) -> None:
    """``accounts.hooks.signed_in``: a break-glass admin's sign-in is recorded and its org's admins told.

    Runs inside the sign-in's transaction; the emails leave after commit.
    """
    for org in selectors.break_glass_orgs(account):
        event_record(
            action="account:signin:break_glass",
            actor=Actor.account(account),
            org_id=org.org_id,
            targets=[Target.account(account)],
        )
        others = list(
            OrgAdmin.objects.filter(org=org)
            .exclude(account=account)
            .filter(account__status=Account.Status.ACTIVE)
            .values_list("account__email", flat=True)
        )
        context = {
            "org_name": org.name,
            "name": account.display_name,
            "email": account.email,
            "at": timezone.now(),
            "ip": request.audit_context.ip if hasattr(request, "audit_context") else "",
        }
        for to in others:
            emails.send_after_commit(
                to=to,
                subject=f"Break-glass sign-in to {context['org_name']}",
                template="policies/email/break_glass_signin.txt",
                context=context,
            )
