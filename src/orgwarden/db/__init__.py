"""A cursor for the hot paths' fixed statements: prepared once per connection on PostgreSQL.

Django binds parameters on the client and never prepares a statement, so PostgreSQL plans each one
again at every call. For the long fixed statement of token introspection that planning is most of
the server's work (0.6–1.1 ms against 0.1–0.2 ms to run it, on this project's bench machine).
``prepared_cursor()`` gives, on PostgreSQL, a cursor that binds on the server and prepares every
statement it runs: the first call on a connection plans it, later ones only execute. Everywhere
else — SQLite, or PostgreSQL with prepared statements switched off — it is Django's own cursor.

It is still a Django cursor (errors become ``django.db`` errors, tests see its queries): the
difference is only in how psycopg sends the statement. Statements run through it must be
server-bindable: every ``%s`` where PostgreSQL can infer the parameter's type from the context.

Prepared statements live in a server session, so a connection pooler in transaction mode must
support them (PgBouncer 1.21+ with ``max_prepared_statements``); behind one that does not, set
``ORGWARDEN_DATABASE_PREPARED_STATEMENTS=false`` (``settings.py`` leaves psycopg's
``prepare_threshold`` unset, as Django does by default, and this falls back to Django's cursor).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper


@contextmanager
def prepared_cursor(using: str = DEFAULT_DB_ALIAS) -> Iterator[CursorWrapper]:
    """A cursor whose statements PostgreSQL prepares once per connection (see the module docstring)."""
    db = connections[using]
    if db.vendor != "postgresql" or db.settings_dict["OPTIONS"].get("prepare_threshold") is None:
        with db.cursor() as cursor:
            yield cursor
        return
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        raw = _preparing_class()(db.connection)
    db.validate_thread_sharing()
    cursor = db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)
    with cursor:
        yield cursor


@cache
def _preparing_class() -> type:
    """Django's server-binding psycopg cursor, preparing by default (imported late: needs psycopg)."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    class Preparing(ServerBindingCursor):
        def execute(self, query, params=None, *, prepare=True, binary=None):
            return super().execute(query, params, prepare=prepare, binary=binary)

    return Preparing
