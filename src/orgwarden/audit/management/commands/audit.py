"""``orgwarden audit prune``: delete the audit events older than ``ORGWARDEN_AUDIT_RETENTION_DAYS``
(``services.events_prune``; one of ``orgwarden daily``'s jobs).

Without that setting it deletes nothing and says so: the audit log is kept indefinitely. Each org
whose events it deleted finds an ``audit:events:pruned`` event in its log, with the cutoff and
the count.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from orgwarden.audit import services


class Command(BaseCommand):
    help = "The audit log: `prune` deletes the events older than ORGWARDEN_AUDIT_RETENTION_DAYS."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        commands.add_parser(
            "prune",
            help="delete the audit events older than the retention period (ORGWARDEN_AUDIT_RETENTION_DAYS)",
        )

    def handle(self, *args, action: str, **options) -> None:
        if action == "prune":
            result = services.events_prune()
            if result.retention_days is None:
                self.stdout.write(
                    "ORGWARDEN_AUDIT_RETENTION_DAYS is not set: "
                    "audit events are kept indefinitely, none deleted"
                )
                return
            orgs = len([org_id for org_id in result.deleted if org_id])
            self.stdout.write(
                f"{result.total} audit events older than {result.before:%Y-%m-%d %H:%M} UTC "
                f"({result.retention_days} days) deleted, of {orgs} org{'' if orgs == 1 else 's'}"
            )
