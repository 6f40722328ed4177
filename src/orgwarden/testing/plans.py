"""The database's plan for a statement: for the tests that check an index can serve a query."""

from __future__ import annotations

from django.db import connection


def plan_of(sql: str) -> str:
    """The database's plan for ``sql``; on PostgreSQL with sorts and sequential scans priced out
    (its planner rightly prefers both on a small table: the point is whether an index can serve).
    Call it inside a transaction: the PostgreSQL settings are ``SET LOCAL``."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("EXPLAIN " + sql)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())
