"""Every write of SCIM provisioning: the directory key, users and groups the IdP sends, the admin's
decisions (group name clashes, relinking), and the provisioning log.

Writes the IdP makes take the authenticated ``directory`` and record their audit events with the
directory as the actor (``directory_actor``). Admin writes take ``actor`` (an org admin) and check
it with ``org_actor``. Every function raises ``ScimError`` subclasses (mapped to the SCIM error
schema in ``views``) and is atomic: a refused request leaves neither change nor event.

Decisions where the issue is silent:
- The account email is the primary email (``emails[primary eq true]``, else the first email), else
  ``userName``; it must be on one of the org's verified domains.
- A provisioned user is made managed by the org (``account_claim``) and its user row moves to the IdP
  directory, so it joins that directory's default policy.
- An email change whose new address another account already uses does not fail the IdP: the
  record keeps its old account and shows under "unlinked records" until an admin relinks it.
- A directory's SCIM writes act on an account only while its org manages it. When the org releases
  it (``scim_records_release``, through ``orgs.hooks.account_released``) its records are unlinked;
  a record still linked to an account the org no longer manages is unlinked at its next write
  (``_still_managed``), and the write touches only the record.
- A directory does not take an account that another IdP directory of the org manages (409
  ``uniqueness``): each IdP provisions its own people. Taking one from the org's local directory
  is how an org starts provisioning the accounts it claimed by domain, and stays allowed.
- ``active: true`` reactivates an account only when the IdP creates the record or turns its own
  ``active: false`` to true. An account an admin deactivated (or scheduled for deletion) while
  the IdP's record stayed active stays so when the IdP repeats ``active: true``, as Okta does with
  every profile push: a deactivation made in an incident is not undone by a routine update
  (``scim:user:reactivation_skipped``, and the log line says so). ``active: false`` always
  deactivates, whatever the record said before.
- ``active: false`` and DELETE never deactivate a break-glass admin of the org: that account is
  the way in on the day the IdP is broken or compromised, so the IdP must not be able to lock it.
  The request succeeds (an IdP answered with an error retries it forever, and Entra quarantines
  the whole job): the record stores ``active: false``, the account stays active, the provisioning
  log line says so and ``scim:user:deactivation_skipped`` is recorded. Other org admins are
  deactivated like anyone else the IdP provisions: the IdP is the org's source of truth for them,
  and the break-glass admins are the way back in should it be wrong.
- A synced group whose name clashes with a local group is stored, but not mirrored into an org
  group until an admin merges (the local group becomes the synced one) or renames (a new synced
  group named "<name> (<directory>)" or as the admin says). Nested groups are not supported: a
  member that is not a user of this directory is refused (400).
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from orgwarden.accounts import services as account_services
from orgwarden.accounts.exceptions import EmailTaken
from orgwarden.accounts.ids import new_secret, public_id_lookup, secret_hash
from orgwarden.accounts.models import EMAIL_MAX, Account, Session, normalize_email
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs.exceptions import ClaimedByAnotherOrg, NotFound
from orgwarden.orgs.models import Directory, Domain, Group, GroupMember, OrgUser
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.orgs.services.claims import account_claim
from orgwarden.orgs.services.users import _deactivate, _reactivate, org_users_locked
from orgwarden.policies.selectors import is_break_glass
from orgwarden.scim import rows
from orgwarden.scim.exceptions import InvalidValue, KeyReplaced, ResourceNotFound, ScimError, Uniqueness
from orgwarden.scim.models import ScimEmail, ScimGroup, ScimGroupMember, ScimKey, ScimUser
from orgwarden.scim.processors.patch import PatchProcessor
from orgwarden.scim.processors.resources import (
    GROUP_MULTI,
    GROUP_SCALARS,
    USER_COMPLEX,
    USER_MULTI,
    USER_SCALARS,
    ResourceError,
    flatten_group,
    flatten_user,
    text,
)
from orgwarden.scim.selectors import group_flat, user_flat

KEY_PREFIX = "scim_"
MAX_MEMBERS = 10_000

USER_PATCH = PatchProcessor(scalars=USER_SCALARS, multi=USER_MULTI, complex_=USER_COMPLEX)
GROUP_PATCH = PatchProcessor(scalars=GROUP_SCALARS, multi=GROUP_MULTI)


def directory_actor(directory: Directory) -> Actor:
    return Actor(type="directory", id=directory.directory_id, name=directory.name)


def _resource_error(exc: ResourceError) -> ScimError:
    return ScimError(
        exc.message, status=409 if exc.scim_type == "uniqueness" else 400, scim_type=exc.scim_type
    )


# --- the key ------------------------------------------------------------------------------------------


@transaction.atomic
def scim_key_generate(*, org: Any, actor: OrgActor, directory_id: str, replaces: str | None = None) -> str:
    """Make (or replace) the SCIM key of ``org``'s IdP directory; returns the key, shown once.

    The old key stops working at once. ``replaces`` is the prefix of the key the caller means to
    replace ("" for none, the first key); given, a directory whose key is another (or none) is
    refused with ``KeyReplaced`` and keeps it — so a confirmation sent twice, or from a stale
    page, cannot replace the key just shown. Checked under the directory's row lock.
    Raises ``NotFound`` for a directory not of ``org`` or local.
    """
    who = org_actor(org=org, actor=actor)
    directory = (
        Directory.objects.select_for_update()
        .filter(org=org, directory_id=public_id_lookup(directory_id), kind=Directory.Kind.IDP)
        .first()
    )
    if directory is None:
        raise NotFound()
    if replaces is not None:
        current = ScimKey.objects.filter(directory=directory).values_list("prefix", flat=True).first()
        if (current or "") != replaces:
            raise KeyReplaced(
                f"{directory.name}'s key changed since that page was shown (it now begins {current}…): "
                "nothing changed."
                if current
                else f"{directory.name} has no key any more: nothing changed."
            )
    value = new_secret(KEY_PREFIX)  # 256 bits
    replaced = ScimKey.objects.filter(directory=directory).delete()[0] > 0
    ScimKey.objects.create(directory=directory, key_hash=secret_hash(value), prefix=value[:10])
    event_record(
        action="scim:key:generated",
        actor=who,
        org_id=org.org_id,
        targets=[Target("directory", directory.directory_id, directory.name)],
        details={"replaced": replaced},
    )
    return value


# --- users --------------------------------------------------------------------------------------------


def _email_of(flat: dict[str, Any], user_name: str) -> str:
    emails = [e for e in flat.get("emails") or [] if isinstance(e.get("value"), str) and e.get("value")]
    primary = next((e for e in emails if e.get("primary") is True), emails[0] if emails else None)
    email = normalize_email(primary["value"] if primary else user_name)
    if len(email) > EMAIL_MAX:  # Django's validator allows 320 characters, the account's column 254
        raise InvalidValue(
            f"“{email[:60]}…” is longer than an email address can be ({EMAIL_MAX} characters)."
        )
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidValue(
            f"“{email}” is not an email address: send the user's email as the primary email or as userName."
        ) from exc
    return email


def _verified_domain(directory: Directory, email: str) -> Domain:
    name = email.rsplit("@", 1)[1]
    domain = Domain.objects.filter(org=directory.org, name=name, status=Domain.Status.VERIFIED).first()
    if domain is None:
        raise _unverified(directory, name)
    return domain


def _unverified(directory: Directory, name: str) -> InvalidValue:
    return InvalidValue(
        f"{name} is not a verified domain of {directory.org.name}: verify it in the admin console "
        "before provisioning users on it."
    )


def _user_fields(flat: dict[str, Any]) -> dict[str, Any]:
    try:
        user_name = text(flat, "username", 254)
        if not user_name:
            raise InvalidValue("userName is required.")
        if len(user_name.lower()) > 254:  # İ lower-cases to two characters: the key outgrows the name
            raise InvalidValue("userName is longer than 254 characters once in lower case.")
        given, family = text(flat, "name.givenname", 150), text(flat, "name.familyname", 150)
        phones = [
            {k: v for k, v in p.items() if k in ("value", "type", "primary") and _clean_json(v)}
            for p in flat.get("phonenumbers") or []
            if isinstance(p.get("value"), str) and _clean_json(p.get("value"))
        ]
        return {
            "user_name": user_name,
            "user_name_key": user_name.lower(),
            "external_id": text(flat, "externalid", 254),
            "display_name": text(flat, "displayname", 150),
            "given_name": given,
            "family_name": family,
            "formatted_name": text(flat, "name.formatted", 300),
            "title": text(flat, "title", 150),
            "department": text(flat, "department", 150),
            "organization": text(flat, "organization", 150),
            "employee_number": text(flat, "employeenumber", 100),
            "timezone": text(flat, "timezone", 64),
            "preferred_language": text(flat, "preferredlanguage", 64),
            "locale": text(flat, "locale", 64),
            "phone_numbers": phones[:20],
        }
    except ResourceError as exc:
        raise _resource_error(exc) from exc


def _clean_json(value: Any) -> bool:
    """A value PostgreSQL can store in JSON and text: no NUL, a bounded size, a finite number (JSON
    has no NaN or Infinity: a filter's 1e400 is one, and Python's json reads and writes them)."""
    if isinstance(value, str):
        return "\x00" not in value and len(value) <= 254
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, bool | int) or value is None


def _emails(flat: dict[str, Any]) -> list[ScimEmail]:
    out = []
    for element in (flat.get("emails") or [])[:20]:
        value = element.get("value")
        # Its length once lower-cased, as it is stored: İ lower-cases to two characters.
        value = value.strip().lower() if isinstance(value, str) else ""
        if not value or len(value) > 254 or "\x00" in value:
            continue
        kind = element.get("type")
        kind = kind if isinstance(kind, str) and "\x00" not in kind else ""
        out.append(
            ScimEmail(
                value=value,
                type=kind[:64] if isinstance(kind, str) else "",
                primary=element.get("primary") is True,
            )
        )
    return out


def _account_name(fields: dict[str, Any], email: str) -> str:
    name = fields["display_name"] or " ".join(p for p in (fields["given_name"], fields["family_name"]) if p)
    return (name or email.split("@")[0])[:150]


def _org_user(directory: Directory, account: Account) -> OrgUser:
    return (
        OrgUser.objects.select_for_update(of=("self",))
        .select_related("account")
        .get(org=directory.org, account=account)
    )


BREAK_GLASS_KEPT = "A break-glass admin of this organization: the account stays active."
ADMIN_DEACTIVATION_KEPT = (
    "Deactivated by an admin of this organization while this record was active: it stays deactivated "
    "until an admin reactivates it, or the identity provider deactivates and then reactivates the person."
)


def _set_active(directory: Directory, account: Account, active: bool, *, reactivate: bool = True) -> str:
    """Deactivate or reactivate ``account`` (locked in this transaction) when its status differs.

    ``reactivate``: whether the identity provider is turning the person active (a create, or a record
    it had deactivated). An account deactivated by an admin while the IdP's record stayed active is
    left deactivated by an update that merely repeats ``active: true`` (Okta sends it with every
    profile push): a deactivation in the console, and a scheduled deletion, are never undone by an
    IdP that did not change its mind (``scim:user:reactivation_skipped``).

    Returns a note for the provisioning log: ``BREAK_GLASS_KEPT`` when the IdP asked to deactivate a
    break-glass admin of the org, which is left active (``scim:user:deactivation_skipped``),
    ``ADMIN_DEACTIVATION_KEPT`` as above, else "".
    """
    if active != (account.status == Account.Status.DEACTIVATED):
        return ""  # already as the IdP says: no row to lock, nothing to record
    org_user = _org_user(directory, account)
    who = directory_actor(directory)
    if not active:
        if is_break_glass(org_user.account, directory.org):
            event_record(
                action="scim:user:deactivation_skipped",
                actor=who,
                org_id=directory.org.org_id,
                targets=[Target.account(account)],
                details={"reason": "break_glass_admin"},
            )
            return BREAK_GLASS_KEPT
        _deactivate(org=directory.org, who=who, org_user=org_user, message="")
    elif org_user.account.status == Account.Status.DEACTIVATED:
        if not reactivate:
            event_record(
                action="scim:user:reactivation_skipped",
                actor=who,
                org_id=directory.org.org_id,
                targets=[Target.account(account)],
                details={
                    "reason": "deactivated_by_admin",
                    "deletion_scheduled": org_user.deletion_scheduled_for is not None,
                },
            )
            return ADMIN_DEACTIVATION_KEPT
        _reactivate(org_user)
        event_record(
            action="org:account:reactivated",
            actor=who,
            org_id=directory.org.org_id,
            targets=[Target.account(account)],
        )
    return ""


def _still_managed(directory: Directory, user: ScimUser) -> bool:
    """Whether ``user``'s linked account is a managed account of the directory's org.

    A record linked to an account the org no longer manages (released before releases unlinked
    records) is unlinked here, so the write goes on as for any unlinked record: the IdP's changes
    stay on the record and never reach an account another org, or its owner alone, may now hold.
    """
    if user.account_id is None:
        return False
    if OrgUser.objects.filter(org=directory.org, account_id=user.account_id, is_managed=True).exists():
        return True
    user.account = None
    user.link_error = f"{directory.org.name} no longer manages the account this record provisioned."[:300]
    user.save(update_fields=["account", "link_error", "updated_at"])
    return False


def _link(directory: Directory, email: str, domain: Domain, name: str, *, absent: bool = False) -> Account:
    """The account for ``email``: an existing one is linked and made managed, else one is created.

    ``absent``: the caller has just read that no account has ``email`` (in this transaction), so
    there is no row to lock and none is looked up again."""
    org = directory.org
    account = None if absent else Account.objects.select_for_update().filter(email=email).first()
    created = False
    if account is None:
        try:
            account, created = account_services.account_create_or_found(
                email=email,
                display_name=name,
                password=None,
                email_verified=True,
                actor=directory_actor(directory),
                org_id=org.org_id,
                via="scim",
                send_verification_email=False,
                managed_by_caller=True,  # claimed just below, into this directory
            )
        except EmailTaken:  # taken by a concurrent request, and gone again: let the IdP retry
            raise Uniqueness(f"{email} is being changed by another request; try again.") from None
    if not created and ScimUser.objects.filter(account=account, directory__org=org).exists():
        raise Uniqueness(f"{email} is already provisioned by another user record of this organization.")
    if not created:
        elsewhere = (
            OrgUser.objects.filter(org=org, account=account, is_managed=True)
            .filter(directory__kind=Directory.Kind.IDP)
            .exclude(directory=directory)
            .select_related("directory")
            .first()
        )
        if elsewhere is not None:
            raise Uniqueness(
                f"{email} is a managed account of the identity provider directory "
                f"“{elsewhere.directory.name}” of this organization; only that directory provisions it."
            )
    try:
        org_user = account_claim(
            org=org,
            account=account,
            domain=domain,
            actor=directory_actor(directory),
            directory=directory,
            new_account=created,
            # The IdP speaks for the org's verified domain: an existing account whose email was never
            # verified loses what whoever signed up with it set (password, 2SV, sessions, tokens)
            # and its email becomes verified, as a provisioned account's is.
            email_proven=True,
        )
    except ClaimedByAnotherOrg as exc:
        raise Uniqueness(f"{email} is managed by another organization.") from exc
    if (org_user.directory_id, org_user.domain_id) != (directory.pk, domain.pk):  # managed before
        OrgUser.objects.filter(pk=org_user.pk).update(directory=directory, domain=domain)
    return account


def _sync_account(
    directory: Directory, user: ScimUser, email: str, domain: Domain, account: Account | None = None
) -> dict[str, Any]:
    """Copy the provisioned profile (and email) to the linked account; returns what changed.

    ``account`` is the linked account when the caller already holds it locked (a create).
    """
    if account is None:
        account = _account_locked(directory, user.account_id)
    changed: dict[str, Any] = {}
    profile = {
        "display_name": _account_name(
            {
                "display_name": user.display_name,
                "given_name": user.given_name,
                "family_name": user.family_name,
            },
            email,
        ),
        "job_title": user.title,
        "department": user.department,
        "organization": user.organization,
    }
    for field, value in profile.items():
        if getattr(account, field) != value:
            changed[field] = value
            setattr(account, field, value)
    if account.email != email:
        taken = Account.objects.filter(email=email).exclude(pk=account.pk).exists()
        if taken or not _email_moved(account, email):
            user.link_error = (
                f"{email} belongs to another account; this record still points at {account.email}."
            )
        else:
            changed["email"] = email
            account.email = email
            account.email_verified = True
            OrgUser.objects.filter(account=account).update(email=email)
            OrgUser.objects.filter(org=directory.org, account=account).update(domain=domain)
            Session.objects.filter(account=account).delete()
            user.link_error = ""
    elif user.link_error:
        user.link_error = ""
    if changed:
        account.save(update_fields=list(changed))
    user.account = account
    return changed


def _account_locked(directory: Directory, account_pk: int) -> Account:
    """The linked account, locked in the order the console locks it: its org user row first, then
    the account (``orgs.services.users.org_users_locked``). An account without a user row in the org
    (a release under way) has only its own row to lock."""
    org_user = org_users_locked(directory.org).filter(account_id=account_pk).first()
    if org_user is not None:
        return org_user.account
    return Account.objects.select_for_update().get(pk=account_pk)


def _email_moved(account: Account, email: str) -> bool:
    """Give ``account`` the (verified) ``email``; ``False`` when a sign-up or another account took it
    since it was checked (PostgreSQL: the update waited for it), which rolls back only this."""
    try:
        with transaction.atomic():
            Account.objects.filter(pk=account.pk).update(email=email, email_verified=True)
    except IntegrityError:
        return False
    return True


def _user_lookup(directory: Directory, scim_id: str) -> ScimUser:
    user = (
        ScimUser.objects.select_for_update()
        .filter(directory=directory, scim_id=public_id_lookup(scim_id))
        .first()
    )
    if user is None:
        raise ResourceNotFound("User")
    return user


def _user_store(
    directory: Directory, user: ScimUser | None, flat: dict[str, Any], *, active_removed: bool = False
) -> ScimUser:
    fields = _user_fields(flat)
    email = _email_of(flat, fields["user_name"])
    account_absent = False
    if user is None:  # a create: the domain, the userName and the email checked in one statement
        domain, taken, account_pk = rows.create_checks(
            directory, domain_name=email.rsplit("@", 1)[1], user_name_key=fields["user_name_key"], email=email
        )
        if domain is None:
            raise _unverified(directory, email.rsplit("@", 1)[1])
        account_absent = account_pk is None
    else:
        domain = _verified_domain(directory, email)
        taken = (
            ScimUser.objects.filter(directory=directory, user_name_key=fields["user_name_key"])
            .exclude(pk=user.pk)
            .exists()
        )
    if taken:
        raise Uniqueness(f"A user with userName {fields['user_name']} already exists.")
    created = user is None
    # What the IdP's record said before this write: ``active: true`` reactivates only a record the
    # IdP itself had deactivated (``_set_active``).
    was_inactive = not created and user.active is False
    active = flat.get("active")
    if created:
        user = ScimUser(directory=directory)
    for name, value in fields.items():
        setattr(user, name, value)
    if active is not None:
        user.active = bool(active)
    elif active_removed:
        user.active = None
    account = (
        _link(directory, email, domain, _account_name(fields, email), absent=account_absent)
        if created
        else None
    )
    if not created:
        _still_managed(directory, user)
    if account is not None:
        user.account = account
    try:
        if created:
            rows.insert(user)  # what save() sends, without building it through the ORM
        else:
            user.save()
    except IntegrityError as exc:  # a concurrent create with the same userName won the race
        # Nothing runs after the failure: Uniqueness leaves the service's atomic block, which rolls
        # back (to its savepoint when nested), so the insert needs no savepoint of its own.
        raise Uniqueness(f"A user with userName {fields['user_name']} already exists.") from exc
    emails = _emails(flat)
    for row in emails:
        row.user = user
    if created:
        for row in emails:
            rows.insert(row)
        # A new user is in no group yet: the answer needs no query for its relations.
        rows.relations_attach(user, emails=emails, memberships=[])
    else:
        ScimEmail.objects.filter(user=user).delete()
        ScimEmail.objects.bulk_create(emails)
    changed: dict[str, Any] = {}
    if user.account_id is not None:
        link_error = user.link_error
        changed = _sync_account(directory, user, email, domain, account)
        if user.link_error != link_error:
            user.save(update_fields=["link_error"])
        if user.active is not None:
            user.log_note = _set_active(
                directory, user.account, user.active, reactivate=created or was_inactive
            )
    event_record(
        action="scim:user:created" if created else "scim:user:updated",
        actor=directory_actor(directory),
        org_id=directory.org.org_id,
        targets=[Target.account(user.account)]
        if user.account
        else [Target("scim_user", user.scim_id, user.user_name)],
        details={
            "scim_id": user.scim_id,
            "userName": user.user_name,
            "active": user.active,
            "changed": sorted(changed),
        },
    )
    return user


@transaction.atomic
def scim_user_create(*, directory: Directory, data: Any) -> ScimUser:
    """POST /Users: provision a user (and its managed account). Raises ``ScimError``."""
    try:
        flat = flatten_user(data)
    except ResourceError as exc:
        raise _resource_error(exc) from exc
    return _user_store(directory, None, flat)


@transaction.atomic
def scim_user_replace(*, directory: Directory, scim_id: str, data: Any) -> ScimUser:
    """PUT /Users/{id}: attributes left out are cleared, but a PUT without ``active`` keeps it."""
    user = _user_lookup(directory, scim_id)
    try:
        flat = flatten_user(data)
    except ResourceError as exc:
        raise _resource_error(exc) from exc
    return _user_store(directory, user, flat)


@transaction.atomic
def scim_user_patch(*, directory: Directory, scim_id: str, body: Any) -> ScimUser:
    """PATCH /Users/{id} (see ``processors.patch``). Raises ``ScimError``."""
    user = _user_lookup(directory, scim_id)
    try:
        flat = USER_PATCH.apply(user_flat(user), body)
    except ResourceError as exc:
        raise _resource_error(exc) from exc
    return _user_store(directory, user, flat, active_removed="active" not in flat)


@transaction.atomic
def scim_user_delete(*, directory: Directory, scim_id: str) -> ScimUser:
    """DELETE /Users/{id}: the user is deactivated and stays readable with ``active: false``."""
    user = _user_lookup(directory, scim_id)
    user.active = False
    user.save(update_fields=["active", "updated_at"])
    if _still_managed(directory, user):
        user.log_note = _set_active(directory, user.account, False)
    event_record(
        action="scim:user:deleted",
        actor=directory_actor(directory),
        org_id=directory.org.org_id,
        targets=[Target.account(user.account)]
        if user.account
        else [Target("scim_user", user.scim_id, user.user_name)],
        details={"scim_id": user.scim_id, "userName": user.user_name},
    )
    return user


def _in_directory(directory_id: str | None) -> dict[str, str]:
    return {} if directory_id is None else {"directory__directory_id": public_id_lookup(directory_id)}


@transaction.atomic
def scim_user_relink(*, org: Any, actor: OrgActor, scim_id: str, directory_id: str | None = None) -> ScimUser:
    """Point an unlinked SCIM record at the account its current email names (console action); with
    ``directory_id`` (the console's URL names it), only a record of that directory.

    Raises ``NotFound`` or ``InvalidValue`` (linked already, no such account, or another record's).
    """
    who = org_actor(org=org, actor=actor)
    user = (
        ScimUser.objects.select_for_update()
        .filter(directory__org=org, scim_id=public_id_lookup(scim_id))
        .filter(**_in_directory(directory_id))
        .first()
    )
    if user is None:
        raise NotFound()
    if user.account_id is not None and not user.link_error:  # a relink sent twice: nothing to do
        raise InvalidValue(f"{user.user_name} is linked already: there is nothing to relink.")
    directory = user.directory
    email = _email_of(user_flat(user), user.user_name)
    domain = _verified_domain(directory, email)
    account = Account.objects.filter(email=email).first()
    if account is None:
        raise InvalidValue(f"No account uses {email}.")
    if ScimUser.objects.filter(account=account).exclude(pk=user.pk).exists():
        raise InvalidValue(f"{email} is linked to another provisioned record.")
    _still_managed(directory, user)  # a record of an account released since is linked (claimed) anew
    user.account = (
        _link(directory, email, domain, account.display_name) if user.account_id != account.pk else account
    )
    user.link_error = ""
    user.save(update_fields=["account", "link_error", "updated_at"])
    _sync_account(directory, user, email, domain)
    event_record(
        action="scim:user:relinked",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(account)],
        details={"scim_id": user.scim_id, "directory": directory.directory_id},
    )
    return user


def scim_records_release(org: Any, account: Account) -> dict[str, Any]:
    """``orgs.hooks.account_released``: unlink ``account`` from ``org``'s SCIM user records, and take
    it out of ``org``'s synced groups.

    Runs in ``account_release``'s transaction, which records the event; returns its details (the
    SCIM ids unlinked and the synced groups left; nothing when there were none). The records stay,
    with ``link_error`` saying why, under "unlinked records"; their places in the IdP's groups stay
    too (``ScimGroupMember``), so relinking a record puts its account back at the group's next sync.
    A synced group's members are what the IdP says, and the IdP no longer speaks for this account:
    the product access those groups gave ends with the release, not at the group's next sync (which
    may never come, for a group the IdP does not change). Local groups keep it.
    """
    records = ScimUser.objects.select_for_update().filter(directory__org=org, account=account)
    scim_ids = sorted(records.values_list("scim_id", flat=True))
    details: dict[str, Any] = {}
    if scim_ids:
        ScimUser.objects.filter(scim_id__in=scim_ids).update(
            account=None,
            link_error=f"{org.name} released the account this record provisioned ({account.email})."[:300],
            updated_at=timezone.now(),
        )
        details["scim_records_unlinked"] = scim_ids
    synced = GroupMember.objects.filter(account=account, group__org=org, group__directory__isnull=False)
    left = sorted(synced.values_list("group__group_id", flat=True))
    if left:
        synced.delete()
        details["synced_groups_left"] = left
    return details


# --- groups -------------------------------------------------------------------------------------------


def _group_lookup(directory: Directory, scim_id: str) -> ScimGroup:
    group = (
        ScimGroup.objects.select_for_update()
        .filter(directory=directory, scim_id=public_id_lookup(scim_id))
        .first()
    )
    if group is None:
        raise ResourceNotFound("Group")
    return group


def _member_users(directory: Directory, flat: dict[str, Any]) -> list[ScimUser]:
    values = []
    for element in flat.get("members") or []:
        value = element.get("value")
        if not isinstance(value, str) or not value or "\x00" in value:
            raise InvalidValue("Each member needs the id of a user as its value.")
        values.append(value)
    if len(values) > MAX_MEMBERS:
        raise ScimError(f"Send at most {MAX_MEMBERS} members per request.", status=400, scim_type="tooMany")
    wanted = set(values)
    users = list(ScimUser.objects.filter(directory=directory, scim_id__in=wanted))
    unknown = wanted - {u.scim_id for u in users}
    if unknown:
        raise InvalidValue(
            f"No user of this directory has the id {sorted(unknown)[0]} (nested groups are not supported)."
        )
    return users


def _mirror_members(group: ScimGroup, users: list[ScimUser]) -> tuple[int, int]:
    """Make the synced org group's members the linked accounts of ``users``; returns (added, removed)."""
    if group.group_id is None:
        return 0, 0
    wanted = {u.account_id for u in users if u.account_id is not None}
    have = set(GroupMember.objects.filter(group_id=group.group_id).values_list("account_id", flat=True))
    GroupMember.objects.bulk_create(
        [GroupMember(group_id=group.group_id, account_id=a) for a in wanted - have]
    )
    removed = GroupMember.objects.filter(group_id=group.group_id, account_id__in=have - wanted).delete()[0]
    return len(wanted - have), removed


