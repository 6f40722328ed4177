"""Every write of the orgs domain. Each function checks who may do it, writes, and records its event."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from orgwarden.accounts import emails, throttle
from orgwarden.accounts import services as account_services
from orgwarden.accounts.ids import new_secret, public_id_lookup, secret_hash
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs import hooks, selectors
from orgwarden.orgs.exceptions import (
    AlreadyAdmin,
    AlreadySetUp,
    EmailNotVerified,
    InvalidName,
    InvitationForSomeoneElse,
    InvitationInvalid,
    InvitationNotPending,
    LastAdmin,
    NotFound,
    OrgCreationThrottled,
)
from orgwarden.orgs.models import AdminInvitation, Directory, OrgAdmin, Organization
from orgwarden.orgs.services.invitation_limits import invitation_emails_admit

INVITATION_LIFETIME = timedelta(days=7)
# The PostgreSQL advisory lock that makes the one-time setup one at a time: a constant no other
# lock of this project uses (the bytes "owsetup" and a zero, read as one big-endian bigint).
_SETUP_LOCK_KEY = int.from_bytes(b"owsetup\x00", "big")
# Organizations one account may create a day. Each new org has its own hour of first invitations
# (``invitation_limits``): without a bound on the orgs, an account — or a stolen session of one —
# could create org after org and invite new addresses from each without end. Ten a day fits a
# consultant or a service provider setting up its customers' orgs; more is the operator's
# ``orgwarden bootstrap`` (not counted, nor is the installation's first setup).
ORG_CREATIONS = throttle.Throttle("org-create", 24 * 3600, fixed_limit=10)


def org_target(org: Organization) -> Target:
    return Target("org", org.org_id, org.name)


def _require_admin(*, org: Organization, actor: Account) -> None:
    if not selectors.is_org_admin(org=org, account=actor):
        raise NotFound()


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise InvalidName()
    return name


@transaction.atomic
def org_create(*, creator: Account, name: str, require_verified_email: bool = True) -> Organization:
    """Create an organization whose first admin is ``creator``.

    ``require_verified_email=False`` is the operator's own creation (the installation's setup,
    ``orgwarden bootstrap``): the email is not checked, and the creation is not counted against
    ``ORG_CREATIONS``. Raises ``EmailNotVerified``, ``InvalidName`` or ``OrgCreationThrottled``
    (``creator`` created ``ORG_CREATIONS``' number in the last day; nothing is created).
    """
    if require_verified_email and not creator.email_verified:
        raise EmailNotVerified()
    name = _clean_name(name)
    if require_verified_email:  # counted last, once everything else passed: a refusal costs nothing
        wait = throttle.requests_admit([(ORG_CREATIONS, creator.account_id)])
        if wait:
            raise OrgCreationThrottled(
                f"You have created {ORG_CREATIONS.limit} organizations in the last day, the most one "
                f"account may. Wait {throttle.wait_in_words(wait)}, then try again."
            )
    org = Organization.objects.create(name=name)
    directory = Directory.objects.create(org=org, kind=Directory.Kind.LOCAL, name="Local directory")
    hooks.run_directory_created(directory)
    OrgAdmin.objects.create(org=org, account=creator)
    event_record(
        action="org:created",
        actor=Actor.account(creator),
        org_id=org.org_id,
        targets=[org_target(org), Target.account(creator)],
        details={"name": org.name},
    )
    return org


@transaction.atomic
def installation_setup(
    *, email: str, display_name: str, password: str, org_name: str
) -> tuple[Account, Organization]:
    """The installation's first organization and its first admin (a new, verified account).

    Once per installation: raises ``AlreadySetUp`` when any organization exists, checked after
    taking a lock that concurrent setups wait on (a PostgreSQL advisory lock for this transaction;
    on SQLite the transaction's write lock, taken at BEGIN IMMEDIATE), so two setup forms sent at
    the same instant make one organization, and the second is told it is already set up. Raises the
    ``AccountsError`` of ``account_create`` and the ``OrgsError`` of ``org_create`` unchanged.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SETUP_LOCK_KEY])
    if Organization.objects.exists():
        raise AlreadySetUp()
    account = account_services.account_create(
        email=email, display_name=display_name, password=password, email_verified=True, via="setup"
    )
    return account, org_create(creator=account, name=org_name, require_verified_email=False)


@transaction.atomic
def org_rename(*, org: Organization, actor: Account, name: str) -> Organization:
    _require_admin(org=org, actor=actor)
    name = _clean_name(name)
    # The name as committed, under the row's lock: ``org`` was read before this transaction (by the
    # console's middleware), and a rename sent twice at once would otherwise be recorded twice.
    previous = Organization.objects.select_for_update().values_list("name", flat=True).get(pk=org.pk)
    org.name = name
    if previous != org.name:
        org.save(update_fields=["name"])
        event_record(
            action="org:renamed",
            actor=Actor.account(actor),
            org_id=org.org_id,
            targets=[org_target(org)],
            details={"from": previous, "to": org.name},
        )
    return org


