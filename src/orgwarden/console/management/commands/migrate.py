"""``orgwarden migrate``: Django's ``migrate``, run by one process at a time per database.

Every ``orgwarden serve`` migrates before it serves, so machines started together (a deploy to
several machines, a rollout of several replicas) ran the same migrations at once: all but one
failed half-way ("relation already exists", "table … already exists") and stopped with a
traceback, and two builds of one ``CREATE INDEX CONCURRENTLY`` could leave an invalid index. Now
each takes a lock first and the others wait for it, then find nothing left to do:

- PostgreSQL: a session-level advisory lock (``LOCK_KEY``; advisory locks are per database). A
  waiter asks for it once a second with ``pg_try_advisory_lock`` rather than blocking in
  ``pg_advisory_lock``: a statement blocked there keeps its snapshot, and the holder's
  ``CREATE INDEX CONCURRENTLY`` waits for every older snapshot to end — each would wait for the
  other. The lock ends with the session too, so a migrate that is killed leaves none behind.
- SQLite: an exclusive ``flock`` on ``<database>.migrate-lock`` beside the file (one machine).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from django.core.management.commands import migrate
from django.db import connections

LOCK_KEY = 0x6F72_6777_6D69  # "orgwmi": orgwarden's migrations
POLL_SECONDS = 1.0


class Command(migrate.Command):
    help = "Apply the database migrations, one process at a time (others wait for it)."

    def handle(self, *args, **options):
        connection = connections[options["database"]]
        with migration_lock(connection, say=self._say if options["verbosity"] >= 1 else None):
            return super().handle(*args, **options)

    def _say(self, message: str) -> None:
        self.stdout.write(message)


@contextlib.contextmanager
def migration_lock(connection, *, say=None) -> Iterator[None]:
    """Hold this database's migration lock while the block runs; ``say`` hears, once, that
    another process holds it and this one waits."""
    if connection.vendor == "postgresql":
        with _advisory_lock(connection, say):
            yield
        return
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        yield
        return
    path = Path(name).with_name(Path(name).name + ".migrate-lock")
    try:
        handle = open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w")  # noqa: SIM115 - closed below
    except OSError:  # no directory for it: SQLite will say why it cannot open the database either
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if say:
                say("Another orgwarden is applying the migrations; waiting for it to finish.")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _advisory_lock(connection, say) -> Iterator[None]:
    waiting = False
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            if cursor.fetchone()[0]:
                break
        if say and not waiting:
            say("Another orgwarden is applying the migrations; waiting for it to finish.")
        waiting = True
        time.sleep(POLL_SECONDS)  # another process holds it: nothing in this one to wait on
    try:
        yield
    finally:
        if connection.is_usable():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
