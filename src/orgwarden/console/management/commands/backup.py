"""``orgwarden backup DIR``: the database and the secret key, consistent, while serving (see
orgwarden.backup)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgwarden.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database and the secret key into a new directory under DIR (safe while serving)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="where to create the backup's directory")

    def handle(self, *args, directory: Path, **options) -> None:
        try:
            backup = backup_create(directory)
        except (BackupError, OSError) as exc:
            raise CommandError(f"backup failed: {exc}") from exc
        self.stdout.write(f"Backed up the {backup.manifest['database']} database to {backup.path}")
        if backup.manifest["secret_key"] == "environment":  # noqa: S105 - where the key is kept
            self.stdout.write(
                "The secret key comes from ORGWARDEN_SECRET_KEY and is not in the backup: keep that "
                "value with it (two-step secrets and signing keys can't be read without it)."
            )
