"""Reads of the audit log. Every read is scoped by ``org_id`` (or by the account, for its own events).

What an org sees is its own events (``org_id`` = the org) plus the account-level events
(``org_id`` = "") of its people. Who "its people" are belongs to the ``orgs`` app, which this app
must not import: the caller passes them in as a queryset of account ids, and it becomes a SQL
subquery here, so the list is never loaded into Python however many people an org has.

Addresses and domains are stored, in events as everywhere, in their ASCII form (IDNA A-labels:
``anna@xn--mller-kva.de``); the actor filter and the search also take them as people type them
(``anna@müller.de``, ``müller.de``): see ``_as_stored``. The search matches any part of them in
Unicode too (``müll``, ``ller.de``): an event keeps its labels in Unicode as well in its search text
(``services.event_record``), so the search stays one ``LIKE`` per form of what was typed.
The console's log, its CSV export and the API's ``/events`` all filter here.

Paging is by keyset on the primary key: ids are ULIDs, so ``id < cursor`` ordered by ``-id`` walks
the log from newest to oldest, and page 500 costs what page 1 costs (no OFFSET). Date filters
become id bounds too (``ids.ulid_floor``), so they use the same indexes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from operator import or_
from typing import Any

import idna
from django.db.models import Q, QuerySet

from orgwarden.audit import catalogue
from orgwarden.audit.ids import ulid_floor
from orgwarden.audit.models import AuditEvent
from orgwarden.idn import idn_ascii

PAGE_SIZE = 50
EXPORT_CHUNK_SIZE = 1000
MAX_TARGET_ID = 64  # the longest public id a target names


@dataclass(frozen=True, slots=True)
class EventFilters:
    """The audit log's filters, already validated. Dates are UTC days, both ends inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    category: str = ""
    action: str = ""
    actor: str = ""  # an email (either IDN form) or an account id, matched exactly
    q: str = ""  # free text over the names and emails of actor and targets; either IDN form

    def as_dict(self) -> dict[str, str]:
        """The filters that are set, as strings (what the export event records)."""
        return {key: str(value) for key, value in asdict(self).items() if value}


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[AuditEvent]
    newer_cursor: str | None  # pass as ``after`` to get the page before this one
    older_cursor: str | None  # pass as ``before`` to get the page after this one


def events_recent(*, org_id: str, limit: int = 10) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(org_id=org_id).order_by("-id")[:limit]


def _as_stored(text: str) -> str:
    """``text`` with each word that has non-ASCII letters — an address or a domain typed in
    Unicode: ``anna@müller.de``, ``müller.de`` — in the ASCII form events store it in
    (``anna@xn--mller-kva.de``, ``xn--mller-kva.de``; ``orgwarden.idn.idn_ascii``, which also makes
    the stored form of addresses). A word IDNA refuses (``müller,``, a name with an apostrophe)
    stays as typed, as does every other word: the search then matches what was typed, no error.
    Typed in part, a label does not match its ASCII form (Punycode keeps no prefixes: ``müll`` is
    ``xn--mll-hoa``, not a start of ``xn--mller-kva``): ``_as_read`` is for that, against the
    Unicode form events keep beside it.
    """
    words = text.split(" ")
    for index, word in enumerate(words):
        if not word.isascii():
            with suppress(idna.IDNAError):
                words[index] = idn_ascii(word)
    return " ".join(words)


def _as_read(text: str) -> str:
    """``text`` mapped as IDNA maps a domain before encoding it (UTS #46: lower case, NFC, full-width
    letters to their plain forms), to match stored labels read back in Unicode, which went through
    that mapping. Text the mapping refuses (a character no domain may hold) stays as typed."""
    with suppress(idna.IDNAError):
        return idna.uts46_remap(text, std3_rules=False, transitional=False)
    return text


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def events_visible(*, org_id: str, people_ids: QuerySet[str] | None) -> QuerySet[AuditEvent]:
    """Every event the org ``org_id`` may see: its own, plus account-level events of ``people_ids``
    that belong to no org (an admin's own sign-ins, say; not what they did in another org).

    Account-level events of the accounts an org manages carry that org's id already (see
    ``services.org_resolvers``), so ``people_ids`` need only name the few others whose own events
    the org sees — its admins — and the query stays small however many accounts the org manages.
    ``people_ids`` is a flat ``values_list`` queryset of account ids, used as a subquery; ``None``
    means nobody beyond the org's own events.
    """
    return AuditEvent.objects.filter(reduce(or_, _scopes(org_id=org_id, people_ids=people_ids)))


