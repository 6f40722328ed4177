"""``orgwarden daily``: the installation's daily jobs, at most once per UTC day (see orgwarden.jobs).

SIGTERM stops it cleanly (the current job's transaction rolls back, the jobs not finished run at
the next start); ``orgwarden serve`` starts it with ``--while-parent`` so that it also stops if the
server is gone. Stopped so — during its jobs, or while it waits for their emails' retries — it
gives each email still waiting for a retry one last attempt, and logs those it gives up: once its
jobs were done it used to wait with SIGTERM's default action back, and died without a word of them.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orgwarden.accounts import emails
from orgwarden.jobs import STOP_GRACE_SECONDS, run_daily, stopping_on_sigterm

# The last attempts end well inside the STOP_GRACE_SECONDS that ``orgwarden serve`` gives this
# process before it kills it (``jobs.stop_children``), so what they give up is logged first.
LAST_ATTEMPT_SECONDS = STOP_GRACE_SECONDS - 2


class Command(BaseCommand):
    help = "Run the daily jobs (domain re-checks, due account deletions) once per day."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="run even if today's run already happened")
        parser.add_argument(
            "--while-parent", type=int, metavar="PID", help="stop (as on SIGTERM) once process PID is gone"
        )

    def handle(self, *args, force: bool = False, while_parent: int | None = None, **options):
        with stopping_on_sigterm(parent=while_parent):
            try:
                failures = run_daily(force=force)
                # The jobs' emails (domain-proof, certificate and trial warnings) whose mail server
                # was failing wait in this process for their retries: it must not exit before they
                # are made.
                emails.background_finish(timeout=settings.EMAIL_RETRY_SECONDS + 120)
            except (SystemExit, KeyboardInterrupt):  # SIGTERM (stopping_on_sigterm), Ctrl-C
                emails.retries_last_attempt(until=time.monotonic() + LAST_ATTEMPT_SECONDS)
                raise
        if failures:
            raise CommandError(f"{failures} daily job(s) failed; see the log")
