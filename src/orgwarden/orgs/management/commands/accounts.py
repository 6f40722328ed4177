"""``orgwarden accounts purge``: anonymise the managed accounts whose scheduled deletion is due.

Run daily (``orgwarden daily`` does). Each account is anonymised in its own transaction and gets
its own ``org:account:deleted`` event; a deletion cancelled before the run is skipped. Prints how
many accounts were deleted.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from orgwarden.orgs.services import users


class Command(BaseCommand):
    help = "Managed accounts: `purge` anonymises the accounts whose scheduled deletion is due."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{purge}")
        actions.add_parser("purge", help="anonymise every account whose deletion is due")

    def handle(self, *args, action: str, **options) -> None:
        if action == "purge":
            deleted = users.deletions_run()
            self.stdout.write(f"{deleted} account(s) deleted.")
