"""``orgwarden billing daily``: trial warnings (7 and 1 days before) and expiry, and today's billable
count of every org (kept for the billing page's chart). Part of ``orgwarden daily``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from orgwarden.billing import services


class Command(BaseCommand):
    help = "Billing: `daily` runs trial warnings and expiries and snapshots the billable counts."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        commands.add_parser("daily", help="trial warnings and expiry; today's billable counts")

    def handle(self, *args, action: str, **options) -> None:
        summary = services.billing_daily()
        self.stdout.write(
            f"billing: {summary.warned} warned, {summary.paid} paid, {summary.lapsed} lapsed, "
            f"{summary.snapshots} snapshots"
        )
