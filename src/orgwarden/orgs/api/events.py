"""``/api/admin/v1/orgs/{orgId}/events…``: the org's audit log, as the console's audit page shows it.

The org sees its own events plus the account-level events (sign-ins …) of its admins and managed
accounts, exactly as the console's audit log shows them. Two ways
to read it:

- ``/events``: search (``q``, ``from``, ``to``, ``action``, ``actor``), newest first, paged;
- ``/events-stream``: every event in id order for shipping to a SIEM. ``sortOrder=asc`` with the
  ``next`` cursor can be polled: it returns the events recorded since, and a ``next`` link even
  when there are none yet (poll it again later).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import BeforeValidator

from orgwarden.audit import catalogue
from orgwarden.audit.ids import is_ulid
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.selectors import EventFilters, event_as_dict, event_for_org, events_page
from orgwarden.orgs.api import queries
from orgwarden.orgs.api.orgs import ERRORS
from orgwarden.orgs.api.pagination import BadCursor, cursor_decode, cursor_encode, page
from orgwarden.orgs.api.schemas import CatalogueActionPage, Event, EventId, EventPage, OrgId
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.selectors.orgs import audit_people_ids
from orgwarden.tokens.auth import OrgApiKeyAuth

router = Router(auth=OrgApiKeyAuth(), tags=["events"])


def _iso_day(value: object) -> object:
    """Only ``YYYY-MM-DD``, as documented: pydantic alone also reads a number as seconds since 1970
    (``to=0`` was 1970-01-01 and answered an empty page instead of a 400)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("Use a date as YYYY-MM-DD.")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_day)]


class EventQuery(Schema):
    q: str = Field("", max_length=200, description="Words in the names and emails of actor and targets")
    date_from: IsoDay | None = Field(None, alias="from", description="First UTC day, inclusive (YYYY-MM-DD)")
    date_to: IsoDay | None = Field(None, alias="to", description="Last UTC day, inclusive (YYYY-MM-DD)")
    action: str = Field("", max_length=80, description="An action key from `/event-actions`")
    actor: str = Field("", max_length=254, description="The actor's email or account id")
    cursor: str | None = Field(None, max_length=1500)
    limit: int = Field(50, ge=1, le=100)


class StreamQuery(Schema):
    sort_order: Literal["asc", "desc"] = Field("asc", alias="sortOrder")
    cursor: str | None = Field(None, max_length=1500)
    limit: int = Field(100, ge=1, le=500)


def _event_id(cursor: str | None) -> str | None:
    """The event id inside a cursor; an empty id means "from the very start" (a stream's first poll)."""
    if not cursor:
        return None
    (event_id,) = cursor_decode(cursor, types=(str,))
    if event_id and not is_ulid(event_id):
        raise BadCursor()
    return event_id


def _clean(text: str) -> str:
    return text.replace("\x00", "").strip()


@router.get("/orgs/{orgId}/events", response={200: EventPage, **ERRORS})
def events_list(request: HttpRequest, org_id: OrgId, params: Query[EventQuery]):
    """The org's audit events matching the filters, newest first."""
    org = queries.org_of_key(org=request.org, org_id=org_id)
    filters = EventFilters(
        date_from=params.date_from,
        date_to=params.date_to,
        action=_clean(params.action),
        actor=_clean(params.actor).lower(),
        q=_clean(params.q),
    )
    result = events_page(
        org_id=org.org_id,
        people_ids=audit_people_ids(org=org),
        filters=filters,
        before=_event_id(params.cursor),
        size=params.limit,
    )
    next_cursor = cursor_encode([result.older_cursor]) if result.older_cursor else None
    return page(
        request, [event_as_dict(e) for e in result.events], next_cursor=next_cursor, size=params.limit
    )


@router.get("/orgs/{orgId}/events/{eventId}", response={200: Event, **ERRORS})
def event_detail(request: HttpRequest, org_id: OrgId, event_id: EventId):
    org = queries.org_of_key(org=request.org, org_id=org_id)
    if not is_ulid(event_id):
        raise NotFound()
    try:
        event = event_for_org(org_id=org.org_id, people_ids=audit_people_ids(org=org), event_id=event_id)
    except AuditEvent.DoesNotExist as exc:
        raise NotFound() from exc
    return event_as_dict(event)


@router.get("/orgs/{orgId}/event-actions", response={200: CatalogueActionPage, **ERRORS})
def event_actions(request: HttpRequest, org_id: OrgId):
    """Every action key an event can have, with its display name and category."""
    queries.org_of_key(org=request.org, org_id=org_id)
    data = [{"key": a.key, "name": a.name, "category": a.category} for a in catalogue.ACTIONS]
    return page(request, data, next_cursor=None, size=len(data))


@router.get("/orgs/{orgId}/events-stream", response={200: EventPage, **ERRORS})
def events_stream(request: HttpRequest, org_id: OrgId, params: Query[StreamQuery]):
    """Every event in id order; ascending pages can be polled through their `next` link."""
    org = queries.org_of_key(org=request.org, org_id=org_id)
    ascending = params.sort_order == "asc"
    rows, continue_from = queries.events_stream(
        org=org, ascending=ascending, after=_event_id(params.cursor), size=params.limit
    )
    next_cursor = cursor_encode([continue_from]) if continue_from is not None else None
    return page(request, [event_as_dict(e) for e in rows], next_cursor=next_cursor, size=params.limit)
