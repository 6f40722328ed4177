"""orgwarden.db.postgresql: the per-request health check runs only after the connection idled.

Each test drives a second connection to the test database the way Django's request signals do
(``close_if_unusable_or_obsolete`` when a request starts and when it ends), persistent and with
health checks on, as ``settings.py`` configures the server; on SQLite it checks that the backend is
Django's own and that nothing here applies.
"""

from __future__ import annotations

import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections

pytestmark = pytest.mark.django_db

ON_POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def db2():
    """A persistent, health-checked connection to the test database, its health checks counted."""
    default = connections[DEFAULT_DB_ALIAS]
    wrapper = type(default)(
        {**default.settings_dict, "CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True}, alias="second"
    )
    wrapper.checks = 0
    is_usable = wrapper.is_usable

    def counted() -> bool:
        wrapper.checks += 1
        return is_usable()

    wrapper.is_usable = counted
    yield wrapper
    wrapper.close()


def request(db) -> None:
    """What one request does with the connection: signal, a query, signal."""
    db.close_if_unusable_or_obsolete()
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    db.close_if_unusable_or_obsolete()


def test_the_backend_is_orgwardens_on_postgresql_and_djangos_on_sqlite():
    module = type(connections[DEFAULT_DB_ALIAS]).__module__
    assert module == ("orgwarden.db.postgresql.base" if ON_POSTGRESQL else "django.db.backends.sqlite3.base")


def test_a_busy_connection_is_not_checked_at_every_request(db2):
    if not ON_POSTGRESQL:
        assert not hasattr(db2, "settled_at")
        return
    for _ in range(5):
        request(db2)
    assert db2.checks == 0  # the first request opened it; the others came within RECENT


def test_an_idle_connection_is_checked_and_a_dead_one_replaced(db2):
    if not ON_POSTGRESQL:
        return
    request(db2)
    db2.settled_at -= 60  # a minute idle
    request(db2)
    assert db2.checks == 1
    first = db2.connection.info.backend_pid
    with connection.cursor() as cursor:  # the server drops it while it sits idle
        cursor.execute("SELECT pg_terminate_backend(%s)", [first])
    db2.settled_at -= 60
    request(db2)  # checked, found dead, replaced: the request's query works
    assert db2.checks == 2
    assert db2.connection.info.backend_pid != first


def test_a_connection_dropped_while_busy_fails_one_request_and_is_replaced_after_it(db2):
    if not ON_POSTGRESQL:
        return
    request(db2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [db2.connection.info.backend_pid])
    db2.close_if_unusable_or_obsolete()  # the next request starts within RECENT: not checked
    with pytest.raises(OperationalError), db2.cursor() as cursor:
        cursor.execute("SELECT 1")
    db2.close_if_unusable_or_obsolete()  # it ends with an error: Django tests and closes it
    assert db2.connection is None
    request(db2)  # and the next one gets a new connection
