"""``orgwarden insights``: bring the insights rollups (``insights.rollups``) up to date.

- ``daily``: refresh every org's rollups (part of ``orgwarden daily``), so the first view of the
  day reads counts that are already made.
- ``refresh``: refresh every org whose rollups are more than a minute old, once; with ``--every N``
  again every N seconds until the process that started it is gone (``orgwarden serve`` runs it so,
  see ``orgwarden.jobs.start_refresher``).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgwarden import jobs
from orgwarden.insights import rollups


class Command(BaseCommand):
    help = "Insights: `daily` and `refresh` bring the orgs' activity rollups up to date."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        commands.add_parser("daily", help="refresh the activity rollups of every org")
        refresh = commands.add_parser("refresh", help="refresh the rollups more than a minute old")
        refresh.add_argument(
            "--every",
            type=int,
            metavar="SECONDS",
            help="run again every SECONDS seconds until the parent process exits",
        )

    def handle(self, *args, action: str, every: int | None = None, **options) -> None:
        if every is not None:
            if every < 1:
                raise CommandError("--every must be at least 1 second")
            jobs.refresh_loop(every=every)
            return
        refreshed = rollups.refresh_all()
        self.stdout.write(f"insights: {refreshed} orgs refreshed")