def _scopes(*, org_id: str, people_ids: QuerySet[str] | None) -> list[Q]:
    """The parts of ``events_visible``: the org's own events, and its people's account-level ones."""
    scopes = [Q(org_id=org_id)]
    if people_ids is not None:  # their own account-level events; another org's are that org's
        scopes.append(Q(org_id="", actor_id__in=people_ids, action__startswith="account:"))
    return scopes


def events_for_org(
    *, org_id: str, people_ids: QuerySet[str] | None, filters: EventFilters
) -> QuerySet[AuditEvent]:
    """The org's events matching ``filters``, newest first. Unknown category/action match nothing."""
    return _filtered(events_visible(org_id=org_id, people_ids=people_ids), filters).order_by("-id")


# Ids encode their time since the Unix epoch: no event is older. Bounds outside what an id can say
# are no bound at all (or, for an end before the epoch, nothing), never a malformed id to compare
# against (before 1970) or a date past ``date.max`` (9999-12-31 + 1 day raised OverflowError).
EPOCH_DAY = date(1970, 1, 1)


def _filtered(events: QuerySet[AuditEvent], filters: EventFilters) -> QuerySet[AuditEvent]:
    if filters.date_from and filters.date_from > EPOCH_DAY:
        events = events.filter(id__gte=ulid_floor(_day_start(filters.date_from)))
    if filters.date_to and filters.date_to < EPOCH_DAY:
        return events.none()
    if filters.date_to and filters.date_to < date.max:
        events = events.filter(id__lt=ulid_floor(_day_start(filters.date_to + timedelta(days=1))))
    if filters.category:
        events = events.filter(action__in=[a.key for a in catalogue.actions_in(filters.category)])
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.actor:
        emails = {filters.actor, _as_stored(filters.actor)}
        events = events.filter(
            reduce(or_, [Q(actor_email__iexact=e) for e in emails], Q(actor_id=filters.actor))
        )
    if filters.q:
        # Addresses in their stored ASCII form; the text as typed too: names (Müller), and addresses
        # an event keeps as they were typed (an anonymous actor's: a failed sign-in of an unknown
        # address); and mapped as IDNA maps labels, for any part of the Unicode form events keep
        # beside the ASCII one ("büch" of bücher.example).
        typed = filters.q.lower()
        texts = {typed, _as_stored(typed), _as_read(typed)}
        events = events.filter(reduce(or_, [Q(search_text__contains=text) for text in texts]))
    return events


def events_page(
    *,
    org_id: str,
    people_ids: QuerySet[str] | None,
    filters: EventFilters,
    before: str | None = None,
    after: str | None = None,
    size: int = PAGE_SIZE,
) -> EventPage:
    """One page of the org's events, newest first, by keyset.

    ``before``: the page of events older than that id (the "Older" link carries the page's last
    id). ``after``: the page of events just newer than that id. Neither: the newest page.
    """
    # Each scope of the log is read apart, along its own index, and the pages merged: one query
    # of their OR made SQLite gather every matching event and sort them (all 125,000 "Added to
    # group" events of a year in a 50,000-person org) for each page of 50.
    parts = [
        _filtered(AuditEvent.objects.filter(scope), filters)
        for scope in _scopes(org_id=org_id, people_ids=people_ids)
    ]
    if after:
        rows = _first([part.filter(id__gt=after) for part in parts], size + 1, newest=False)
        has_newer = len(rows) > size
        events = list(reversed(rows[:size]))
        has_older = bool(events) and any(part.filter(id__lt=events[-1].id).exists() for part in parts)
    else:
        rows = _first(
            [part.filter(id__lt=before) if before else part for part in parts], size + 1, newest=True
        )
        has_older = len(rows) > size
        events = rows[:size]
        # Coming from a newer page: check rather than trust it (the cursor may be hand-typed).
        has_newer = bool(before and events) and any(
            part.filter(id__gt=events[0].id).exists() for part in parts
        )
    return EventPage(
        events=events,
        newer_cursor=events[0].id if events and has_newer else None,
        older_cursor=events[-1].id if events and has_older else None,
    )