@transaction.atomic
def admin_invite(*, org: Organization, actor: Account, email: str) -> AdminInvitation:
    """Invite ``email`` to become an admin of ``org``; the link goes by email after commit.

    Inviting an address that already has a pending invitation replaces it (the old link stops
    working), which is how an admin resends one. The email is counted with every other invitation
    email (``invitation_limits``): 3 an hour to one address; one that replaces a pending
    invitation is sent again and counts against ``actor`` too, a first one against ``org``'s
    first invitations (all its admins and API keys together). Raises ``AlreadyAdmin`` or
    ``InvitationThrottled`` (then nothing changed).
    """
    _require_admin(org=org, actor=actor)
    email = normalize_email(email)
    # One invitation of the org at a time: a concurrent one to the same email would not see this
    # one's new row, revoke nothing, and leave two links working where the later should replace.
    Organization.objects.select_for_update().filter(pk=org.pk).first()
    if OrgAdmin.objects.filter(org=org, account__email=email).exists():
        raise AlreadyAdmin()
    now = timezone.now()
    replaced = AdminInvitation.objects.filter(
        org=org, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    token = new_secret()
    invitation = AdminInvitation.objects.create(
        org=org,
        email=email,
        token_hash=secret_hash(token),
        invited_by=actor,
        expires_at=now + INVITATION_LIFETIME,
    )
    event_record(
        action="org:admin:invited",
        actor=Actor.account(actor),
        org_id=org.org_id,
        targets=[org_target(org), Target("invitation", invitation.invitation_id, email, email)],
        details={"email": email, "expires_at": invitation.expires_at.isoformat()},
    )
    # Last: a refusal rolls back the replaced invitation, the new one and its event.
    invitation_emails_admit(org=org, who=Actor.account(actor), to=[email], again=int(replaced > 0))
    url = emails.absolute_url(reverse("console:invitation", args=[token]))
    org_name, inviter = org.name, actor.display_name
    emails.send_after_commit(
        to=email,
        subject=f"{inviter} invited you to administer {org_name}",
        template="orgs/email/admin_invitation.txt",
        context={
            "org_name": org_name,
            "inviter": inviter,
            "url": url,
            "days": INVITATION_LIFETIME.days,
        },
    )
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, account: Account) -> Organization:
    """Make ``account`` an admin of the invitation's org and burn the invitation.

    The invitation came by email, so accepting it also proves ``account`` reads that mailbox.
    Raises ``InvitationInvalid`` or ``InvitationForSomeoneElse``.
    """
    try:
        invitation = selectors.invitation_by_token(token=token)
    except NotFound as exc:
        raise InvitationInvalid() from exc
    invitation = AdminInvitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_pending:
        raise InvitationInvalid()
    if invitation.email != account.email:
        raise InvitationForSomeoneElse()
    return _invitation_accepted(invitation, account)


@transaction.atomic
def invitation_accept_as_invitee(*, invitation_id: str, account: Account) -> Organization:
    """Accept, without the emailed link, an invitation sent to ``account``'s verified email (the
    console's home lists them: someone invited who signs in without the link).

    A verified email proves the mailbox as the link does. Raises ``InvitationInvalid`` for anything
    else: no such pending invitation to this email, or the email not verified.
    """
    invitation = (
        AdminInvitation.objects.select_for_update()
        .filter(invitation_id=public_id_lookup(invitation_id), email=account.email)
        .first()
    )
    if invitation is None or not invitation.is_pending or not account.email_verified:
        raise InvitationInvalid()
    return _invitation_accepted(invitation, account)


def _invitation_accepted(invitation: AdminInvitation, account: Account) -> Organization:
    org = invitation.org
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    OrgAdmin.objects.get_or_create(org=org, account=account)
    if not account.email_verified:
        account.email_verified = True
        account.save(update_fields=["email_verified"])
    event_record(
        action="org:admin:invitation_accepted",
        actor=Actor.account(account),
        org_id=org.org_id,
        targets=[org_target(org), Target.account(account)],
        details={"invitation_id": invitation.invitation_id},
    )
    return org


@transaction.atomic
def invitation_revoke(*, org: Organization, actor: Account, invitation_id: str) -> None:
    _require_admin(org=org, actor=actor)
    if "\x00" in invitation_id:  # from a URL; PostgreSQL refuses NUL in a query
        raise NotFound()
    invitation = selectors.invitations_pending(org=org).filter(invitation_id=invitation_id).first()
    if invitation is None:
        if AdminInvitation.objects.filter(org=org, invitation_id=invitation_id).exists():
            raise InvitationNotPending()  # a revoke sent twice
        raise NotFound()
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    event_record(
        action="org:admin:invitation_revoked",
        actor=Actor.account(actor),
        org_id=org.org_id,
        targets=[
            org_target(org),
            Target("invitation", invitation.invitation_id, invitation.email, invitation.email),
        ],
    )


@transaction.atomic
def admin_remove(*, org: Organization, actor: Account, account_id: str) -> Account:
    """Remove an admin (an admin may remove themselves); return the account that is no longer one.

    Raises ``LastAdmin`` or ``NotFound``.
    """
    _require_admin(org=org, actor=actor)
    # Lock the org's admin rows so two admins removing each other cannot leave it with none.
    admins = list(OrgAdmin.objects.select_for_update().filter(org=org).select_related("account"))
    role = next((a for a in admins if a.account.account_id == account_id), None)
    if role is None:
        raise NotFound()
    if len(admins) == 1:
        raise LastAdmin()
    role.delete()
    event_record(
        action="org:admin:removed",
        actor=Actor.account(actor),
        org_id=org.org_id,
        targets=[org_target(org), Target.account(role.account)],
    )
    return role.account


def close_refusal_last_admin(account: Account) -> str | None:
    """An account may not close itself while it is the only admin of an organization."""
    from django.db.models import Count

    sole = (
        Organization.objects.filter(admins__account=account)
        .annotate(admin_count=Count("admins"))
        .filter(admin_count=1)
        .values_list("name", flat=True)
        .first()
    )
    if sole:
        return f"You are the only admin of {sole}. Add another admin or remove the organization first."
    return None
