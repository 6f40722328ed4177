"""Sending an invitation to product sites again: ``user_invitation_resend`` for one person,
``users_invitation_resend`` for several at once (Users, filtered to Invited → Resend invitation).

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
- Several at once: the same rule (``selectors.invitations.resend_sites``) and the same email,
  event and new link for each person as one at a time — but whoever it refuses (signed in since,
  deactivated, no site left) is passed over and named with the reason, not a refusal of the
  rest: a list filtered to Invited goes stale as people sign in, and those still waiting should
  not wait for the admin to find who did. The emails are counted together, all or nothing: past a
  limit (3 an hour to an address, 100 an hour sent again by one admin or key) nobody is sent one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from orgwarden.accounts import services as account_services
from orgwarden.accounts.models import Account
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs.models import Organization, ProductSite
from orgwarden.orgs.selectors import invitations as selectors
from orgwarden.orgs.selectors.invitations import NotSent
from orgwarden.orgs.services.access import invitation_email_queue, site_target, sites_detail
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.orgs.services.invitation_limits import invitation_emails_admit
from orgwarden.orgs.services.users import org_users_bulk


@dataclass(frozen=True, slots=True)
class InvitationResent:
    account: Account
    sites: list[ProductSite]  # the sites the email lists, by name
    signin_link: bool  # a fresh one-time sign-in link (else the sign-in page)


@dataclass(frozen=True, slots=True)
class InvitationsResent:
    sent: list[InvitationResent]  # in the order asked
    not_sent: list[NotSent]  # users of the org passed over, each with the reason


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
    (org_user,) = org_users_bulk(org=org, account_ids=[account_id], skip_gone=False, managed_only=False)
    account = org_user.account
    invited = account.pk in selectors.invited_keys([account.pk])
    sites = selectors.resend_sites(org=org, org_user=org_user, invited=invited)
    invitation_emails_admit(org=org, who=who, to=[account.email], again=1)
    return _resend(org=org, who=who, account=account, sites=sites)


@transaction.atomic
def users_invitation_resend(
    *, org: Organization, actor: OrgActor, account_ids: Iterable[str], skip_gone: bool = False
) -> InvitationsResent:
    """Send the invitation email again to each of ``account_ids`` (at most 500) who is an invited
    user of ``org``, as ``user_invitation_resend`` does: one email, one ``org:user:invitation_resent``
    event and perhaps a new link each. Users of ``org`` it would refuse are passed over, each in
    ``not_sent`` with the reason; the emails of the others are counted together, all or none.

    Raises ``NotFound`` (an id that is not a user of ``org`` — unless ``skip_gone``, which passes
    over such ids: a selection in the console may have gone stale — or ``actor`` may not act on
    ``org``), ``InvalidInput`` (no id, more than 500) or ``InvitationThrottled`` (then nobody is
    sent one and nothing is recorded).
    """
    who = org_actor(org=org, actor=actor)
    rows = org_users_bulk(org=org, account_ids=account_ids, skip_gone=skip_gone, managed_only=False)
    ready, not_sent = selectors.resend_sort(org=org, org_users=rows)
    if ready:
        to = [row.account.email for row, _ in ready]
        invitation_emails_admit(org=org, who=who, to=to, again=len(to), resend=True)
    sent = [_resend(org=org, who=who, account=row.account, sites=sites) for row, sites in ready]
    return InvitationsResent(sent=sent, not_sent=not_sent)


def _resend(*, org: Organization, who: Actor, account: Account, sites: list[ProductSite]) -> InvitationResent:
    """The invitation email to ``account`` again, with a new link if it has no password, and its
    event: for someone ``resend_sites`` let through, once the email was counted."""
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
