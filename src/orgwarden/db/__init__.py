"""A cursor for the hot paths' fixed statements: prepared once per connection on PostgreSQL.

Django binds parameters on the client and never prepares a statement, so PostgreSQL plans each one
again at every call. For the long fixed statement of token introspection that planning is most of
the server's work (0.6–1.1 ms against 0.1–0.2 ms to run it, on this project's bench machine).
``prepared_cursor()`` gives, on PostgreSQL, a cursor that binds on the server and prepares every
statement it runs: the first call on a connection plans it, later ones only execute. On SQLite,
Python's sqlite3 already keeps compiled statements (keyed by their text); what it gives there is
Django's cursor with the ``%s`` → ``?`` rewrite done once per statement text instead of by a regular
expression at every call (about 40 µs for introspection's statement). With PostgreSQL's prepared
statements switched off it is Django's own cursor.

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
    if db.vendor == "sqlite":
        cursor_class = _sqlite_class()
    elif db.vendor == "postgresql" and db.settings_dict["OPTIONS"].get("prepare_threshold") is not None:
        cursor_class = _preparing_class()
    else:
        with db.cursor() as cursor:
            yield cursor
        return
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        raw = (
            db.connection.cursor(factory=cursor_class)
            if db.vendor == "sqlite"
            else cursor_class(db.connection)
        )
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


@cache
def _sqlite_class() -> type:
    """Django's SQLite cursor, rewriting each statement's placeholders once per statement text."""
    from django.db.backends.sqlite3.base import SQLiteCursorWrapper

    class Rewritten(SQLiteCursorWrapper):
        rewritten: dict[str, str] = {}  # shared by the class; only the hot paths' fixed statements

        def convert_query(self, query, *, param_names=None):
            if param_names is not None:
                return super().convert_query(query, param_names=param_names)
            done = self.rewritten.get(query)
            if done is None:
                done = super().convert_query(query)
                if len(self.rewritten) < 256:
                    self.rewritten[query] = done
            return done

    return Rewritten