def _name_taken(directory: Directory, name: str, group: ScimGroup | None) -> Group | None:
    query = Group.objects.annotate(lower=Lower("name")).filter(org=directory.org, lower=name.lower())
    if group is not None and group.group_id is not None:
        query = query.exclude(pk=group.group_id)
    return query.first()


def _refuse_a_synced_name(directory: Directory, name: str, group: ScimGroup | None) -> None:
    """Raise ``Uniqueness`` when another group of ``directory`` has ``name`` (in any case)."""
    same = ScimGroup.objects.filter(directory=directory, display_name__iexact=name)
    if group is not None and group.pk is not None:
        same = same.exclude(pk=group.pk)
    if same.exists():
        raise Uniqueness(f"A group named {name} already exists.")


def _group_store(directory: Directory, group: ScimGroup | None, flat: dict[str, Any]) -> ScimGroup:
    try:
        name = text(flat, "displayname", 255)
        external_id = text(flat, "externalid", 254)
    except ResourceError as exc:
        raise _resource_error(exc) from exc
    if not name:
        raise InvalidValue("displayName is required.")
    _refuse_a_synced_name(directory, name, group)
    users = _member_users(directory, flat)
    created = group is None
    if created:
        group = ScimGroup(directory=directory)
    renamed = group.display_name != name
    group.display_name = name
    group.external_id = external_id
    if renamed:
        taken = _name_taken(directory, name, group)
        if taken is not None:
            # A create of this directory that committed the name after the check above (PostgreSQL
            # reads each statement afresh) is visible now with its org group: answer as if it had
            # come first, not with a synced group waiting to be merged into its twin.
            _refuse_a_synced_name(directory, name, group)
        if taken is None:
            try:
                with transaction.atomic():  # what a lost race (below) rolls back, and only that
                    if group.group_id is None:
                        group.group = Group.objects.create(org=directory.org, name=name, directory=directory)
                    else:
                        Group.objects.filter(pk=group.group_id).update(name=name)
            except IntegrityError:
                # A concurrent request committed a group of that name after the check (PostgreSQL:
                # the write waited for it). Now that it is visible, answer as if it had come first.
                _refuse_a_synced_name(directory, name, group)
                taken = _name_taken(directory, name, group)
                if taken is None:  # … and it is gone again: let the identity provider retry
                    raise Uniqueness(
                        f"The group name {name} is being changed by another request; try again."
                    ) from None
        group.clash_group = taken  # waits for an admin; an existing synced group keeps its old name
    group.save()
    ScimGroupMember.objects.filter(group=group).exclude(user__in=users).delete()
    have = set(ScimGroupMember.objects.filter(group=group).values_list("user_id", flat=True))
    ScimGroupMember.objects.bulk_create(
        [ScimGroupMember(group=group, user=u) for u in users if u.pk not in have]
    )
    added, removed = _mirror_members(group, users)
    event_record(
        action="scim:group:created" if created else "scim:group:updated",
        actor=directory_actor(directory),
        org_id=directory.org.org_id,
        targets=[Target("group", group.group.group_id if group.group else group.scim_id, name)],
        details={
            "scim_id": group.scim_id,
            "members": len(users),
            "members_added": added,
            "members_removed": removed,
            "name_clash": group.clash_group.name if group.clash_group else None,
        },
    )
    return group


