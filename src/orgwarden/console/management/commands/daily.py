"""``orgwarden daily``: the installation's daily jobs, at most once per UTC day (see orgwarden.jobs)."""

from django.core.management.base import BaseCommand, CommandError

from orgwarden.jobs import run_daily


class Command(BaseCommand):
    help = "Run the daily jobs (domain re-checks, due account deletions) once per day."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="run even if today's run already happened")

    def handle(self, *args, force: bool = False, **options):
        failures = run_daily(force=force)
        if failures:
            raise CommandError(f"{failures} daily job(s) failed; see the log")
