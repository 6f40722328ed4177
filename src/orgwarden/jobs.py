"""The daily jobs: re-check verified domains, run due account deletions, refresh insights rollups.

``orgwarden daily`` runs them once per UTC day for the whole installation: it takes a lock in the
shared cache (the database, or Redis), so however many processes or machines start it, each day's
jobs run once. ``orgwarden serve`` starts it every hour in a child process (turn that off with
``ORGWARDEN_DAILY_JOBS=false`` and run ``orgwarden daily`` from cron instead). One job failing does
not stop the others; the command exits non-zero if any failed.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading

from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

log = logging.getLogger("orgwarden.jobs")

DAILY_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("domains", "recheck"),
    ("accounts", "purge"),
    ("sso", "check-certificates"),
    ("billing", "daily"),
    ("insights", "daily"),
)
LOCK_SECONDS = 36 * 3600
SCHEDULER_INTERVAL = 3600


def run_daily(*, force: bool = False) -> int:
    """Run every daily command unless today's run already happened; returns how many failed."""
    lock = f"orgwarden-daily:{timezone.now().date().isoformat()}"
    if not force and not cache.add(lock, "running", timeout=LOCK_SECONDS):
        log.info("daily jobs already ran today")
        return 0
    failures = 0
    for command in DAILY_COMMANDS:
        try:
            call_command(*command)
        except Exception:  # one job must not stop the others; the failure is logged with its trace
            failures += 1
            log.exception("daily job %s failed", " ".join(command))
    return failures


def start_scheduler(interval: int = SCHEDULER_INTERVAL) -> threading.Thread:
    """Start ``orgwarden daily`` in a child process now and every ``interval`` seconds."""

    def loop() -> None:
        stop = threading.Event()
        while not stop.is_set():
            try:
                subprocess.run([sys.executable, "-m", "orgwarden.cli", "daily"], check=False, timeout=3600)
            except (OSError, subprocess.SubprocessError):
                log.exception("could not start the daily jobs")
            stop.wait(interval)

    thread = threading.Thread(target=loop, name="orgwarden-daily", daemon=True)
    thread.start()
    return thread