def _first(parts: list[QuerySet[AuditEvent]], size: int, *, newest: bool) -> list[AuditEvent]:
    """The first ``size`` events of all ``parts`` together, newest (or oldest) first: ``size`` of
    each, in its index's order, merged."""
    rows = [event for part in parts for event in part.order_by("-id" if newest else "id")[:size]]
    rows.sort(key=lambda event: event.id, reverse=newest)
    return rows[:size]


def removal_event(*, org_id: str, action: str, target_ids: Sequence[str]) -> AuditEvent | None:
    """The org's newest ``action`` event whose targets are ``target_ids``, position by position
    (the first target's id, then the second's …), or ``None``.

    What tells a removal sent twice from an id that was never the org's: once a row is deleted,
    only the org's log says it was there. Another org's removal is in that org's log, so its id
    finds nothing here and stays a 404. One indexed query (``org_id``, ``action``).
    """
    if not target_ids or not all(_could_be_target_id(i) for i in target_ids):
        return None
    events = AuditEvent.objects.filter(org_id=org_id, action=action)
    for position, target_id in enumerate(target_ids):
        events = events.filter(**{f"targets__{position}__id": target_id})
    return events.order_by("-id").first()


def removal_events(*, org_id: str, action: str, target_ids: Sequence[str]) -> dict[str, AuditEvent]:
    """``removal_event`` for a whole selection, by first target: for each of ``target_ids`` that
    the org's ``action`` events name as their first target, the newest such event, by that id.

    For a bulk action whose selection went stale (a second tab, another admin): it tells which of
    the ids that are gone the org removed, in one indexed query (``org_id``, ``action``) however
    many there are. An id another org removed, or never had, is in none of this org's events and
    so in no key of the answer.
    """
    ids = [i for i in dict.fromkeys(target_ids) if _could_be_target_id(i)]
    if not ids:
        return {}
    found: dict[str, AuditEvent] = {}
    events = AuditEvent.objects.filter(org_id=org_id, action=action, targets__0__id__in=ids)
    for event in events.order_by("-id"):
        found.setdefault(event.targets[0]["id"], event)
    return found


def _could_be_target_id(value: object) -> bool:
    # PostgreSQL refuses a NUL in a query; no target has an empty or overlong id.
    return isinstance(value, str) and 0 < len(value) <= MAX_TARGET_ID and "\x00" not in value


def event_for_org(*, org_id: str, people_ids: QuerySet[str] | None, event_id: str) -> AuditEvent:
    """The event ``event_id`` if the org may see it; raises ``AuditEvent.DoesNotExist`` otherwise."""
    return events_visible(org_id=org_id, people_ids=people_ids).get(id=event_id)


def events_for_export(
    *,
    org_id: str,
    people_ids: QuerySet[str] | None,
    filters: EventFilters,
    chunk_size: int = EXPORT_CHUNK_SIZE,
) -> Iterator[AuditEvent]:
    """Every matching event, newest first, fetched ``chunk_size`` rows at a time by keyset.

    Memory stays flat however long the log is: each query is ``id < last id seen`` with a LIMIT,
    never an OFFSET and never the whole result.
    """
    matching = events_for_org(org_id=org_id, people_ids=people_ids, filters=filters)
    last_id: str | None = None
    while True:
        chunk_query = matching.filter(id__lt=last_id) if last_id else matching
        chunk = list(chunk_query[:chunk_size])
        yield from chunk
        if len(chunk) < chunk_size:
            return
        last_id = chunk[-1].id


def event_as_dict(event: AuditEvent) -> dict[str, Any]:
    """The whole event as plain JSON-ready data: what the detail panel shows."""
    return {
        "id": event.id,
        "time": event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "action": {"key": event.action, "name": event.display_name},
        "category": event.category,
        "actor": {
            "type": event.actor_type,
            "id": event.actor_id,
            "name": event.actor_name,
            "email": event.actor_email,
        },
        "targets": event.targets,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "details": event.details,
    }
