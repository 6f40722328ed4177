"""The background jobs ``orgwarden serve`` runs beside its workers.

- The daily jobs (re-check verified domains, run due account deletions, certificate and billing
  checks, refresh insights rollups, delete product sign-in tokens nobody can use any more, delete
  audit events older than ``ORGWARDEN_AUDIT_RETENTION_DAYS``):
  ``orgwarden daily`` runs them once per UTC day for the whole installation: it takes a lock in the
  shared cache (the database, or Redis), so however many processes or machines start it, each
  day's jobs run once. ``orgwarden serve`` starts it every hour in a child process (turn that off
  with ``ORGWARDEN_DAILY_JOBS=false`` and run ``orgwarden daily`` from cron instead). One job
  failing does not stop the others; the command exits non-zero if any failed. What each job
  reports (how many domains re-checked …) is logged by ``orgwarden.jobs`` at INFO, in the log's
  format.
- The insights refresh: ``orgwarden insights refresh --every N`` refreshes, every N seconds
  (``ORGWARDEN_INSIGHTS_REFRESH_SECONDS``, 60), the insights rollups of the orgs whose rollups are
  more than a minute old, so a chart reads counts already made. ``orgwarden serve`` keeps one such
  child process running (started again if it dies); it exits by itself when the server does. On
  several machines each runs one: an org is refreshed by whichever comes first, the others find it
  fresh (``insights.rollups.refreshed`` locks the org's state row).

Both run in child processes so that gunicorn's arbiter never holds a database connection its
forked workers would inherit. When the server stops (SIGTERM, Ctrl-C) it ends both before it
exits (``stop_children``), and a daily run it started also ends by itself if the server is gone
(killed): it would otherwise go on alone, an orphan nobody stops. A daily run stopped part-way
ends its current job as an exception does — that job's transaction is rolled back, nothing of it
half-applied — and gives back the day, so the jobs it had not finished run at the next start
(or the next hourly check on another machine); the ones it finished are not run twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

from django.core.cache import cache
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

log = logging.getLogger("orgwarden.jobs")

DAILY_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("domains", "recheck"),
    ("accounts", "purge"),
    ("sso", "check-certificates"),
    ("billing", "daily"),
    ("insights", "daily"),
    ("oidc", "prune"),
    ("audit", "prune"),
)
LOCK_SECONDS = 36 * 3600
SCHEDULER_INTERVAL = 3600


def run_daily(*, force: bool = False) -> int:
    """Run every daily command unless today's run already happened; returns how many failed.

    Stopped part-way (``SystemExit`` from ``stopping_on_sigterm``, ``KeyboardInterrupt``), the run
    gives today's lock back, so the commands it had not finished run again; those it finished
    are remembered for the day and skipped then."""
    day = f"orgwarden-daily:{timezone.now().date().isoformat()}"
    if not force and not cache.add(day, "running", timeout=LOCK_SECONDS):
        log.info("daily jobs already ran today")
        return 0
    finished = cache.get_many([_finished_key(day, command) for command in DAILY_COMMANDS])
    failures = 0
    current = None
    try:
        for command in DAILY_COMMANDS:
            if not force and _finished_key(day, command) in finished:
                continue  # finished by a run of today that was stopped after it
            current = command
            failures += _run_job(command)
            cache.set(_finished_key(day, command), "done", timeout=LOCK_SECONDS)
    except BaseException:
        log.warning(
            "daily jobs stopped during %s; the jobs not finished run at the next start",
            " ".join(current or ()),
        )
        if not force:
            with contextlib.suppress(Exception):  # the cache gone too: today's remaining jobs wait a day
                cache.delete(day)
        raise
    return failures


def _finished_key(day: str, command: tuple[str, ...]) -> str:
    """The cache key saying that ``command`` finished on ``day`` (a digest: no spaces in keys)."""
    return f"{day}:finished:{hashlib.sha256(' '.join(command).encode()).hexdigest()[:16]}"


def _run_job(command: tuple[str, ...]) -> int:
    """Run one daily command; returns 1 if it failed (logged with its trace), else 0."""
    out = io.StringIO()
    try:
        call_command(*command, stdout=out)
    except Exception:  # one job must not stop the others; the failure is logged with its trace
        log.exception("daily job %s failed", " ".join(command))
        return 1
    finally:  # each job's summary as log lines, in the log's format (JSON lines stay JSON)
        for line in out.getvalue().splitlines():
            if line.strip():
                log.info("%s", line, extra={"job": " ".join(command)})
    return 0


@contextlib.contextmanager
def stopping_on_sigterm(*, parent: int | None = None) -> Iterator[None]:
    """While the block runs, SIGTERM ends it as Ctrl-C does: ``SystemExit`` is raised wherever it
    runs, so the open transaction rolls back and ``run_daily`` gives the day back. With
    ``parent``, this process also sends itself SIGTERM once ``parent`` is no longer its parent
    (the server was killed). Outside the main thread (signals go there only) the block just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame) -> None:
        raise SystemExit(128 + signum)

    done = threading.Event()

    def watch() -> None:
        while os.getppid() == parent:
            if done.wait(1.0):  # another process's life: polled, nothing in this one to wait on
                return
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, stop)
    if parent is not None:
        threading.Thread(target=watch, name="orgwarden-parent-watch", daemon=True).start()
    try:
        yield
    finally:
        done.set()
        signal.signal(signal.SIGTERM, previous)


