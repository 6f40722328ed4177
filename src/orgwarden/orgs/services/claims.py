"""Making accounts users of an org, and managed accounts of it (claiming) — and the managed person's side.

Domains claim through these; groups and invitations add external users through ``org_user_ensure``.
``accounts_claim_many`` is the bulk path (a domain turned automatic, a review page's selection).

The second half is what ``OrgsConfig.ready()`` registers into ``accounts.hooks``: a new account on
a domain claimed automatically is managed from birth; a managed account may change its email only
to another of its org's verified domains and may not close itself; ``OrgUser.email`` follows the
account's email. And ``managed_notice_acknowledge``, the "your account is managed" sign-in step's write.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from orgwarden.accounts.models import Account
from orgwarden.accounts.services import account_unverified_take_over
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs import hooks
from orgwarden.orgs.exceptions import ClaimedByAnotherOrg, NotManaged
from orgwarden.orgs.models import Directory, Domain, Organization, OrgUser
from orgwarden.orgs.selectors import domains as domain_selectors

BATCH = 500


def local_directory(org: Organization) -> Directory:
    """The org's local directory; made (with its default policy, through the hook) if missing."""
    directory, created = Directory.objects.get_or_create(
        org=org, kind=Directory.Kind.LOCAL, defaults={"name": "Local directory"}
    )
    if created:
        hooks.run_directory_created(directory)
    return directory


def org_user_ensure(*, org: Organization, account: Account) -> OrgUser:
    """The account's user row in ``org``, created as an external user if missing.

    Bookkeeping for the caller's own change (an invitation, a group membership): the caller
    records the audit event that explains it.
    """
    org_user, _ = OrgUser.objects.get_or_create(org=org, account=account, defaults={"email": account.email})
    return org_user


@transaction.atomic
def account_claim(
    *,
    org: Organization,
    account: Account,
    domain: Domain | None,
    actor: Actor,
    directory: Directory | None = None,
    new_account: bool = False,
    email_proven: bool = False,
    at_sign_up: bool = False,
) -> OrgUser:
    """Make ``account`` a managed account of ``org``, in ``directory`` (an IdP directory that
    provisions it), else in the directory its user row has, else in the local directory.

    Idempotent for an account ``org`` already manages (its row is returned unchanged). Raises
    ``ClaimedByAnotherOrg``. ``new_account``: the caller created ``account`` in this transaction
    with ``managed_by_caller=True``, so it is a user of no org yet and there is nothing to look up
    (were there a row after all, the insert would fail on the unique org and account, not pass).

    An existing account whose email was never verified is taken over first
    (``accounts.services.account_unverified_take_over``: its password, two-step verification,
    sessions and API tokens may be a squatter's), an account ``org`` manages already too: with
    ``email_proven`` (an identity provider speaks for the address: SCIM) its email becomes verified,
    else the address gets a one-time sign-in link. ``at_sign_up``: the account was born in this
    transaction from a self sign-up on a domain claimed automatically — there is no earlier holder
    to take it from, and its product sign-in waits for the email's verification (``oidc.checks``).
    """
    org_user = None
    if not new_account:
        if OrgUser.objects.filter(account=account, is_managed=True).exclude(org=org).exists():
            raise ClaimedByAnotherOrg()
        if not at_sign_up:
            account_unverified_take_over(
                account=account,
                actor=actor,
                org_id=org.org_id,
                via="scim" if email_proven else "claim",
                email_proven=email_proven,
                signin_link_for_org="" if email_proven else org.name,
            )
        org_user = OrgUser.objects.select_for_update().filter(org=org, account=account).first()
    if org_user is not None and org_user.is_managed:
        return org_user
    if org_user is None:
        org_user = OrgUser(org=org, account=account, email=account.email)
    org_user.is_managed = True
    org_user.directory = directory or org_user.directory or local_directory(org)
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
    """Stop managing ``account`` (it stays a user of ``org`` if it has access). Raises ``NotManaged``.

    Every way an org lets go of an account comes here (a domain removed, a domain unverified by
    the re-check). ``org``'s identity providers lose their hold on it in the same transaction
    (``hooks.account_released``): its SCIM records are unlinked (they show under "unlinked
    records") and its SAML identity links to ``org``'s connections are deleted, else the former
    org's IdP could still rename, deactivate or sign in as an account another org may now manage.
    What they undid is in the ``org:account:released`` event's details.
    """
    org_user = OrgUser.objects.select_for_update().filter(org=org, account=account, is_managed=True).first()
    if org_user is None:
        raise NotManaged()
    org_user.is_managed = False
    org_user.domain = None
    org_user.claimed_at = None
    org_user.save(update_fields=["is_managed", "domain", "claimed_at"])
    undone = hooks.run_account_released(org, account)
    event_record(
        action="org:account:released",
        actor=actor,
        org_id=org.org_id,
        targets=[Target.account(account)],
        details={"reason": reason, **undone},
    )


