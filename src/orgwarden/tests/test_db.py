"""orgwarden.db.prepared_cursor: prepared on PostgreSQL, placeholders rewritten once on SQLite,
Django's errors and query count either way."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from orgwarden.accounts.models import Account
from orgwarden.db import prepared_cursor

pytestmark = pytest.mark.django_db

TABLE = Account._meta.db_table
# A statement no other code runs, so finding it prepared can only be this test's doing.
SQL = f"SELECT COUNT(*) FROM {TABLE} WHERE email = %s AND display_name <> %s"  # noqa: S608


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{TABLE}%<>%"]
        )
        return [row[0] for row in cursor.fetchall()]


def test_the_statement_runs_and_answers_with_its_parameters():
    Account.objects.create(email="ada@example.test", display_name="Ada")
    with prepared_cursor() as cursor:
        cursor.execute(SQL, ["ada@example.test", "Someone else"])
        assert cursor.fetchone() == (1,)
        cursor.execute(SQL, ["ada@example.test", "Ada"])
        assert cursor.fetchone() == (0,)


def test_postgresql_prepares_it_once_per_connection_and_sqlite_rewrites_it_once():
    for _ in range(3):
        with prepared_cursor() as cursor:
            cursor.execute(SQL, ["nobody@example.test", ""])
            cursor.fetchone()
    if connection.vendor == "postgresql":
        statements = _prepared_statements()
        assert len(statements) == 1, statements
        assert "email = $1" in statements[0]  # bound on the server, not with the values inlined
    else:  # Django's SQLite cursor, the statement's placeholders rewritten once and kept
        with prepared_cursor() as cursor, connection.cursor() as plain:
            assert isinstance(cursor.cursor, type(plain.cursor))
            assert type(cursor.cursor).rewritten[SQL] == SQL.replace("%s", "?")


def test_with_prepared_statements_off_nothing_is_prepared(monkeypatch):
    monkeypatch.delitem(connection.settings_dict["OPTIONS"], "prepare_threshold", raising=False)
    with prepared_cursor() as cursor:
        cursor.execute(SQL, ["nobody@example.test", ""])
        assert cursor.fetchone() == (0,)
    if connection.vendor == "postgresql":
        assert _prepared_statements() == []


def test_errors_are_djangos_and_queries_are_counted():
    with CaptureQueriesContext(connection) as queries, prepared_cursor() as cursor:
        cursor.execute(SQL, ["x@example.test", ""])
    assert len(queries.captured_queries) == 1  # what django_assert_num_queries counts
    with pytest.raises(DatabaseError), prepared_cursor() as cursor:
        cursor.execute(f"SELECT no_such_column FROM {TABLE}")  # noqa: S608
