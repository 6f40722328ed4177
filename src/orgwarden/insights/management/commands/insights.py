"""``orgwarden insights daily``: refresh every org's insights rollups (``insights.rollups``), so the
first view of the day reads counts that are already made. Part of ``orgwarden daily``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from orgwarden.insights import rollups


class Command(BaseCommand):
    help = "Insights: `daily` brings every org's activity rollups up to date."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        commands.add_parser("daily", help="refresh the activity rollups of every org")

    def handle(self, *args, action: str, **options) -> None:
        refreshed = rollups.refresh_all()
        self.stdout.write(f"insights: {refreshed} orgs refreshed")
