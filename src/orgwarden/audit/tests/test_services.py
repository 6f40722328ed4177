import pytest
from django.db import transaction

from orgwarden.audit.models import AuditEvent, ImmutableEventError
from orgwarden.audit.services import Actor, AuditError, Target, event_record


@pytest.mark.django_db
def test_event_record_writes_one_event_with_context():
    with transaction.atomic():
        event = event_record(
            action="org:created",
            actor=Actor("account", "a1", "Ann", "ann@example.com"),
            org_id="o1",
            targets=[Target("org", "o1", "Acme")],
            details={"name": "Acme"},
        )
    stored = AuditEvent.objects.get()
    assert stored.id == event.id and len(stored.id) == 26
    assert stored.action == "org:created"
    assert stored.targets == [{"type": "org", "id": "o1", "name": "Acme"}]
    assert "ann@example.com" in stored.search_text and "acme" in stored.search_text


@pytest.mark.django_db
def test_the_stored_event_is_the_returned_one_field_for_field():
    """``event_record`` writes its row with one prepared INSERT: what it stores reads back as the
    instance it returned (JSON, the IP as the field normalises it, the request context)."""
    from orgwarden.audit import context

    ctx = context.RequestContext(ip="2001:db8::1", user_agent="Okta SCIM Client")
    with transaction.atomic(), context.using(ctx):
        event = event_record(
            action="org:created",
            actor=Actor("directory", "d1", "Okta"),
            org_id="o1",
            targets=[Target("account", "a1", "Ann", "ann@example.com")],
            details={"nested": {"list": [1, "two", None]}, "flag": True},
        )
    stored = AuditEvent.objects.get()
    assert not event._state.adding
    for field in AuditEvent._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(event, field.attname), field.attname
    assert stored.ip == "2001:db8::1" and stored.user_agent == "Okta SCIM Client"
    assert stored.details == {"nested": {"list": [1, "two", None]}, "flag": True}


@pytest.mark.django_db
def test_event_record_refuses_unknown_action():
    with pytest.raises(AuditError, match="unknown audit action"), transaction.atomic():
        event_record(action="org:nonsense", actor=Actor.system())
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_event_record_refuses_to_run_outside_a_transaction():
    with pytest.raises(AuditError, match="inside the transaction"):
        event_record(action="org:created", actor=Actor.system())
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_events_cannot_be_updated_or_deleted_by_the_app():
    with transaction.atomic():
        event = event_record(action="org:created", actor=Actor.system())
    event.action = "org:renamed"
    with pytest.raises(ImmutableEventError):
        event.save()
    with pytest.raises(ImmutableEventError):
        event.delete()
    with pytest.raises(ImmutableEventError):
        AuditEvent.objects.filter(pk=event.pk).update(action="org:renamed")
    with pytest.raises(ImmutableEventError):
        AuditEvent.objects.all().delete()


@pytest.mark.django_db
def test_database_trigger_refuses_raw_update():
    from django.db import DatabaseError, connection

    with transaction.atomic():
        event = event_record(action="org:created", actor=Actor.system())
    with (
        pytest.raises(DatabaseError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [event.id])
    assert AuditEvent.objects.get().action == "org:created"