@transaction.atomic
def scim_group_create(*, directory: Directory, data: Any) -> ScimGroup:
    """POST /Groups. Raises ``ScimError`` (an unknown member id is a 400, never a 500)."""
    try:
        flat = flatten_group(data)
    except ResourceError as exc:
        raise _resource_error(exc) from exc
    return _group_store(directory, None, flat)


@transaction.atomic
def scim_group_replace(*, directory: Directory, scim_id: str, data: Any) -> ScimGroup:
    group = _group_lookup(directory, scim_id)
    try:
        flat = flatten_group(data)
    except ResourceError as exc:
        raise _resource_error(exc) from exc
    return _group_store(directory, group, flat)


@transaction.atomic
def scim_group_patch(*, directory: Directory, scim_id: str, body: Any) -> ScimGroup:
    group = _group_lookup(directory, scim_id)
    try:
        flat = GROUP_PATCH.apply(group_flat(group), body)
    except ResourceError as exc:
        raise _resource_error(exc) from exc
    return _group_store(directory, group, flat)


@transaction.atomic
def scim_group_delete(*, directory: Directory, scim_id: str) -> None:
    """DELETE /Groups/{id}: the group and its synced org group (with its product access) go."""
    group = _group_lookup(directory, scim_id)
    target = Target("group", group.group.group_id if group.group else group.scim_id, group.display_name)
    if group.group_id is not None:
        Group.objects.filter(pk=group.group_id, directory=directory).delete()
    group.delete()
    event_record(
        action="scim:group:deleted",
        actor=directory_actor(directory),
        org_id=directory.org.org_id,
        targets=[target],
        details={"scim_id": scim_id},
    )


