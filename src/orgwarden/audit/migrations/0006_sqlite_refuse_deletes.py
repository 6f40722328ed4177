"""On SQLite too, the database refuses to delete an audit event, except the retention job's.

0002 gave SQLite only an UPDATE trigger. This adds a DELETE trigger that refuses every DELETE of
an event unless a row of the control table ``audit_prune_gate`` says the event is older than its
``before``. Only ``audit.services.events_prune`` writes that table: in each batch's own transaction
it inserts its cutoff, deletes, and removes its row before committing, so no other connection ever
sees it (SQLite has one writer at a time, and readers see only what was committed) and no other
statement of the app can delete an event. ``before`` is in the format Django stores ``occurred_at``
in on SQLite (``YYYY-MM-DD HH:MM:SS[.ffffff]``, UTC), so the two compare as text.

``audit_prune_gate`` is no model: Django's test framework, which empties tables with DELETE on
SQLite, leaves it alone, and the test suite opens the gate in its test database (``conftest.py``).
PostgreSQL gets nothing here (0002 and 0005). Additive for an upgrade: the version still serving
never deletes an event.
"""

from django.db import migrations

CREATE = (
    "CREATE TABLE IF NOT EXISTS audit_prune_gate (before TEXT NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_auditevent "
    "WHEN NOT EXISTS (SELECT 1 FROM audit_prune_gate WHERE OLD.occurred_at < audit_prune_gate.before) "
    "BEGIN SELECT RAISE(ABORT, 'audit events are immutable'); END;",
)
DROP = ("DROP TRIGGER IF EXISTS audit_event_no_delete", "DROP TABLE IF EXISTS audit_prune_gate")


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in CREATE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_prune_only_old_events")]
    operations = [migrations.RunPython(create, drop)]
