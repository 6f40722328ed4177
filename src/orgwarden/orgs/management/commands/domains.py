"""``orgwarden domains recheck``: re-check the proof of every verified domain (run it daily, from cron).

Prints one line: how many domains were checked and what happened to them. A domain whose proof is
missing starts (or continues) its grace period; after it the domain is unverified and the accounts
claimed through it are released — see ``orgs.services.domains``. Exit status 1 if any domain
could not be checked (the others are still done).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgwarden.orgs.services import domains


class Command(BaseCommand):
    help = "Domains: `recheck` re-checks every verified domain's proof."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        commands.add_parser("recheck", help="re-check every verified domain with the method that verified it")

    def handle(self, *args, action: str, **options) -> None:
        if action == "recheck":
            summary = domains.domains_recheck()
            self.stdout.write(str(summary))
            for error in summary.errors:
                self.stderr.write(error)
            if summary.errors:
                raise CommandError(f"{len(summary.errors)} domain(s) could not be re-checked.")