@transaction.atomic
def scim_group_clash_resolve(
    *,
    org: Any,
    actor: OrgActor,
    scim_id: str,
    decision: str,
    new_name: str = "",
    directory_id: str | None = None,
) -> Group:
    """An admin's decision on a synced group whose name clashes with a local group (with
    ``directory_id``, the console's URL, only a group of that directory).

    ``merge``: the local group becomes the synced group (its members are replaced by the IdP's).
    ``rename``: a new synced group named ``new_name`` (default "<name> (<directory>)"). Returns the
    synced org group. Raises ``NotFound`` or ``InvalidValue`` (also: no clash to resolve, any more).
    """
    who = org_actor(org=org, actor=actor)
    group = (
        ScimGroup.objects.select_for_update()
        .select_related("directory", "clash_group")
        .filter(directory__org=org, scim_id=public_id_lookup(scim_id), clash_group__isnull=False)
        .filter(**_in_directory(directory_id))
        .first()
    )
    if group is None:
        name = (
            ScimGroup.objects.filter(directory__org=org, scim_id=public_id_lookup(scim_id))
            .filter(**_in_directory(directory_id))
            .values_list("display_name", flat=True)
            .first()
        )
        if name is not None:  # a decision sent twice, or a group that never clashed
            raise InvalidValue(f"{name} has no name clash to resolve (any more).")
        raise NotFound()
    directory = group.directory
    if decision == "merge":
        if group.clash_group.directory_id not in (None, directory.pk):
            raise InvalidValue("That group is synced from another directory: rename instead.")
        if group.group_id is not None:
            Group.objects.filter(pk=group.group_id).delete()
        Group.objects.filter(pk=group.clash_group_id).update(directory=directory)
        group.group = group.clash_group
    elif decision == "rename":
        name = " ".join((new_name or f"{group.display_name} ({directory.name})").split())[:255]
        taken = InvalidValue(f"Choose a name no other group uses ({name or 'empty'}).")
        if not name or _name_taken(directory, name, group) is not None:
            raise taken
        try:
            with transaction.atomic():  # a group of that name committed since the check fails only this
                if group.group_id is None:
                    group.group = Group.objects.create(org=org, name=name, directory=directory)
                else:
                    Group.objects.filter(pk=group.group_id).update(name=name)
        except IntegrityError:
            raise taken from None
    else:
        raise InvalidValue("Choose merge or rename.")
    clash_name = group.clash_group.name
    group.clash_group = None
    group.save(update_fields=["group", "clash_group", "updated_at"])
    _mirror_members(group, [m.user for m in group.members.select_related("user")])
    event_record(
        action="scim:group:clash_resolved",
        actor=who,
        org_id=org.org_id,
        targets=[Target("group", group.group.group_id, group.group.name)],
        details={"decision": decision, "clashed_with": clash_name, "scim_id": group.scim_id},
    )
    return group.group


# --- the provisioning log -----------------------------------------------------------------------------


def provisioning_log_record(
    *,
    directory: Directory,
    method: str,
    resource: str,
    resource_id: str,
    operation: str,
    status: int,
    error: str,
    behind: bool = False,
) -> None:
    """One line of the directory's provisioning log: in a write's own transaction when it succeeds
    (one commit), after its rollback when it is refused (so a refused request is logged too). The
    log is itself the record: no audit event. One plain INSERT (``rows.log_insert``): every SCIM
    request writes one. ``behind`` for a read's line: see ``rows.log_insert``."""
    rows.log_insert(
        behind=behind,
        directory_id=directory.pk,
        at=timezone.now(),
        method=method[:8],
        resource=resource[:16],
        resource_id=resource_id.replace("\x00", "")[:64],
        operation=operation[:16],
        status=status,
        error=error.replace("\x00", "")[:500],
    )
