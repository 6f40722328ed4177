"""Who an invitation can be sent again to, and which product sites it lists; each takes ``org=``.

``resend_sites`` is the one rule of ``services.invitations``: the single resend refuses with its
words, the resend of several people passes over whom it refuses and says why in the same words,
and the console's confirm page shows those words before anything is sent (``resend_preview``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orgwarden.accounts.ids import public_id_lookup
from orgwarden.accounts.models import Account
from orgwarden.accounts.selectors import invited_not_signed_in
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import NoProductAccess, NotInvited
from orgwarden.orgs.models import GroupMember, Organization, OrgUser, ProductSite


@dataclass(frozen=True, slots=True)
class NotSent:
    account: Account
    why: str  # what the single resend would refuse with: "… has signed in since the invitation …"


@dataclass(frozen=True, slots=True)
class ResendPreview:
    ready: list[OrgUser]  # whom the invitation would be sent to again, in the order asked
    not_sent: list[NotSent]  # users of the org it would not be sent to, and why
    gone: list[str]  # the ids asked for that are not users of the org (gone, another org's, none)


def invited_keys(account_pks: Iterable[int]) -> set[int]:
    """Those of ``account_pks`` that are "Invited" (``accounts.selectors.invited_not_signed_in``)."""
    invited = Account.objects.filter(pk__in=list(account_pks)).filter(invited_not_signed_in())
    return set(invited.values_list("pk", flat=True))


def sites_usable(*, org: Organization, account_pks: Iterable[int]) -> dict[int, list[ProductSite]]:
    """The product sites of ``org`` each of ``account_pks`` can use now, through their groups, by
    name (none: not in the map). Two queries, however many people."""
    pairs = set(
        GroupMember.objects.filter(
            account_id__in=list(account_pks), group__org=org, group__site_access__site__org=org
        ).values_list("account_id", "group__site_access__site_id")
    )
    sites = ProductSite.objects.filter(org=org, pk__in={site for _, site in pairs}).order_by("name", "pk")
    members: dict[int, list[int]] = {}
    for account_pk, site_pk in pairs:
        members.setdefault(site_pk, []).append(account_pk)
    usable: dict[int, list[ProductSite]] = {}
    for site in sites:  # by name: so is each person's list
        for account_pk in members[site.pk]:
            usable.setdefault(account_pk, []).append(site)
    return usable


def resend_sites(
    *, org: Organization, org_user: OrgUser, invited: bool, usable: dict[int, list[ProductSite]] | None = None
) -> list[ProductSite]:
    """The product sites of ``org`` that the invitation of ``org_user`` sent again lists: those the
    person can use now, through their groups, by name. ``invited``: whether they are "Invited";
    ``usable``: ``sites_usable`` of several people at once (else read for this one).

    Raises ``NotInvited`` (deactivated or scheduled for deletion, signed in since, never sent a
    sign-in link) or ``NoProductAccess`` (no product site of ``org`` left), each naming the person.
    """
    account = org_user.account
    shown = idn_unicode(account.email)
    if account.status != Account.Status.ACTIVE or org_user.deletion_scheduled_for is not None:
        raise NotInvited(f"{shown} is deactivated: reactivate them before you send the invitation again.")
    if not invited:
        raise NotInvited(
            f"{shown} has signed in since the invitation: there is no invitation to send again."
            if account.last_login
            else f"{shown} was never sent a sign-in link: there is no invitation to send again."
        )
    if usable is None:
        usable = sites_usable(org=org, account_pks=[account.pk])
    sites = usable.get(account.pk, [])
    if not sites:
        raise NoProductAccess(
            f"{shown} has no access to any product site of {org.name} any more: "
            "invite them to a product site instead."
        )
    return sites


def resend_sort(
    *, org: Organization, org_users: Sequence[OrgUser]
) -> tuple[list[tuple[OrgUser, list[ProductSite]]], list[NotSent]]:
    """``org_users`` (with their accounts) sorted by ``resend_sites``: those it lets through, with
    the sites to list, and those it refuses, with its words; each in the order given."""
    invited = invited_keys(row.account_id for row in org_users)
    usable = sites_usable(org=org, account_pks=invited)  # the others are refused before their sites
    ready, not_sent = [], []
    for row in org_users:
        try:
            sites = resend_sites(org=org, org_user=row, invited=row.account_id in invited, usable=usable)
            ready.append((row, sites))
        except (NotInvited, NoProductAccess) as exc:
            not_sent.append(NotSent(account=row.account, why=exc.message))
    return ready, not_sent


def resend_preview(*, org: Organization, account_ids: Sequence[str]) -> ResendPreview:
    """What ``services.invitations.users_invitation_resend(skip_gone=True)`` would do with
    ``account_ids`` now, sending nothing: for the console's confirm page."""
    ids = list(dict.fromkeys(i for i in account_ids if isinstance(i, str)))
    rows = {
        row.account.account_id: row
        for row in OrgUser.objects.select_related("account").filter(
            org=org, account__account_id__in=[public_id_lookup(i) for i in ids]
        )
    }
    ready, not_sent = resend_sort(org=org, org_users=[rows[i] for i in ids if i in rows])
    return ResendPreview(
        ready=[row for row, _ in ready], not_sent=not_sent, gone=[i for i in ids if i not in rows]
    )
