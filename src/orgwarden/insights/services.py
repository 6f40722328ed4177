"""Acting on the inactive-users report: take product access away from the selected people.

Reuses the orgs services, so each change records its own event: an external user is removed from
the org (``org:user:removed``); a managed account leaves every group of the org that grants product
access (``org:group:member_removed`` per group). Deactivation goes through the Users page's bulk
action (``orgs.services.users.users_deactivate``).
"""

from __future__ import annotations

from django.db import transaction

from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import GroupMember, Organization, OrgUser
from orgwarden.orgs.services import access
from orgwarden.orgs.services.actors import OrgActor, org_actor

BULK_MAX = 200


@transaction.atomic
def inactive_access_remove(*, org: Organization, actor: OrgActor, account_ids: list[str]) -> int:
    """Remove product access from each account in ``account_ids``; returns how many lost access.

    All or nothing: raises ``NotFound`` (and changes nothing) if any id is not a user of ``org``,
    or if ``actor`` may not act on ``org``; ``ValueError`` for more than ``BULK_MAX`` ids.
    """
    org_actor(org=org, actor=actor)
    if len(account_ids) > BULK_MAX:
        raise ValueError(f"Select at most {BULK_MAX} users at a time.")
    if any("\x00" in account_id for account_id in account_ids):  # PostgreSQL refuses NUL in a query
        raise NotFound()
    users = {
        u.account.account_id: u
        for u in OrgUser.objects.filter(org=org, account__account_id__in=account_ids).select_related(
            "account"
        )
    }
    if not account_ids or set(account_ids) - set(users):
        raise NotFound()
    lost = 0  # not len(users): sent again, the same selection has nothing left to lose
    for account_id in dict.fromkeys(account_ids):
        org_user = users[account_id]
        if not org_user.is_managed:
            access.user_remove(org=org, actor=actor, account_id=account_id)
            lost += 1
            continue
        groups = (
            GroupMember.objects.filter(
                group__org=org, account=org_user.account, group__site_access__isnull=False
            )
            .values_list("group__group_id", flat=True)
            .distinct()
        )
        group_ids = list(groups)
        for group_id in group_ids:
            access.group_member_remove(org=org, actor=actor, group_id=group_id, account_id=account_id)
        lost += bool(group_ids)
    return lost