@transaction.atomic
def accounts_claim_many(
    *, org: Organization, accounts: Sequence[Account], domain: Domain | None, actor: Actor
) -> list[Account]:
    """Claim ``accounts`` for ``org`` in batches; returns those newly claimed (one event each).

    The caller has left out accounts another org manages; should one be claimed meanwhile, the
    ``org_user_managed_by_one_org`` constraint fails the whole call (nothing half-applied).
    Accounts ``org`` already manages are skipped. Those whose email was never verified are taken
    over (``accounts.services.account_unverified_take_over``): their credentials are cleared and the
    address gets a one-time sign-in link.
    """
    directory = local_directory(org)
    now = timezone.now()
    claimed: list[Account] = []
    for start in range(0, len(accounts), BATCH):
        batch = accounts[start : start + BATCH]
        existing = {
            row.account_id: row
            for row in OrgUser.objects.select_for_update().filter(
                org=org, account_id__in=[a.pk for a in batch]
            )
        }
        to_create: list[OrgUser] = []
        to_update: list[OrgUser] = []
        for account in batch:
            row = existing.get(account.pk)
            if row is not None and row.is_managed:
                continue
            if row is None:
                row = OrgUser(org=org, account=account, email=account.email)
                to_create.append(row)
            else:
                to_update.append(row)
            row.is_managed = True
            row.directory = row.directory or directory
            row.domain = domain
            row.claimed_at = now
            row.managed_notice_seen_at = None
            claimed.append(account)
        OrgUser.objects.bulk_create(to_create)
        OrgUser.objects.bulk_update(
            to_update, ["is_managed", "directory", "domain", "claimed_at", "managed_notice_seen_at"]
        )
    for account in claimed:
        event_record(
            action="org:account:claimed",
            actor=actor,
            org_id=org.org_id,
            targets=[Target.account(account)],
            details={"domain": domain.name if domain else None},
        )
        if not account.email_verified:
            account_unverified_take_over(
                account=account, actor=actor, org_id=org.org_id, via="claim", signin_link_for_org=org.name
            )
    return claimed


@transaction.atomic
def managed_notice_acknowledge(*, account: Account) -> None:
    """Record that ``account`` saw "your account is managed by …" (shown once per claim).

    Records ``account:managed_notice:acknowledged`` in the managing org's log; a no-op (and no
    event) for an account that is not managed or has already acknowledged.
    """
    org_user = (
        OrgUser.objects.select_for_update()
        .select_related("org")
        .filter(account=account, is_managed=True, managed_notice_seen_at__isnull=True)
        .first()
    )
    if org_user is None:
        return
    org_user.managed_notice_seen_at = timezone.now()
    org_user.save(update_fields=["managed_notice_seen_at"])
    event_record(
        action="account:managed_notice:acknowledged",
        actor=Actor.account(account),
        org_id=org_user.org.org_id,
        targets=[Target.account(account)],
    )


