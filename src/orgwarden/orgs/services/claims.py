"""Making accounts users of an org, and managed accounts of it (claiming) — the primitives.

Domains claim through these; groups and invitations add external users through ``org_user_ensure``.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from orgwarden.accounts.models import Account
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs.exceptions import ClaimedByAnotherOrg, NotManaged
from orgwarden.orgs.models import Directory, Domain, Organization, OrgUser


def local_directory(org: Organization) -> Directory:
    directory, _ = Directory.objects.get_or_create(
        org=org, kind=Directory.Kind.LOCAL, defaults={"name": "Local directory"}
    )
    return directory


def org_user_ensure(*, org: Organization, account: Account) -> OrgUser:
    """The account's user row in ``org``, created as an external user if missing.

    Bookkeeping for the caller's own change (an invitation, a group membership): the caller
    records the audit event that explains it.
    """
    org_user, _ = OrgUser.objects.get_or_create(org=org, account=account, defaults={"email": account.email})
    return org_user


@transaction.atomic
def account_claim(*, org: Organization, account: Account, domain: Domain | None, actor: Actor) -> OrgUser:
    """Make ``account`` a managed account of ``org``, in its local directory.

    Idempotent for an account ``org`` already manages. Raises ``ClaimedByAnotherOrg``.
    """
    if OrgUser.objects.filter(account=account, is_managed=True).exclude(org=org).exists():
        raise ClaimedByAnotherOrg()
    org_user = OrgUser.objects.select_for_update().filter(org=org, account=account).first()
    if org_user is not None and org_user.is_managed:
        return org_user
    if org_user is None:
        org_user = OrgUser(org=org, account=account, email=account.email)
    org_user.is_managed = True
    org_user.directory = org_user.directory or local_directory(org)
    org_user.domain = domain
    org_user.claimed_at = timezone.now()
    org_user.managed_notice_seen_at = None
    org_user.save()
    event_record(
        action="org:account:claimed",
        actor=actor,
        org_id=org.org_id,
        targets=[Target.account(account)],
        details={"domain": domain.name if domain else None},
    )
    return org_user


@transaction.atomic
def account_release(*, org: Organization, account: Account, actor: Actor, reason: str) -> None:
    """Stop managing ``account`` (it stays a user of ``org`` if it has access). Raises ``NotManaged``."""
    org_user = OrgUser.objects.select_for_update().filter(org=org, account=account, is_managed=True).first()
    if org_user is None:
        raise NotManaged()
    org_user.is_managed = False
    org_user.domain = None
    org_user.claimed_at = None
    org_user.save(update_fields=["is_managed", "domain", "claimed_at"])
    event_record(
        action="org:account:released",
        actor=actor,
        org_id=org.org_id,
        targets=[Target.account(account)],
        details={"reason": reason},
    )
