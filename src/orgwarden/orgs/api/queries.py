"""Org-scoped reads the REST API needs that no selector module of the orgs app provides yet.

Each takes ``org=`` and answers only that org's rows. Lists are keyset pages: rows sorted by a
unique key, and ``after`` is the key of the last row of the previous page. Each returns the rows
and the key to continue after (``None`` on the last page).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from orgwarden.accounts.models import Account
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.selectors import EventFilters, events_for_org
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Directory, Domain, Group, OrgAdmin, Organization, OrgUser
from orgwarden.orgs.selectors.orgs import audit_people_ids


def _clean_id(value: str) -> str:
    """A public id from a URL: refuse what cannot be one before it reaches the database."""
    if not value or len(value) > 64 or "\x00" in value:
        raise NotFound()
    return value


def _keyset(rows: QuerySet, field: str, after: tuple[Any, int] | None, size: int) -> tuple[list, Any]:
    """Rows of ``rows`` sorted by (``field``, pk) after the key ``after``; and the next key."""
    if after is not None:
        value, pk = after
        rows = rows.filter(Q(**{f"{field}__gt": value}) | Q(**{field: value, "pk__gt": pk}))
    batch = list(rows.order_by(field, "pk")[: size + 1])
    if len(batch) <= size:
        return batch, None
    batch = batch[:size]
    last = batch[-1]
    return batch, (getattr(last, field), last.pk)


def org_of_key(*, org: Organization, org_id: str) -> Organization:
    """``org`` itself if ``org_id`` names it; ``NotFound`` for any other org (never 403)."""
    if org_id != org.org_id:
        raise NotFound()
    return org


def domains_page(
    *, org: Organization, after: tuple[str, int] | None = None, size: int = 50
) -> tuple[list[Domain], tuple[str, int] | None]:
    return _keyset(Domain.objects.filter(org=org), "name", after, size)


def domain_of(*, org: Organization, domain_id: str) -> Domain:
    domain = Domain.objects.filter(org=org, domain_id=_clean_id(domain_id)).first()
    if domain is None:
        raise NotFound()
    return domain


def groups_page(
    *, org: Organization, after: tuple[str, int] | None = None, size: int = 50
) -> tuple[list[Group], tuple[str, int] | None]:
    """The org's groups by name, each with ``member_count``."""
    groups = Group.objects.filter(org=org).annotate(member_count=Count("memberships"))
    return _keyset(groups, "name", after, size)


def events_visible_to(*, org: Organization, filters: EventFilters | None = None) -> QuerySet[AuditEvent]:
    """What the org's audit log shows: its events, and the account-level events of its people."""
    return events_for_org(
        org_id=org.org_id, people_ids=audit_people_ids(org=org), filters=filters or EventFilters()
    )


def events_stream(
    *, org: Organization, ascending: bool, after: str | None, size: int
) -> tuple[list[AuditEvent], str | None]:
    """Events in id order from just past ``after``; the id to continue from (``None``: no more).

    Ascending, the continuation is never ``None``: the last id seen (or ``after`` when nothing is
    new), so a caller polls it for events recorded later. Descending, it is ``None`` at the end.
    """
    events = events_visible_to(org=org)
    if ascending:
        if after:
            events = events.filter(id__gt=after)
        batch = list(events.order_by("id")[:size])
        return batch, (batch[-1].id if batch else after) or ""
    if after:
        events = events.filter(id__lt=after)
    batch = list(events.order_by("-id")[: size + 1])
    if len(batch) <= size:
        return batch, None
    return batch[:size], batch[size - 1].id


def org_user_of(*, org: Organization, account_id: str) -> OrgUser:
    """``org``'s user row of the account ``account_id`` (with account and directory); else ``NotFound``."""
    org_user = (
        OrgUser.objects.select_related("account", "directory")
        .filter(org=org, account__account_id=_clean_id(account_id))
        .first()
    )
    if org_user is None:
        raise NotFound()
    return org_user


def user_permissions(*, org: Organization, account_id: str) -> dict[str, bool]:
    """What ``org`` may do to the account through the user-management API (keys as in Atlassian's).

    All false for an external user or a closed account. A profile provisioned by an identity
    provider is written there; an org admin's account is not deleted until it stops being one.
    """
    org_user = org_user_of(org=org, account_id=account_id)
    managed = org_user.is_managed and org_user.account.status != Account.Status.CLOSED
    from_idp = org_user.directory is not None and org_user.directory.kind == Directory.Kind.IDP
    is_admin = OrgAdmin.objects.filter(account_id=org_user.account_id).exists()
    return {
        "profile.write": managed and not from_idp,
        "email.set": managed,
        "lifecycle.enablement": managed,
        "lifecycle.delete": managed and not is_admin,
    }