# --- accounts.hooks (registered by OrgsConfig.ready) ------------------------------------------------


def account_created_claim(account: Account, *, managed_by_caller: bool = False) -> None:
    """``accounts.hooks.account_created``: an account born on a domain claimed automatically is managed.

    Nothing to do when the account's creator claims it itself (``managed_by_caller``).
    """
    if managed_by_caller:
        return
    domain = domain_selectors.automatic_domain_for(account.email_domain)
    if domain is not None:
        account_claim(org=domain.org, account=account, domain=domain, actor=Actor.system(), at_sign_up=True)


def _idp_directory(org_user: OrgUser) -> Directory | None:
    """The identity provider's directory ``org_user`` is in, which sends its profile, or ``None``."""
    directory = org_user.directory
    return directory if directory is not None and directory.kind == Directory.Kind.IDP else None


def profile_change_refusal(account: Account) -> str | None:
    """``accounts.hooks.profile_change_refusal``: an account in an identity provider's directory has
    the name that IdP sends (SCIM, and every SAML sign-in), which would overwrite an edit of its own;
    its admins see it read-only too (``orgs.services.users.user_profile_update``)."""
    org_user = domain_selectors.managing_org_user(account=account)
    directory = _idp_directory(org_user) if org_user is not None else None
    if directory is None:
        return None
    return (
        f"{org_user.org.name} manages your name and email through {directory.name}, its identity "
        "provider: ask your admins to change them there."
    )


def email_change_refusal(account: Account, new_email: str) -> str | None:
    """``accounts.hooks.email_change_refusal``: a managed account stays on its org's verified domains;
    one in an identity provider's directory keeps the email that IdP sends (its SCIM record and SAML
    sign-ins find the account by it)."""
    org_user = domain_selectors.managing_org_user(account=account)
    if org_user is None:
        return None
    directory = _idp_directory(org_user)
    if directory is not None:
        return (
            f"{org_user.org.name} manages your email through {directory.name}, its identity provider: "
            "ask your admins to change it there."
        )
    names = domain_selectors.verified_domain_names(org=org_user.org)
    if new_email.rsplit("@", 1)[-1] in names:
        return None
    allowed = ", ".join(names) if names else "none at the moment"
    return (
        f"{org_user.org.name} manages your account: your email must stay on one of its verified "
        f"domains ({allowed})."
    )


def close_refusal(account: Account) -> str | None:
    """``accounts.hooks.close_refusal``: a managed account is closed by its org's admins, not by itself."""
    org_user = domain_selectors.managing_org_user(account=account)
    if org_user is None:
        return None
    return f"{org_user.org.name} manages your account; ask its admins to delete it."


def account_email_changed(account: Account, old_email: str) -> None:
    """``accounts.hooks.account_email_changed``: keep ``OrgUser.email`` (and the claiming domain) in step.

    Runs inside the email change's transaction. An account that moves onto a domain some org
    claims automatically becomes managed by it, as a new account there would be.
    """
    OrgUser.objects.filter(account=account).update(email=account.email)
    name = account.email_domain
    org_user = domain_selectors.managing_org_user(account=account)
    if org_user is not None:
        domain = domain_selectors.verified_domain(org=org_user.org, name=name)
        if org_user.domain_id != (domain.pk if domain else None):
            OrgUser.objects.filter(pk=org_user.pk).update(domain=domain)
        return
    account_created_claim(account)


def managing_org_of_event(actor: Actor, targets) -> str | None:
    """The org that manages the account an account-level event is about (the actor, else the first
    account target), for ``audit.services.org_resolvers``; ``None`` when no org manages it."""
    account_id = actor.id if actor.type == "account" else ""
    if not account_id:
        account_id = next((t.id for t in targets if t.type == "account"), "")
    if not account_id:
        return None
    return (
        OrgUser.objects.filter(account__account_id=account_id, is_managed=True)
        .values_list("org__org_id", flat=True)
        .first()
    )
