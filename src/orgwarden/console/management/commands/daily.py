"""``orgwarden daily``: the installation's daily jobs, at most once per UTC day (see orgwarden.jobs).

SIGTERM stops it cleanly (the current job's transaction rolls back, the jobs not finished run at
the next start); ``orgwarden serve`` starts it with ``--while-parent`` so that it also stops if the
server is gone."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orgwarden.accounts import emails
from orgwarden.jobs import run_daily, stopping_on_sigterm


class Command(BaseCommand):
    help = "Run the daily jobs (domain re-checks, due account deletions) once per day."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="run even if today's run already happened")
        parser.add_argument(
            "--while-parent", type=int, metavar="PID", help="stop (as on SIGTERM) once process PID is gone"
        )

    def handle(self, *args, force: bool = False, while_parent: int | None = None, **options):
        with stopping_on_sigterm(parent=while_parent):
            failures = run_daily(force=force)
        # The jobs' emails (domain-proof, certificate and trial warnings) whose mail server was
        # failing wait in this process for their retries: it must not exit before they are made.
        emails.background_finish(timeout=settings.EMAIL_RETRY_SECONDS + 120)
        if failures:
            raise CommandError(f"{failures} daily job(s) failed; see the log")
