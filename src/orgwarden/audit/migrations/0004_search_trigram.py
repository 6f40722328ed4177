"""On PostgreSQL, a trigram index on the audit events' search text, so the log's search (a substring
``LIKE`` on ``search_text``) reads the few matching events instead of every event of the org: at a
million events a search for one person took about a second, and grows with the log.

It needs the ``pg_trgm`` extension (in PostgreSQL's contrib, "trusted" since PostgreSQL 13, so the
database's owner may create it). Where the extension cannot be created, the migration says so and
goes on without the index: the search still answers, by reading the org's events. The index is built
``CONCURRENTLY`` (outside a transaction) so an upgrade does not hold up the writes of a running
service, every one of which records an event.

SQLite gets nothing: it is the embedded default for small organisations, where reading the events is
quick, and its trigram index (FTS5) would need a copy of every event's text.
"""

import logging

from django.db import migrations

logger = logging.getLogger("orgwarden.audit")

INDEX = "audit_search_trgm"
CREATE_INDEX = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON audit_auditevent USING gin (search_text gin_trgm_ops)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:  # noqa: BLE001 — any refusal: no privilege, contrib not installed
            logger.warning(
                "audit log search: no trigram index, because the pg_trgm extension could not be "
                "created (%s). Search still works, by reading the org's events; for an index, have a "
                "superuser run CREATE EXTENSION pg_trgm; then %s;",
                str(exc).strip(),
                CREATE_INDEX,
            )
            return
        # A build interrupted earlier leaves an invalid index that IF NOT EXISTS would keep.
        cursor.execute(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND NOT i.indisvalid",
            [INDEX],
        )
        if cursor.fetchone():
            cursor.execute(f"DROP INDEX CONCURRENTLY {INDEX}")
        cursor.execute(CREATE_INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("audit", "0003_actor_api_key")]
    operations = [migrations.RunPython(create, drop, atomic=False)]
