"""``orgwarden restore BACKUP [--replace]``: put a backup of ``orgwarden backup`` back, with
orgwarden stopped (see orgwarden.backup)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgwarden.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = "Restore a backup made by `orgwarden backup` (stop orgwarden first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", type=Path, help="the backup's directory (orgwarden-<time>)")
        parser.add_argument(
            "--replace", action="store_true", help="SQLite: overwrite a database that has tables"
        )

    def handle(self, *args, backup: Path, replace: bool = False, **options) -> None:
        try:
            manifest = backup_restore(backup, replace=replace)
        except (BackupError, OSError) as exc:
            raise CommandError(f"restore failed: {exc}") from exc
        self.stdout.write(
            f"Restored the backup of {manifest['created_at']} (orgwarden {manifest['orgwarden']}). "
            "Start orgwarden: `orgwarden serve` applies any newer migrations."
        )
