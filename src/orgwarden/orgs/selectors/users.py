"""Reads of an org's users: the keyset-paged list and one account's page.

The list pages by keyset on ``OrgUser.email`` (unique within an org, a copy of the account's
email): ``email > cursor ORDER BY email LIMIT size + 1`` on the ``org_user_email`` index (or
``org_user_managed_email`` when filtered to managed or external users), never OFFSET, so page 50
costs what page 1 costs. The cursor is the last email of a page, base64url-encoded so emails do
not sit in plain sight in URLs and logs.

The search ``q`` matches an email prefix, as an index range (``email >= q AND email < q⁺``, plus the
exact ``startswith`` for collations that sort punctuation loosely), or a name containing ``q``;
the two halves run as two keyset queries whose short results are merged (see ``_search``). A
``q`` with "@", a digit, ".", "_" or "+" (in emails, not in names) takes the email-prefix index alone.

The last-active filter (``LAST_ACTIVE``) adds a condition on ``last_active_at`` to that walk along
the email index. When many users match, the walk soon finds a page of them; when few do (everyone
active but a handful "never", or an org that just started), it would read most of the org. So
``users_page`` first reads the matching keys from the ``(org, last_active_at)`` index, stopping
after ``FEW`` + 1. At most ``FEW`` match → the page is sorted from those rows alone (a random row
read each); more → the email walk finds a page after about ``size × org size / FEW`` rows on
average (10,000 of 100,000). On SQLite with 100,000 users the two cost about the same at 500
matches. PostgreSQL's planner makes this choice itself from its statistics, SQLite's does not: with
50 of 100,000 users active in the last 30 days, that filter's page took 58-76 ms before and
5-11 ms after (``users_page`` called directly, on a loaded machine; ``bench/directory.py`` times a
rare filter through HTTP).

Decisions where the issue is silent: ``last_active=inactive_N`` includes users never active
(both are candidates for reclaiming a licence); a user's status is ``deletion_scheduled`` from the
moment its deletion is scheduled (it is also deactivated then), ``invited`` while its account is
active but has not signed in since it was sent a one-time sign-in link (an invitation:
``accounts.selectors.invited_not_signed_in``), else its account's status. Each row's "invited" is an
``EXISTS`` on the sign-in links' account index inside the page's one query; the "invited" filter
reads the (few) invited accounts' keys once and looks those users up by ``(org, account)``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import operator
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from orgwarden.accounts.models import Account, Session, normalize_email
from orgwarden.accounts.selectors import invited_account_keys, invited_not_signed_in, sessions_of
from orgwarden.orgs.exceptions import InvalidInput, NotFound
from orgwarden.orgs.models import (
    Activity,
    Directory,
    Domain,
    Group,
    GroupMember,
    Organization,
    OrgUser,
    ProductSite,
    SiteAccess,
)

PAGE_SIZE = 50
PAGE_SIZE_MAX = 200
Q_MAX = 200
STATUSES = ("active", "invited", "deactivated", "deletion_scheduled")
KINDS = ("managed", "external")
# "active_N": active in the last N days; "inactive_N": not active for N days, or never; "never".
LAST_ACTIVE = ("active_30", "active_90", "inactive_30", "inactive_60", "inactive_90", "never")
# A last-active filter matching at most this many users is served from its own index (see the top).
FEW = 500
# What an email prefix may hold and a person's name does not: such a search skips the name half.
EMAIL_ONLY = re.compile(r"[@0-9._+]")
ROW_FIELDS = (
    "account_id",
    "account__account_id",
    "account__display_name",
    "email",
    "is_managed",
    "account__status",
    "last_active_at",
    "deletion_scheduled_for",
    "invited",
)


@dataclass(frozen=True, slots=True)
class UserFilters:
    """The list's filters; empty strings mean "any". Validated by ``users_page``."""

    q: str = ""
    status: str = ""
    kind: str = ""
    site_id: str = ""
    last_active: str = ""


@dataclass(frozen=True, slots=True)
class UserRow:
    account_id: str
    name: str
    email: str
    is_managed: bool
    status: str  # one of STATUSES, or "closed"
    last_active_at: datetime | None
    site_count: int
    deletion_scheduled_for: datetime | None


@dataclass(frozen=True, slots=True)
class UsersPage:
    rows: list[UserRow]
    next_cursor: str | None  # pass as ``after`` for the next page; None on the last page


@dataclass(frozen=True, slots=True)
class SiteAccessRow:
    site: ProductSite
    role: str  # "admin" if any of the groups grants admin, else "user"
    groups: list[str]


