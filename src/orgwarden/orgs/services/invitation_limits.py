"""The one limit on invitation emails: ``invitation_emails_admit``.

Every email that invites someone — to product sites (``access.user_invite``, ``users_invite``),
the same invitation sent again (``invitations.user_invitation_resend``), an admin invitation
(``orgs.admin_invite``, sent again by inviting the address again) — passes here before it is
queued. Without it a stolen admin session or org API key could fill anyone's mailbox with emails
from this server, in the customer's own name, by inviting the same address again and again.

Decisions where the issue is silent:

- Two counters, ``accounts.throttle``'s requests that cost something each time, and the SAME
  two for every kind of invitation email, so an invite, an invite again and a resend of one
  person count together:

  - per address: 3 invitation emails an hour to one address, every one counted — the first
    invitation too. A person asking twice whether it came is served; an invite to one site, then
    to another, then a resend fit. Counted across the installation (a mailbox's owner does not
    care which org fills it), so the refusal names the address but never who sent the others.
  - per sender (the admin, or the API key): 100 an hour of the emails sent AGAIN — to someone
    who already is a user of the org (invited before, or with access already), a resend, an admin
    invitation that replaces a pending one. First invitations of new people are not counted here:
    bringing 500 contractors in must not take five hours, and each of them leaves a user row
    (and perhaps a billed seat) that the admins see; the per-address limit still bounds each one.

- All or nothing: an invitation of several people that would exceed either limit is refused
  whole — nobody is invited, nothing is recorded, no email leaves — as any other refusal of
  ``users_invite`` is. The message names the addresses that have had too many, so the admin can
  take them out and send the rest at once. Counting happens last, after every check and write of
  the call has passed (a refused bad address costs nothing), inside its transaction: the refusal
  rolls the call back.
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

# The scope names are those the resend was first counted under (a deploy keeps the hour's counts).
INVITATION_EMAILS = throttle.PerAddressAndClient(
    throttle.Throttle("invitation-resend", 3600, fixed_limit=3),
    throttle.Throttle("invitation-resend-sender", 3600, fixed_limit=100),
    "Too many invitation emails",
)


def invitation_emails_admit(*, who: Actor, to: Sequence[str], again: int) -> None:
    """Count invitation emails to the addresses ``to`` (one each), ``again`` of them sent again
    (they count against ``who`` too), all together or none.

    Raises ``InvitationThrottled`` — and counts nothing — when an address has had 3 in the last
    hour, or ``who`` would pass 100 sent again in an hour. Call it last in the caller's transaction,
    so that the refusal rolls back whatever the call changed.
    """
    limits = INVITATION_EMAILS
    sender = f"{who.type}:{who.id}"
    counted = [(limits.per_email, address) for address in to] + [(limits.per_client, sender)] * again
    wait = throttle.requests_admit(counted)
    if not wait:
        return
    several = len(to) > 1
    full = [address for address in to if limits.per_email.retry_after(email=address)]
    if full:
        words = f"{limits.too_many} to {listed([idn_unicode(a) for a in full], most=5)}"
        if several:
            words += ": nobody was invited"
        words += f". Wait {throttle.wait_in_words(wait)}, then try again"
        if several and len(full) < len(to):
            words += f", or invite the others without {'them' if len(full) > 1 else 'this address'} now"
        raise InvitationThrottled(words + ".", retry_after=wait)
    limit = limits.per_client.limit
    raise InvitationThrottled(
        f"{limits.too_many} sent again by {who.name or 'you'}: at most {limit} an hour to people "
        f"who were invited before{': nobody was invited' if several else ''}. "
        f"Wait {throttle.wait_in_words(wait)}, then try again.",
        retry_after=wait,
    )
