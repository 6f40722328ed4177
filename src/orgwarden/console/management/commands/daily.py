"""``orgwarden daily``: the installation's daily jobs, at most once per UTC day (see orgwarden.jobs)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orgwarden.accounts import emails
from orgwarden.jobs import run_daily


class Command(BaseCommand):
    help = "Run the daily jobs (domain re-checks, due account deletions) once per day."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="run even if today's run already happened")

    def handle(self, *args, force: bool = False, **options):
        failures = run_daily(force=force)
        # The jobs' emails (domain-proof, certificate and trial warnings) whose mail server was
        # failing wait in this process for their retries: it must not exit before they are made.
        emails.background_finish(timeout=settings.EMAIL_RETRY_SECONDS + 120)
        if failures:
            raise CommandError(f"{failures} daily job(s) failed; see the log")