@dataclass(frozen=True, slots=True)
class SiteActivityRow:
    site: ProductSite
    last_at: datetime


@dataclass(frozen=True, slots=True)
class UserDetail:
    account: Account
    org_user: OrgUser
    status: str
    is_managed: bool
    directory: Directory | None
    domain: Domain | None
    profile_read_only: bool  # provisioned by an identity provider
    groups: list[Group]
    access: list[SiteAccessRow]
    sessions: list[Session]
    deletion_scheduled_for: datetime | None
    last_active_at: datetime | None
    activity: list[SiteActivityRow] = field(default_factory=list)


# --- cursors ------------------------------------------------------------------------------------------


def cursor_encode(email: str) -> str:
    return base64.urlsafe_b64encode(email.encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> str:
    """The email inside ``cursor``; raises ``InvalidInput`` for anything that is not one of ours."""
    bad = InvalidInput("That page link is not valid. Start again from the first page.")
    if not isinstance(cursor, str) or not 0 < len(cursor) <= 400:
        raise bad
    try:
        email = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError) as exc:
        raise bad from exc
    if "@" not in email or "\x00" in email or len(email) > 254 or email != email.lower():
        raise bad
    return email


def _prefix_upper(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (code-point order)."""
    return prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))


# --- the list -----------------------------------------------------------------------------------------


def _invited() -> Exists:
    """Whether a row's person is invited (sent a sign-in link, not signed in since): see the top."""
    return invited_not_signed_in("account_id", "account__last_login")


def _status_of(account_status: str, deletion_scheduled_for: datetime | None, invited: bool) -> str:
    if deletion_scheduled_for is not None:
        return "deletion_scheduled"
    if invited and account_status == Account.Status.ACTIVE:
        return "invited"
    return account_status


def _check(filters: UserFilters) -> None:
    if not isinstance(filters.q, str) or len(filters.q) > Q_MAX or "\x00" in filters.q:
        raise InvalidInput(f"Keep the search to {Q_MAX} characters or fewer.")
    for name, allowed in (("status", STATUSES), ("kind", KINDS), ("last_active", LAST_ACTIVE)):
        value = getattr(filters, name)
        if value and value not in allowed:
            raise InvalidInput(
                f"Unknown {name.replace('_', ' ')} “{value}”: use one of {', '.join(allowed)}."
            )


def users_of(*, org: Organization, filters: UserFilters, now: datetime | None = None) -> QuerySet[OrgUser]:
    """``org``'s user rows matching ``filters`` but the search ``q`` (unordered).

    Raises ``InvalidInput``. ``users_page`` applies ``q``: an OR of the two halves of the search
    in one query would walk the whole email index, testing every row's name.
    """
    _check(filters)
    users = OrgUser.objects.filter(org=org).annotate(invited=_invited())
    if filters.kind:
        users = users.filter(is_managed=filters.kind == "managed")
    if filters.status == "deletion_scheduled":
        users = users.filter(deletion_scheduled_for__isnull=False)
    elif filters.status in ("active", "invited"):
        users = users.filter(deletion_scheduled_for__isnull=True, account__status="active")
        invited = Q(account_id__in=invited_account_keys())
        users = users.filter(invited if filters.status == "invited" else ~invited)
    elif filters.status:
        users = users.filter(deletion_scheduled_for__isnull=True, account__status=filters.status)
    if filters.site_id:
        if len(filters.site_id) > 64 or "\x00" in filters.site_id:
            raise InvalidInput("Unknown product site.")
        site = ProductSite.objects.filter(org=org, site_id=filters.site_id).first()
        if site is None:
            raise InvalidInput("Unknown product site.")
        users = users.filter(
            Exists(
                GroupMember.objects.filter(
                    account=OuterRef("account"), group__org=org, group__site_access__site=site
                )
            )
        )
    if filters.last_active:
        ranges = _last_active_ranges(filters.last_active, now or timezone.now())
        users = users.filter(functools.reduce(operator.or_, ranges))
    return users


def _last_active_ranges(value: str, now: datetime) -> list[Q]:
    """A ``LAST_ACTIVE`` value (checked by ``_check``) as disjoint conditions on ``last_active_at``,
    each one range of the ``(org, last_active_at)`` index."""
    if value == "never":
        return [Q(last_active_at__isnull=True)]
    kind, days = value.split("_")
    since = now - timedelta(days=int(days))
    if kind == "active":
        return [Q(last_active_at__gte=since)]
    return [Q(last_active_at__isnull=True), Q(last_active_at__lt=since)]


def _last_active_few(*, org: Organization, value: str, now: datetime) -> list[int] | None:
    """The keys of ``org``'s users whose last activity matches ``value``, when there are at most
    ``FEW`` of them; ``None`` when there are more.

    Each range is read from the ``(org, last_active_at)`` index alone and stops after ``FEW + 1``
    keys, so this costs at most about ``FEW`` index entries whatever the org's size.
    """
    found: list[int] = []
    for condition in _last_active_ranges(value, now):
        rows = OrgUser.objects.filter(org=org).filter(condition).values_list("pk", flat=True)
        found.extend(rows[: FEW + 1 - len(found)])
        if len(found) > FEW:
            return None
    return found


def users_page(
    *, org: Organization, filters: UserFilters, after: str | None, size: int = PAGE_SIZE
) -> UsersPage:
    """One page of ``org``'s users matching ``filters``, by email, after the cursor ``after``.

    Raises ``InvalidInput`` for a bad cursor, an unknown filter value, a search over 200 characters
    or a product site that is not ``org``'s.
    """
    if not isinstance(size, int) or not 1 <= size <= PAGE_SIZE_MAX:
        raise InvalidInput(f"Ask for 1 to {PAGE_SIZE_MAX} users per page.")
    now = timezone.now()
    users = users_of(org=org, filters=filters, now=now)
    if filters.last_active:
        few = _last_active_few(org=org, value=filters.last_active, now=now)
        if few is not None:
            users = users.filter(pk__in=few)
    if after:
        users = users.filter(email__gt=cursor_decode(after))
    q = " ".join(filters.q.split()).lower()
    if "@" in q:  # an address typed with its domain in Unicode is stored in the ASCII form
        q = normalize_email(q)
    if not q:
        found = list(users.order_by("email").values(*ROW_FIELDS)[: size + 1])
    else:
        found = _search(users, q, size + 1)
    more = len(found) > size
    rows = _rows(org=org, found=found[:size])
    return UsersPage(rows=rows, next_cursor=cursor_encode(rows[-1].email) if more and rows else None)


def users_matching(*, org: Organization, filters: UserFilters, most: int) -> list[UserRow]:
    """The first ``most`` of ``org``'s users matching ``filters``, by email: ``users_page`` page
    after page (each one keyset query), for an action on everyone a filter shows. Raises what
    ``users_page`` raises."""
    rows: list[UserRow] = []
    after = None
    while len(rows) < most:
        page = users_page(org=org, filters=filters, after=after, size=min(PAGE_SIZE_MAX, most - len(rows)))
        rows.extend(page.rows)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    return rows


def _search(users: QuerySet[OrgUser], q: str, limit: int) -> list[dict]:
    """The first ``limit`` rows (by email) of ``users`` whose email starts with ``q`` or whose name
    contains it: two keyset queries, merged.

    The email half is a range on the ``(org, email)`` index (``startswith`` too, for collations that
    sort punctuation loosely); the name half scans names once for the matching account keys, then
    looks them up by ``(org, account)``. That scan costs the same whatever ``q`` is (about 20 ms per
    100,000 accounts on SQLite), so a ``q`` holding what emails have and names do not — "@", a
    digit, ".", "_" or "+" — takes the email half alone. The first ``limit`` of the union are among the first
    ``limit`` of each half, so merging the two short lists is exact.
    """
    by_email = users.filter(email__gte=q, email__lt=_prefix_upper(q), email__startswith=q)
    halves = [by_email]
    if not EMAIL_ONLY.search(q):
        named = Account.objects.filter(display_name__icontains=q).values("pk")
        halves.append(users.filter(account_id__in=named))
    if len(halves) == 1:
        return list(by_email.order_by("email").values(*ROW_FIELDS)[:limit])
    emails: set[str] = set()
    for half in halves:
        emails.update(half.order_by("email").values_list("email", flat=True)[:limit])
    if not emails:
        return []
    # Sorted by the database, in its collation: the same order as the ``email > cursor`` keyset.
    return list(users.filter(email__in=emails).order_by("email").values(*ROW_FIELDS)[:limit])


def users_by_ids(*, org: Organization, account_ids: list[str]) -> list[UserRow]:
    """The rows of those of ``account_ids`` (at most 500) that are users of ``org``, in the order
    given; the others (gone meanwhile, another org's, never anyone's) are left out, so a bulk
    action's selection that went stale is still shown. Raises ``InvalidInput`` for more than 500."""
    ids = list(dict.fromkeys(i for i in account_ids if isinstance(i, str)))
    if len(ids) > 500:
        raise InvalidInput("Select at most 500 users at a time.")
    wanted = [i for i in ids if i and "\x00" not in i and len(i) <= 64]  # PostgreSQL refuses a NUL
    found = {
        row["account__account_id"]: row
        for row in OrgUser.objects.filter(org=org, account__account_id__in=wanted)
        .annotate(invited=_invited())
        .values(*ROW_FIELDS)
    }
    return _rows(org=org, found=[found[i] for i in wanted if i in found])


def _rows(*, org: Organization, found: list[dict]) -> list[UserRow]:
    counts = _site_counts(org=org, account_pks=[row["account_id"] for row in found])
    return [
        UserRow(
            account_id=row["account__account_id"],
            name=row["account__display_name"],
            email=row["email"],
            is_managed=row["is_managed"],
            status=_status_of(row["account__status"], row["deletion_scheduled_for"], row["invited"]),
            last_active_at=row["last_active_at"],
            site_count=counts.get(row["account_id"], 0),
            deletion_scheduled_for=row["deletion_scheduled_for"],
        )
        for row in found
    ]


def _site_counts(*, org: Organization, account_pks: list[int]) -> dict[int, int]:
    """How many of ``org``'s product sites each account can use (through its groups)."""
    if not account_pks:
        return {}
    counts = (
        GroupMember.objects.filter(
            account_id__in=account_pks, group__org=org, group__site_access__isnull=False
        )
        .values("account_id")
        .annotate(n=Count("group__site_access__site", distinct=True))
    )
    return {row["account_id"]: row["n"] for row in counts}


def sites_for_filter(*, org: Organization) -> list[tuple[str, str]]:
    """``(site_id, name)`` of ``org``'s product sites, for the list's site filter."""
    return list(ProductSite.objects.filter(org=org).order_by("name", "id").values_list("site_id", "name"))


# --- one account --------------------------------------------------------------------------------------


def user_detail(*, org: Organization, account_id: str) -> UserDetail:
    """Everything the account page shows about one of ``org``'s users. Raises ``NotFound``."""
    if not isinstance(account_id, str) or not account_id or "\x00" in account_id or len(account_id) > 64:
        raise NotFound()
    org_user = (
        OrgUser.objects.select_related("account", "directory", "domain")
        .filter(org=org, account__account_id=account_id)
        .annotate(invited=_invited())
        .first()
    )
    if org_user is None:
        raise NotFound()
    account = org_user.account
    groups = list(Group.objects.filter(org=org, memberships__account=account).order_by("name", "id"))
    access: dict[int, SiteAccessRow] = {}
    grants = (
        SiteAccess.objects.filter(site__org=org, group__org=org, group__memberships__account=account)
        .select_related("site", "group")
        .order_by("site__name", "site_id", "group__name")
    )
    for grant in grants:
        row = access.setdefault(grant.site_id, SiteAccessRow(site=grant.site, role="user", groups=[]))
        row.groups.append(grant.group.name)
        if grant.role == SiteAccess.Role.ADMIN and row.role != "admin":
            access[grant.site_id] = SiteAccessRow(site=grant.site, role="admin", groups=row.groups)
    last_by_site = (
        Activity.objects.filter(org=org, account=account).values("site").annotate(last_at=Max("last_at"))
    )
    sites = {s.pk: s for s in ProductSite.objects.filter(org=org, pk__in=[r["site"] for r in last_by_site])}
    activity = sorted(
        (
            SiteActivityRow(site=sites[r["site"]], last_at=r["last_at"])
            for r in last_by_site
            if r["site"] in sites
        ),
        key=lambda r: r.last_at,
        reverse=True,
    )
    directory = org_user.directory
    return UserDetail(
        account=account,
        org_user=org_user,
        status=_status_of(account.status, org_user.deletion_scheduled_for, org_user.invited),
        is_managed=org_user.is_managed,
        directory=directory,
        domain=org_user.domain,
        profile_read_only=directory is not None and directory.kind == Directory.Kind.IDP,
        groups=groups,
        access=list(access.values()),
        sessions=list(sessions_of(account=account)) if org_user.is_managed else [],
        deletion_scheduled_for=org_user.deletion_scheduled_for,
        last_active_at=org_user.last_active_at,
        activity=activity,
    )
