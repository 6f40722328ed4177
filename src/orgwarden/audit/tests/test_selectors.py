"""What an org sees of the audit log, how the filters narrow it, and keyset paging."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit import selectors
from orgwarden.audit.ids import new_ulid
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.selectors import EventFilters
from orgwarden.audit.services import Actor, Target, audit_export_record, event_record
from orgwarden.testing.plans import plan_of

ORG = "org-a"


def record(action: str, actor: Actor, org_id: str = ORG, targets=(), **kwargs) -> AuditEvent:
    with transaction.atomic():
        return event_record(action=action, actor=actor, org_id=org_id, targets=targets, **kwargs)


def ids_of(accounts) -> object:
    """A values_list queryset of account ids, as the orgs app passes its people in."""
    return Account.objects.filter(pk__in=[a.pk for a in accounts]).values_list("account_id", flat=True)


def bulk_events(n: int, org_id: str = ORG, action: str = "org:renamed") -> list[str]:
    now = datetime.now(UTC)
    events = [
        AuditEvent(
            id=new_ulid(now),
            org_id=org_id,
            occurred_at=now,
            action=action,
            actor_type="system",
            actor_name="orgwarden",
            search_text=f"event {i}",
        )
        for i in range(n)
    ]
    AuditEvent.objects.bulk_create(events)
    return sorted((e.id for e in events), reverse=True)


def visible(filters: EventFilters | None = None, people=None) -> list[AuditEvent]:
    filters = filters or EventFilters()
    return list(selectors.events_for_org(org_id=ORG, people_ids=people, filters=filters))


@pytest.mark.django_db
def test_org_sees_its_events_and_its_peoples_account_events_only():
    admin, stranger = AccountFactory(), AccountFactory()
    own = record("org:renamed", Actor.system())
    record("org:renamed", Actor.system(), org_id="org-b")
    admin_signin = record("account:signin:succeeded", Actor.account(admin), org_id="")
    record("account:signin:succeeded", Actor.account(stranger), org_id="")
    # An event of another org by our admin is not ours to see, an account-level one included: an
    # admin of both orgs ending the sessions of a person org B manages (it carries org B's id).
    record("org:renamed", Actor.account(admin), org_id="org-b")
    record("account:sessions:ended_all", Actor.account(admin), org_id="org-b")

    assert set(visible(people=ids_of([admin]))) == {admin_signin, own}
    assert [e.id for e in visible(people=None)] == [own.id]


@pytest.mark.django_db
def test_people_are_a_subquery_not_a_python_list():
    admin = AccountFactory()
    people = ids_of([admin])
    with CaptureQueriesContext(connection) as queries:
        list(selectors.events_for_org(org_id=ORG, people_ids=people, filters=EventFilters()))
    assert len(queries) == 1
    assert "accounts_account" in queries[0]["sql"]


@pytest.mark.django_db
def test_filter_by_category_action_actor_and_text():
    ann = AccountFactory(email="ann@example.com", display_name="Ann Archer")
    bob = AccountFactory(email="bob@example.com", display_name="Bob Baker")
    renamed = record("org:renamed", Actor.account(ann))
    invited = record(
        "org:admin:invited",
        Actor.account(bob),
        targets=[Target("invitation", "i1", "Carol Cole", "carol@example.com")],
    )
    removed = record("org:admin:removed", Actor.account(ann), targets=[Target.account(bob)])

    assert set(visible(EventFilters(category="Administrators"))) == {removed, invited}
    assert set(visible(EventFilters(category="Organization"))) == {renamed}
    assert set(visible(EventFilters(action="org:admin:invited"))) == {invited}
    assert set(visible(EventFilters(category="Administrators", action="org:admin:removed"))) == {removed}
    assert set(visible(EventFilters(actor="ann@example.com"))) == {removed, renamed}
    assert set(visible(EventFilters(actor="ANN@example.com"))) == {removed, renamed}
    assert set(visible(EventFilters(actor=bob.account_id))) == {invited}
    assert visible(EventFilters(actor="ann")) == []  # exact, not contains
    assert set(visible(EventFilters(q="carol"))) == {invited}
    assert set(visible(EventFilters(q="BAKER"))) == {removed, invited}
    assert visible(EventFilters(q="nobody")) == []


@pytest.mark.django_db
def test_an_address_or_domain_typed_in_unicode_finds_its_stored_ascii_form():
    anna = AccountFactory(email="anna@xn--mller-kva.de", display_name="Anna Müller")
    claimed = record("org:account:claimed", Actor.system(), targets=[Target.account(anna)])
    added = record(
        "org:domain:added", Actor.account(anna), targets=[Target("domain", "d1", "xn--mller-kva.de")]
    )
    typed = record("account:signin:failed", Actor.anonymous("jürgen@müller.de"))  # kept as typed

    assert set(visible(EventFilters(q="anna@müller.de"))) == {claimed, added}
    assert set(visible(EventFilters(q="Anna@MÜLLER.de"))) == {claimed, added}
    assert set(visible(EventFilters(q="müller.de"))) == {claimed, added, typed}
    assert set(visible(EventFilters(q="anna@xn--mller-kva.de"))) == {claimed, added}
    assert set(visible(EventFilters(q="Müller"))) == {claimed, added, typed}  # the name, as typed
    assert set(visible(EventFilters(actor="Anna@Müller.de"))) == {added}
    assert visible(EventFilters(q="bücher.de")) == []
    assert visible(EventFilters(actor="anna@bücher.de")) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typed", ["müller,de", "anna@müller..de", "ü" * 80 + ".de", "🙂.de", "\u200dü", "@ü@"]
)
def test_what_idna_refuses_is_searched_as_typed(typed):
    record("org:renamed", Actor.system(), targets=[Target("org", ORG, f"Shop {typed}")])
    assert len(visible(EventFilters(q=typed))) == 1
    assert visible(EventFilters(actor=typed)) == []


@pytest.mark.django_db
def test_date_range_is_inclusive_utc_days():
    with time_machine.travel(datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC), tick=False):
        first = record("org:renamed", Actor.system())
    with time_machine.travel(datetime(2026, 3, 2, 0, 0, 0, tzinfo=UTC), tick=False):
        second = record("org:renamed", Actor.system())
    with time_machine.travel(datetime(2026, 3, 3, 12, 0, tzinfo=UTC), tick=False):
        third = record("org:renamed", Actor.system())

    assert visible(EventFilters(date_from=date(2026, 3, 2))) == [third, second]
    assert visible(EventFilters(date_to=date(2026, 3, 1))) == [first]
    assert visible(EventFilters(date_from=date(2026, 3, 2), date_to=date(2026, 3, 2))) == [second]
    assert visible(EventFilters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 3))) == [
        third,
        second,
        first,
    ]


@pytest.mark.django_db
def test_keyset_pages_walk_the_log_without_overlap():
    expected = bulk_events(120)
    first = selectors.events_page(org_id=ORG, people_ids=None, filters=EventFilters())
    assert [e.id for e in first.events] == expected[:50]
    assert first.newer_cursor is None and first.older_cursor == expected[49]

    second = selectors.events_page(
        org_id=ORG, people_ids=None, filters=EventFilters(), before=first.older_cursor
    )
    assert [e.id for e in second.events] == expected[50:100]
    assert second.newer_cursor == expected[50] and second.older_cursor == expected[99]

    third = selectors.events_page(
        org_id=ORG, people_ids=None, filters=EventFilters(), before=second.older_cursor
    )
    assert [e.id for e in third.events] == expected[100:]
    assert third.older_cursor is None

    back = selectors.events_page(
        org_id=ORG, people_ids=None, filters=EventFilters(), after=third.newer_cursor
    )
    assert [e.id for e in back.events] == expected[50:100]
    assert back.newer_cursor == expected[50] and back.older_cursor == expected[99]


@pytest.mark.django_db
def test_a_page_never_uses_offset():
    bulk_events(60)
    with CaptureQueriesContext(connection) as queries:
        selectors.events_page(org_id=ORG, people_ids=None, filters=EventFilters(), before="7" * 26)
    assert all("OFFSET" not in q["sql"].upper() for q in queries)


@pytest.mark.django_db
def test_a_filtered_page_with_the_org_people_reads_each_scope_along_its_index():
    """The org's own events and its admins' account-level ones are read apart, each in its index's
    order and limited to the page, then merged: one query of their OR made SQLite gather every
    matching event of the org and sort them for each page (the whole year of a big org)."""
    admin = AccountFactory()
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        old_signin = record("account:signin:succeeded", Actor.account(admin), org_id="")
    added = bulk_events(60, action="org:group:member_added")
    bulk_events(10)  # other actions of the org
    signin = record("account:signin:succeeded", Actor.account(admin), org_id="")
    people = ids_of([admin])
    for filters, newest in (
        (EventFilters(action="org:group:member_added"), added[:50]),
        (EventFilters(), None),
    ):
        with CaptureQueriesContext(connection) as queries:
            page = selectors.events_page(org_id=ORG, people_ids=people, filters=filters)
        if newest is not None:
            assert [e.id for e in page.events] == newest
        else:
            assert page.events[0].id == signin.id and old_signin not in page.events
        audit = [q["sql"] for q in queries if 'FROM "audit_auditevent"' in q["sql"]]
        assert all(" OR " not in sql for sql in audit), audit  # the scopes are read apart
        own = [sql for sql in audit if '"actor_id" IN' not in sql]  # the org's own events
        assert own
        for sql in own:
            plan = plan_of(sql)
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
    older = selectors.events_page(
        org_id=ORG, people_ids=people, filters=EventFilters(), before=page.older_cursor
    )
    assert [e.id for e in older.events][-1] == old_signin.id and older.older_cursor is None
    assert older.newer_cursor == older.events[0].id


@pytest.mark.django_db
def test_event_for_org_refuses_events_the_org_may_not_see():
    other = record("org:renamed", Actor.system(), org_id="org-b")
    mine = record("org:renamed", Actor.system())
    assert selectors.event_for_org(org_id=ORG, people_ids=None, event_id=mine.id) == mine
    with pytest.raises(AuditEvent.DoesNotExist):
        selectors.event_for_org(org_id=ORG, people_ids=None, event_id=other.id)


@pytest.mark.django_db
def test_export_iterates_in_keyset_chunks():
    expected = bulk_events(25)
    with CaptureQueriesContext(connection) as queries:
        got = [
            e.id
            for e in selectors.events_for_export(
                org_id=ORG, people_ids=None, filters=EventFilters(), chunk_size=10
            )
        ]
    assert got == expected
    assert len(queries) == 3
    assert all("OFFSET" not in q["sql"].upper() for q in queries)


@pytest.mark.django_db
def test_event_as_dict_has_the_whole_event():
    event = record(
        "org:renamed",
        Actor("account", "a1", "Ann", "ann@example.com"),
        targets=[Target("org", ORG, "Acme")],
        details={"from": "A", "to": "Acme"},
    )
    data = selectors.event_as_dict(event)
    assert data["id"] == event.id and data["time"].endswith("Z")
    assert data["action"] == {"key": "org:renamed", "name": "Organization renamed"}
    assert data["category"] == "Organization"
    assert data["actor"]["email"] == "ann@example.com"
    assert data["targets"] == [{"type": "org", "id": ORG, "name": "Acme"}]
    assert data["details"] == {"from": "A", "to": "Acme"}


def test_filters_as_dict_keeps_only_what_is_set():
    assert EventFilters(date_from=date(2026, 1, 2), q="ann").as_dict() == {
        "date_from": "2026-01-02",
        "q": "ann",
    }


@pytest.mark.django_db
def test_audit_export_record_records_the_filters():
    event = audit_export_record(org_id=ORG, actor=Actor.system(), filters={"q": "ann"})
    assert event.action == "org:audit:exported" and event.org_id == ORG
    assert event.details == {"filters": {"q": "ann"}, "format": "csv"}


@pytest.mark.django_db
def test_a_search_is_served_by_an_index():
    """PostgreSQL: the search's ``LIKE`` can be answered by the trigram index (migration 0004), so a
    search for one person reads the few events that name them; without it, it read every event of
    the org — about a second at a million events, and more as the log grows. SQLite has no such
    index: the search reads the org's events along the org's index, never the whole table."""
    anna = AccountFactory(email="anna@example.com", display_name="Anna Example")
    record("org:renamed", Actor.account(anna), targets=[Target.account(anna)])
    bulk_events(30)
    filters = EventFilters(q="Anna@Example.com")
    with CaptureQueriesContext(connection) as queries:
        page = selectors.events_page(org_id=ORG, people_ids=None, filters=filters)
    assert [e.actor_email for e in page.events] == ["anna@example.com"]
    (sql,) = [q["sql"] for q in queries if 'FROM "audit_auditevent"' in q["sql"]]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The search's own condition, as the page's query writes it, without the org's (whose
            # index the planner may rightly prefer on a table this small).
            likes = re.findall(r"\S*\"search_text\"\S* LIKE '[^']*'", sql)
            assert likes, sql
            plan = plan_of(f'SELECT "search_text" FROM "audit_auditevent" WHERE {" OR ".join(likes)}')  # noqa: S608 (the query's own text)
            assert "audit_search_trgm" in plan, plan
        else:
            plan = plan_of(sql)
            assert "USING INDEX audit_org_id_desc" in plan and "SCAN audit_auditevent" not in plan, plan
