"""The one limit on invitation emails: ``invitation_emails_admit``.

Every email that invites someone — to product sites (``access.user_invite``, ``users_invite``, the
REST API's ``POST …/users/invite``), the same invitation sent again
(``invitations.user_invitation_resend``, ``users_invitation_resend`` for several people at once),
an admin invitation (``orgs.admin_invite``, sent again by inviting the address again) — passes here
before it is queued. Without it a stolen admin session or org API key could fill anyone's mailbox
with emails from this server, in the customer's own name, by inviting the same address again and
again — or invite address after new address, each one email and one new account.

Decisions where the issue is silent:

- Three counters, ``accounts.throttle``'s requests that cost something each time, the SAME ones
  for every kind of invitation email, so an invite, an invite again and a resend of one person
  count together:

  - per address: 3 invitation emails an hour to one address, every one counted — the first
    invitation too. A person asking twice whether it came is served; an invite to one site, then
    to another, then a resend fit. Counted across the installation (a mailbox's owner does not
    care which org fills it), so the refusal names the address but never who sent the others.
  - per sender (the admin, or the API key), emails sent AGAIN: 100 an hour — to someone who
    already is a user of the org (invited before, or with access already), a resend, an admin
    invitation that replaces a pending one. Two pages of the Users list resent in an hour.
  - per org, FIRST invitations (someone new to the org, or a first admin invitation of an
    address): ``ORGWARDEN_FIRST_INVITATIONS_PER_HOUR``, 5,000 by default (50–100,000), for all the
    org's admins and API keys together. The number is the largest onboarding this installation is
    built for: a 5,000-person company invited through the REST API in one run (100 calls of 50)
    fits in the hour, so a legitimate onboarding is never slowed, while a stolen key or admin
    session can no longer invite new addresses without end (before: unbounded, each one an email,
    a new account and perhaps a billed seat). The floor, 50, is one call's most
    (``MAX_INVITES_PER_CALL``), so one call can always pass when the org has sent none. An
    installation with smaller orgs should lower it (a 300-person company: 500).

    Per org, not per sender, because per sender is unbounded: an admin session can create org API
    keys, each a fresh sender with a full hour of its own, and invite addresses it controls as
    admins, each one more sender. Counted under the org's stable id (``org_id``, never its name,
    which an admin can change), the bound holds however many senders the org has. The price: one
    admin's big onboarding can make another admin of the same org wait until the hour frees up
    (the refusal names the org's limit, not who used it up); an operator whose customers onboard
    more people than that in an hour raises the setting. The scope name changed with the meaning
    (``invitation-first-org``, was ``invitation-first-sender``): after a deploy mid-hour every org
    starts that hour at zero, so it may send at most one hour's worth more than the limit, once —
    accepted rather than carrying per-sender counts over into a per-org one.

- All or nothing: an invitation of several people that would exceed any limit is refused whole —
  nobody is invited, nothing is recorded, no email leaves — as any other refusal of
  ``users_invite`` is. The message names the limit (the addresses that have had too many, the
  sender's hourly number of emails sent again, or the org's of first invitations) and when it
  frees up, so the admin can take the addresses out and send the rest at once, or wait. Counting
  happens last, after every check of the call has passed (a refused bad address costs nothing),
  inside its transaction: the refusal rolls the call back.
- ``InvitationThrottled.retry_after`` is the seconds to wait; the REST API answers 429
  ``rate_limited`` with ``Retry-After``, the console a form error or a message.
"""

from __future__ import annotations

from collections.abc import Sequence

from orgwarden.accounts import throttle
from orgwarden.audit.services import Actor
from orgwarden.humanize import listed
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import InvitationThrottled
from orgwarden.orgs.models import Organization

# The scope names of the per-address and per-sender counts are those the resend was first counted
# under (a deploy keeps the hour's counts); the first invitations' is new with its per-org meaning.
INVITATION_EMAILS = throttle.PerAddressAndClient(
    throttle.Throttle("invitation-resend", 3600, fixed_limit=3),
    throttle.Throttle("invitation-resend-sender", 3600, fixed_limit=100),
    "Too many invitation emails",
)
FIRST_INVITATIONS = throttle.Throttle(
    "invitation-first-org", 3600, limit_setting="FIRST_INVITATIONS_PER_HOUR"
)


def invitation_emails_admit(
    *, org: Organization, who: Actor, to: Sequence[str], again: int, resend: bool = False
) -> None:
    """Count invitation emails of ``org`` to the addresses ``to`` (one each), ``again`` of them
    sent again (they count against ``who`` too) and the others first invitations (they count
    against ``org``: all its admins and API keys together), all or none.

    Raises ``InvitationThrottled`` — and counts nothing — when an address has had 3 in the last
    hour, ``who`` would pass 100 sent again, or ``org`` would pass ``FIRST_INVITATIONS_PER_HOUR``
    first invitations in an hour. ``resend``: the emails are invitations sent again by
    ``users_invitation_resend`` (the refusal says "no invitation was sent", not "nobody was
    invited"). Call it last in the caller's transaction, so that the refusal rolls back whatever
    the call changed.
    """
    limits, first = INVITATION_EMAILS, len(to) - again
    sender = f"{who.type}:{who.id}"
    counted = (
        [(limits.per_email, address) for address in to]
        + [(limits.per_client, sender)] * again
        + [(FIRST_INVITATIONS, f"org:{org.org_id}")] * first
    )
    wait = throttle.requests_admit(counted)
    if not wait:
        return
    several = len(to) > 1
    nothing = (": no invitation was sent" if resend else ": nobody was invited") if several else ""
    then = f"Wait {throttle.wait_in_words(wait)}, then try again"
    full = [address for address in to if limits.per_email.retry_after(email=address)]
    if full:
        words = f"{limits.too_many} to {listed([idn_unicode(a) for a in full], most=5)}{nothing}. {then}"
        if several and len(full) < len(to):
            them = "them" if len(full) > 1 else "this address"
            words += f", or {'send it to' if resend else 'invite'} the others without {them} now"
        raise InvitationThrottled(words + ".", retry_after=wait)
    if again and limits.per_client.retry_after(email=sender, attempts=again):
        name, limit = who.name or "you", limits.per_client.limit
        if resend and again > limit:  # more than an hour allows (an invitation asks 50 at most)
            then = f"Choose at most {limit} people at a time"
        raise InvitationThrottled(
            f"{limits.too_many} sent again by {name}: at most {limit} an hour to people who were "
            f"invited before{nothing}. {then}.",
            retry_after=wait,
        )
    raise InvitationThrottled(
        f"Too many invitations of new people in {org.name}: at most {FIRST_INVITATIONS.limit} an "
        f"hour for all its admins and API keys together{nothing}. {then}.",
        retry_after=wait,
    )
