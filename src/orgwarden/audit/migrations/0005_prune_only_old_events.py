"""On PostgreSQL, let the retention job, and only it, delete audit events older than its cutoff.

0002's trigger refuses every UPDATE and DELETE of an audit event. This replaces the function it
calls (the trigger itself stays) with one that still refuses every UPDATE, and every DELETE except
of a row whose ``occurred_at`` is before the timestamp in the transaction-local setting
``orgwarden.audit_prune_before``. Only ``audit.services.events_prune`` sets it, with
``set_config(..., true)`` (``SET LOCAL``) in each batch's own transaction, so it is gone at that
transaction's end and no other statement of the app, in that connection or any other, can delete
an event; nor can the pruner delete one younger than the cutoff it announced.

SQLite gets its DELETE trigger, with the same kind of gap, in 0006. Additive for an upgrade: the version still serving never deletes an event, and every UPDATE
and DELETE it could send is refused as before.
"""

from django.db import migrations

PRUNE_SETTING = "orgwarden.audit_prune_before"

ALLOW_OLD_DELETES = f"""
CREATE OR REPLACE FUNCTION audit_event_immutable() RETURNS trigger AS $$
DECLARE
  before text := current_setting('{PRUNE_SETTING}', true);
BEGIN
  IF TG_OP = 'DELETE' AND before IS NOT NULL AND before <> ''
     AND OLD.occurred_at < before::timestamptz THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit events are immutable';
END; $$ LANGUAGE plpgsql;
"""

REFUSE_ALL = (
    "CREATE OR REPLACE FUNCTION audit_event_immutable() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit events are immutable'; END; $$ LANGUAGE plpgsql;"
)


def allow_prune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW_OLD_DELETES)


def refuse_all(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REFUSE_ALL)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_search_trigram")]
    operations = [migrations.RunPython(allow_prune, refuse_all)]
