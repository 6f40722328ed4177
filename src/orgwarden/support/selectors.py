"""Reads of support requests: an org's own (scoped by org), and the staff queue across orgs.

Both lists are paged by keyset, as the console's other lists: a page is ``KeysetPage`` and its
``next_after`` an opaque cursor (``orgs.api.pagination``) holding the sort key of the page's last
row, which the next page starts after (no OFFSET: page 100 costs what page 1 costs). The sort
keys end with the unique ``request_id``, so requests raised in the same microsecond neither
repeat nor go missing between pages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet

from orgwarden.accounts.models import Account
from orgwarden.orgs.api.pagination import BadCursor, cursor_decode, cursor_encode
from orgwarden.orgs.models import Organization
from orgwarden.orgs.selectors.access import KeysetPage
from orgwarden.support.exceptions import InvalidPageLink, NotFound
from orgwarden.support.models import SupportRequest

# A request still waiting for its first answer is "about to breach" this close to its deadline.
BREACH_WARNING = timedelta(hours=1)
PAGE_SIZE = 50


def requests_of(*, org: Organization) -> QuerySet[SupportRequest]:
    """``org``'s requests, newest first (ties by ``request_id``, so the order is total)."""
    return (
        SupportRequest.objects.filter(org=org)
        .select_related("raised_by")
        .order_by("-created_at", "-request_id")
    )


def requests_page(
    *, org: Organization, after: str | None = None, size: int = PAGE_SIZE
) -> KeysetPage[SupportRequest]:
    """One page of ``requests_of``: the requests raised before the cursor ``after`` (the previous
    page's ``next_after``), along the ``(org, -created_at)`` index. Raises ``InvalidPageLink``."""
    rows = requests_of(org=org)
    if after:
        created_at, request_id = _cursor_values(after, count=2)
        rows = rows.filter(created_at__lte=created_at).filter(
            Q(created_at__lt=created_at) | Q(request_id__lt=request_id)
        )
    return _page(rows, size, key=lambda r: [r.created_at.isoformat(), r.request_id])


def request_of(*, org: Organization, request_id: str) -> SupportRequest:
    """One of ``org``'s requests; raises ``NotFound`` for an unknown id or another org's request."""
    try:
        return SupportRequest.objects.select_related("raised_by").get(org=org, request_id=request_id)
    except SupportRequest.DoesNotExist as exc:
        raise NotFound() from exc


def is_staff(account: Account) -> bool:
    return bool(account.is_authenticated and account.is_staff and account.status == Account.Status.ACTIVE)


def queue(*, include_resolved: bool = False) -> QuerySet[SupportRequest]:
    """The staff queue: open and answered requests by response deadline (earliest first), then by
    when they were raised, then by ``request_id`` (so the order is total)."""
    qs = SupportRequest.objects.select_related("org", "raised_by")
    if not include_resolved:
        qs = qs.exclude(status=SupportRequest.Status.RESOLVED)
    return qs.order_by("response_due_at", "created_at", "request_id")


def queue_page(
    *, include_resolved: bool = False, after: str | None = None, size: int = PAGE_SIZE
) -> KeysetPage[SupportRequest]:
    """One page of ``queue``, after the cursor ``after`` (the previous page's ``next_after``).
    Raises ``InvalidPageLink``."""
    rows = queue(include_resolved=include_resolved)
    if after:
        due, created_at, request_id = _cursor_values(after, count=3)
        rows = rows.filter(response_due_at__gte=due).filter(
            Q(response_due_at__gt=due)
            | Q(created_at__gt=created_at)
            | Q(created_at=created_at, request_id__gt=request_id)
        )
    return _page(
        rows, size, key=lambda r: [r.response_due_at.isoformat(), r.created_at.isoformat(), r.request_id]
    )


def _page(rows: QuerySet[SupportRequest], size: int, *, key) -> KeysetPage[SupportRequest]:
    found = list(rows[: size + 1])
    items = found[:size]
    return KeysetPage(items, cursor_encode(key(items[-1])) if len(found) > size else None)


def _cursor_values(cursor: str, *, count: int) -> list:
    """The aware times then the request id inside ``cursor``; ``InvalidPageLink`` for anything else
    (a link typed by hand, cut short, or of another list)."""
    try:
        values = cursor_decode(cursor, types=(str,) * count)
        times = [datetime.fromisoformat(value) for value in values[:-1]]
        if any(t.tzinfo is None for t in times) or not 0 < len(values[-1]) <= 24:
            raise ValueError("not one of our cursors")
        # In UTC here: year 1 or 9999 in a far time zone would overflow in the database adapter.
        times = [t.astimezone(UTC) for t in times]
    except (BadCursor, ValueError, OverflowError) as exc:
        raise InvalidPageLink() from exc
    return [*times, values[-1]]


def request_for_staff(*, request_id: str) -> SupportRequest:
    try:
        return SupportRequest.objects.select_related("org", "raised_by").get(request_id=request_id)
    except SupportRequest.DoesNotExist as exc:
        raise NotFound() from exc


def deadline_state(request: SupportRequest, *, now: datetime) -> str:
    """``met``, ``breached`` (no answer and past due), ``at-risk`` (due within an hour) or ``pending``."""
    if request.first_response_at is not None:
        return "met" if request.first_response_at <= request.response_due_at else "late"
    if now >= request.response_due_at:
        return "breached"
    if request.response_due_at - now <= BREACH_WARNING:
        return "at-risk"
    return "pending"
