"""A write committed while a request is half-way through: for the tests of concurrent creates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection, connections, transaction

T = TypeVar("T")


def behind_an_open_transaction(write: Callable[[], object], request: Callable[[], T]) -> T:
    """Run ``write`` in a transaction that a thread holds open, then ``request`` in another thread,
    and commit ``write`` once ``request`` waits for it; return what ``request`` returned.

    On PostgreSQL ``request`` reads before ``write`` commits (it does not see it), and the commit
    comes only once ``request`` waits on a lock ``write`` holds (``pg_stat_activity``): the race
    where a check passed and the insert then fails. On SQLite ``request`` waits for the one write
    lock before it reads, so it sees ``write`` whenever it commits. Raises what either raised.
    """
    held, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    answers: list[T] = []

    def first() -> None:
        try:
            with transaction.atomic():
                write()
                held.set()
                release.wait(timeout=30)
        except BaseException as exc:
            failures.append(exc)
        finally:
            held.set()
            connections.close_all()

    def second() -> None:
        try:
            answers.append(request())
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    writer = threading.Thread(target=first)
    writer.start()
    held.wait(timeout=30)
    requester = threading.Thread(target=second)
    requester.start()
    try:
        if connection.vendor == "postgresql" and not failures:
            _wait_for_a_lock_wait()
    finally:
        release.set()
        writer.join(timeout=60)
        requester.join(timeout=60)
    if failures:
        raise failures[0]
    return answers[0]


def a_session_waits_on_a_lock() -> bool:
    """Whether a session of this database waits on a lock now (PostgreSQL; always ``False`` on
    SQLite, whose one writer waits unseen)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(cursor.fetchone()[0])


def _wait_for_a_lock_wait(seconds: float = 30) -> None:
    pause = threading.Event()
    for _ in range(int(seconds * 20)):
        if a_session_waits_on_a_lock():
            return
        pause.wait(0.05)
    raise AssertionError(f"no session waited on a lock within {seconds} s")
