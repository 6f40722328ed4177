"""Database triggers that refuse UPDATE (and, on PostgreSQL, DELETE) of audit events.

The model already refuses both; the triggers make the guarantee hold for any SQL the app might run.
SQLite gets no DELETE trigger because Django's test framework empties tables with DELETE there;
PostgreSQL empties them with TRUNCATE, which row triggers do not see. Retention pruning (an audited
daily job) deletes through a narrow gap that 0005 opens in the PostgreSQL trigger's function; 0006
gives SQLite a DELETE trigger with the same kind of gap.
"""

from django.db import migrations


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(
            "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent "
            "BEGIN SELECT RAISE(ABORT, 'audit events are immutable'); END;"
        )
    elif vendor == "postgresql":
        schema_editor.execute(
            "CREATE OR REPLACE FUNCTION audit_event_immutable() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit events are immutable'; END; $$ LANGUAGE plpgsql;"
        )
        schema_editor.execute(
            "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_auditevent "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_immutable();"
        )


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_event_no_update;")
    elif vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_auditevent;")
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_event_immutable();")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
