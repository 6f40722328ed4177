"""Sending an invitation to product sites again: ``user_invitation_resend``.

An invited person (``accounts.selectors.invited_not_signed_in``: sent a one-time sign-in link, not
signed in since; "Invited" on Users and in the REST API's ``status``) may never see the email —
a spam filter, a typo fixed since, a link that expired after 24 hours. An admin sends the same
invitation email again, from the person's page in the console or the REST API.

Decisions where the issue is silent:

- The email lists the product sites the person can use in the org now (through its groups), not
  the ones of the first invitation: access granted or revoked since is what the person gets. With
  no site left there is nothing to invite to: ``NoProductAccess`` (invite them to a site instead).
- A person without a usable password gets a fresh one-time sign-in link, and every earlier link
  of theirs that still works expires (``signin_link_create(supersede=True)``): only the newest
  email signs anyone in. A person with a password (set by a reset since) is sent the sign-in page,
  as an existing account is by ``user_invite``.
- Only someone "Invited" is sent it again: a person who signed in since, or was never sent a
  sign-in link, or is deactivated (or scheduled for deletion) is ``NotInvited``; someone who is not
  a user of the org — another org's — is ``NotFound``.
- Throttled (``invitation_limits.invitation_emails_admit``) through the same two counters as
  every invitation email — inviting again counts with resending: 3 an hour per address (a person
  asking twice whether it came is served; an admin, or a stolen admin session or API key, cannot
  fill a mailbox), and 100 an hour per admin or API key (two pages of the Users list resent). A
  refusal changes nothing and records nothing; ``InvitationThrottled.retry_after`` says when to
  try again.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from orgwarden.accounts import services as account_services
from orgwarden.accounts.ids import public_id_lookup
from orgwarden.accounts.models import Account
from orgwarden.accounts.selectors import invited_not_signed_in
from orgwarden.audit.services import Target, event_record
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import NoProductAccess, NotFound, NotInvited
from orgwarden.orgs.models import Organization, OrgUser, ProductSite
from orgwarden.orgs.services.access import invitation_email_queue, site_target, sites_detail
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.orgs.services.invitation_limits import invitation_emails_admit


@dataclass(frozen=True, slots=True)
class InvitationResent:
    account: Account
    sites: list[ProductSite]  # the sites the email lists, by name
    signin_link: bool  # a fresh one-time sign-in link (else the sign-in page)


@transaction.atomic
def user_invitation_resend(*, org: Organization, actor: OrgActor, account_id: str) -> InvitationResent:
    """Send the invitation email again to ``account_id``, an invited user of ``org``.

    Records ``org:user:invitation_resent`` (and, with a new link, ``account:signin_link:created``,
    which says how many earlier links it superseded); the email leaves after commit.

    Raises ``NotFound`` (not a user of ``org``, or ``actor`` may not act on it), ``NotInvited``
    (signed in since, never sent a sign-in link, deactivated), ``NoProductAccess`` (no product
    site of ``org`` left to list) or ``InvitationThrottled`` (too many: wait ``retry_after``).
    """
    who = org_actor(org=org, actor=actor)
    # The person's row in this org, locked: two resends at once send one email after the other,
    # and the second supersedes the first one's link.
    org_user = (
        OrgUser.objects.select_for_update(of=("self",))
        .select_related("account")
        .filter(org=org, account__account_id=public_id_lookup(account_id))
        .annotate(invited=invited_not_signed_in("account_id", "account__last_login"))
        .first()
    )
    if org_user is None:
        raise NotFound()
    account = org_user.account
    shown = idn_unicode(account.email)
    if account.status != Account.Status.ACTIVE or org_user.deletion_scheduled_for is not None:
        raise NotInvited(f"{shown} is deactivated: reactivate them before you send the invitation again.")
    if not org_user.invited:
        raise NotInvited(
            f"{shown} has signed in since the invitation: there is no invitation to send again."
            if account.last_login
            else f"{shown} was never sent a sign-in link: there is no invitation to send again."
        )
    sites = list(
        ProductSite.objects.filter(
            org=org, access__group__org=org, access__group__memberships__account=account
        )
        .distinct()
        .order_by("name", "pk")
    )
    if not sites:
        raise NoProductAccess(
            f"{shown} has no access to any product site of {org.name} any more: "
            "invite them to a product site instead."
        )
    invitation_emails_admit(who=who, to=[account.email], again=1)

    link = not account.has_usable_password()
    url = (
        account_services.signin_link_create(account=account, actor=who, org_id=org.org_id, supersede=True)
        if link
        else ""
    )
    event_record(
        action="org:user:invitation_resent",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(account), *(site_target(s) for s in sites)],
        details={
            "sites": sites_detail(sites),
            "signin_link": link,
        },
    )
    invitation_email_queue(org=org, who=who, to=account.email, sites=sites, signin_url=url, resent=True)
    return InvitationResent(account=account, sites=sites, signin_link=link)
