"""Backups an operator can restore: the database and the secret key, together, taken while serving.

``orgwarden backup DIR`` writes ``DIR/orgwarden-<UTC time>/`` (mode 0700; every file 0600):

- ``database.sqlite3`` — on SQLite, a consistent copy made with SQLite's online backup API while
  ``orgwarden serve`` keeps running (a plain file copy of a WAL database can be torn); or
  ``database.dump`` — on PostgreSQL, ``pg_dump --format=custom`` (pg_dump must be on the PATH);
- ``secret_key`` — the key generated into the data directory. Two-step secrets and the OpenID
  Connect signing keys are encrypted with it (``accounts.crypto``): a database restored without
  it loses everyone's second step. When ``ORGWARDEN_SECRET_KEY`` is set instead, the key is not
  written: the manifest says so, and the operator keeps that value with the backup;
- ``manifest.json`` — what the backup holds: orgwarden's version, the time, the database kind, the
  last migration of every app, where the secret key is.

``orgwarden restore BACKUP`` puts one back, with orgwarden stopped: the SQLite file (and the key)
into the data directory, or ``pg_restore`` into the configured PostgreSQL database. It refuses to
overwrite a database that has tables unless ``--replace`` is given;
``orgwarden serve`` then applies the migrations a newer version brings.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from orgwarden import __version__, config

SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"
KEY_FILE = "secret_key"
MANIFEST = "manifest.json"


class BackupError(Exception):
    """Said to the operator in one line; nothing was left half-written."""


@dataclass(frozen=True)
class Backup:
    path: Path
    manifest: dict


def backup_create(destination: Path) -> Backup:
    """Write a backup of this installation under ``destination`` and return it."""
    created = datetime.now(UTC)
    target = Path(destination).expanduser() / f"orgwarden-{created:%Y%m%dT%H%M%SZ}"
    partial = target.with_name(target.name + ".partial")
    try:
        partial.mkdir(mode=0o700, parents=True)
    except FileExistsError as exc:
        raise BackupError(f"{partial} already exists: another backup is running, or remove it") from exc
    try:
        if connection.vendor == "sqlite":
            _sqlite_copy(Path(settings.DATABASES["default"]["NAME"]), partial / SQLITE_FILE)
        elif connection.vendor == "postgresql":
            _pg_run("pg_dump", "--format=custom", "--no-owner", f"--file={partial / PG_FILE}")
        else:  # pragma: no cover - orgwarden runs on SQLite or PostgreSQL only
            raise BackupError(f"no backup for a {connection.vendor} database")
        key_source = "environment" if config.env("ORGWARDEN_SECRET_KEY") else "file"
        if key_source == "file":
            _write(partial / KEY_FILE, settings.SECRET_KEY + "\n")
        manifest = {
            "orgwarden": __version__,
            "created_at": created.isoformat(),
            "database": connection.vendor,
            "migrations": _migrations(),
            "secret_key": key_source,
        }
        _write(partial / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        for item in partial.iterdir():
            item.chmod(0o600)
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Backup(target, manifest)


def backup_restore(source: Path, *, replace: bool = False) -> dict:
    """Restore the backup at ``source`` into this installation's database and data directory.

    Run with orgwarden stopped. Raises ``BackupError`` before changing anything when the backup is
    incomplete or for another kind of database, when ``ORGWARDEN_SECRET_KEY`` is set to another key,
    or, without ``replace``, when the database already has tables. The data directory's secret key
    is replaced by the backup's: with an empty database it encrypts nothing (any command, this one
    too, generates one on a new data directory).
    """
    source = Path(source).expanduser()
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not an orgwarden backup (no readable {MANIFEST})") from exc
    if manifest.get("database") != connection.vendor:
        raise BackupError(
            f"this backup is of a {manifest.get('database')} database; "
            f"this installation uses {connection.vendor}"
        )
    key = (source / KEY_FILE).read_text().strip() if manifest.get("secret_key") == "file" else None
    key_path = config.data_dir() / KEY_FILE
    if key is not None and config.env("ORGWARDEN_SECRET_KEY") and config.env("ORGWARDEN_SECRET_KEY") != key:
        raise BackupError("ORGWARDEN_SECRET_KEY is set to another key: unset it, or set it to the backup's")
    if not replace and connection.introspection.table_names():
        raise BackupError("the database already has tables; --replace overwrites it")
    if connection.vendor == "sqlite":
        database = Path(settings.DATABASES["default"]["NAME"])
        connection.close()
        staged = database.with_name(database.name + ".restoring")
        shutil.copyfile(source / SQLITE_FILE, staged)
        for leftover in (
            database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm"),
        ):
            leftover.unlink(missing_ok=True)  # the journal of the database being replaced
        os.replace(staged, database)
    else:
        connection.close()
        options = ("--no-owner", "--clean", "--if-exists", "--exit-on-error")
        name = settings.DATABASES["default"]["NAME"]  # the connection's rest: libpq's environment
        _pg_run("pg_restore", *options, f"--dbname={name}", str(source / PG_FILE))
    if key is not None and not config.env("ORGWARDEN_SECRET_KEY") and not _holds(key_path, key):
        staged = key_path.with_name(key_path.name + ".restoring")
        staged.unlink(missing_ok=True)
        _write(staged, key + "\n")
        os.replace(staged, key_path)
    return manifest


def _holds(path: Path, key: str) -> bool:
    return path.exists() and path.read_text().strip() == key


def _sqlite_copy(database: Path, target: Path) -> None:
    """SQLite's online backup: a consistent snapshot while other processes keep writing."""
    source = sqlite3.connect(database, timeout=30)  # only read (read-only opens of WAL files can fail)
    copy = sqlite3.connect(target)
    try:
        with copy:
            source.backup(copy)
    finally:
        copy.close()
        source.close()


def _pg_run(program: str, *args: str) -> None:
    """``program`` against the configured database, its credentials in libpq's environment (not
    on the command line, where other users of the machine could read them)."""
    if shutil.which(program) is None:
        raise BackupError(f"{program} is not on the PATH: install PostgreSQL's client programs")
    db = settings.DATABASES["default"]
    env = {**os.environ, "PGDATABASE": db["NAME"]}
    for variable, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
    ):
        if db.get(key):
            env[variable] = str(db[key])
    done = subprocess.run([program, *args], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{program} failed: {done.stderr.strip()[-500:]}")


def _migrations() -> dict[str, str]:
    latest: dict[str, str] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        latest[app] = max(latest.get(app, name), name)
    return dict(sorted(latest.items()))


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