def start_scheduler(interval: int = SCHEDULER_INTERVAL) -> threading.Thread:
    """Start ``orgwarden daily`` in a child process now and every ``interval`` seconds; it ends
    when this process does (``--while-parent`` this process)."""
    return _repeat("daily", ["daily", f"--while-parent={os.getpid()}"], interval, timeout=3600)


def refresh_loop(*, every: float, parent: int | None = None, passes: int | None = None) -> int:
    """Refresh the insights rollups (``rollups.refresh_all``) now and every ``every`` seconds while
    the process ``parent`` (by default the one that started this one) lives, or for ``passes``
    passes; returns how many passes ran. A failed pass is logged and the next one starts afresh."""
    from orgwarden.insights import rollups

    parent = os.getppid() if parent is None else parent
    done = 0
    while os.getppid() == parent and (passes is None or done < passes):
        try:
            rollups.refresh_all()
        except Exception:  # the database restarting must not end the refresh; the trace is logged
            log.exception("the insights refresh failed")
        finally:  # a connection idle for a minute may be gone by the next pass: each opens its own
            _close_idle_connections()
        done += 1
        if passes is not None and done >= passes:
            break
        until = time.monotonic() + every
        while os.getppid() == parent and time.monotonic() < until:  # notice a gone parent within a second
            time.sleep(min(1.0, max(until - time.monotonic(), 0)))
    return done


def _close_idle_connections() -> None:
    """Close this thread's database connections, but none inside a transaction its caller opened."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


_stopping = threading.Event()
_children: dict[str, subprocess.Popen] = {}  # each job's current child process, by name
_children_lock = threading.Lock()  # no child is started once stop_children has begun
STOP_GRACE_SECONDS = 10.0
# A fork of this process and a job thread's ``Popen`` exclude each other. ``Popen`` waits until its
# child has exec'd, on a pipe whose write end closes at that exec; a process forked from here in
# that instant — gunicorn's arbiter forks a worker at start, and again whenever one is replaced —
# inherits that write end too (close-on-exec, and a worker never execs) and keeps it open for its
# whole life. The ``Popen`` then never returns: its job never runs again (the daily jobs stopped
# until the next restart, or, holding ``_children_lock``, the insights refresh never started).
_fork_lock = threading.Lock()
_fork_guarded = False


def _guard_forks() -> None:
    """Make every later fork of this process wait for a job's ``Popen`` under way (once)."""
    global _fork_guarded
    if not _fork_guarded:
        os.register_at_fork(
            before=_fork_lock.acquire,
            after_in_parent=_fork_lock.release,
            after_in_child=_fork_lock.release,
        )
        _fork_guarded = True


def start_refresher(every: int) -> threading.Thread:
    """Keep ``orgwarden insights refresh --every <every>`` running in a child process, started again
    ``every`` seconds after it exits."""
    return _repeat("insights-refresh", ["insights", "refresh", f"--every={every}"], every)


def stop_children(grace: float = STOP_GRACE_SECONDS) -> None:
    """End the jobs' child processes (the server is shutting down) and start no more: SIGTERM
    (which rolls a daily job's transaction back, ``stopping_on_sigterm``), then SIGKILL for one that
    has not exited within ``grace`` seconds. Returns once they have all exited."""
    with _children_lock:
        _stopping.set()
        running = [child for child in _children.values() if child.poll() is None]
    for child in running:
        with contextlib.suppress(ProcessLookupError):
            child.terminate()
    deadline = time.monotonic() + grace
    for child in running:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            log.warning("orgwarden %s did not stop within %s s; killed", " ".join(child.args[4:]), grace)
            child.kill()
            child.wait()


def _repeat(
    name: str,
    command: list[str],
    interval: int,
    *,
    timeout: float | None = None,
) -> threading.Thread:
    """Run ``orgwarden <command>`` in a child process now, and again ``interval`` seconds after each
    run ends, until the server stops; a run longer than ``timeout`` seconds is killed, one that fails
    is logged. The running child is in ``_children[name]``."""
    _guard_forks()

    def loop() -> None:
        while not _stopping.is_set():
            try:
                # -P: ``-m`` would put the directory serve started in first on sys.path, and a file
                # there named like a dependency (dns.py, …) would be imported instead of it
                with _children_lock:
                    if _stopping.is_set():
                        return
                    with _fork_lock:  # no worker forked while the child is between fork and exec
                        child = subprocess.Popen([sys.executable, "-P", "-m", "orgwarden.cli", *command])  # noqa: S603
                    _children[name] = child
                try:
                    code = child.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    child.kill()
                    code = child.wait()
                if code and not _stopping.is_set():
                    log.warning(
                        "orgwarden %s exited with %s; again in %s s", " ".join(command), code, interval
                    )
            except (OSError, subprocess.SubprocessError):
                log.exception("could not start orgwarden %s", " ".join(command))
            _stopping.wait(interval)

    thread = threading.Thread(target=loop, name=f"orgwarden-{name}", daemon=True)
    thread.start()
    return thread
