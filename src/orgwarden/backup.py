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
into the data directory, or ``pg_restore`` in one transaction into the configured PostgreSQL
database, which must be empty (a schema newer than the backup's cannot be dropped reliably object by
object). On SQLite it refuses to overwrite a database that has tables unless ``--replace`` is given;
a backup whose key was ``ORGWARDEN_SECRET_KEY`` is refused until that variable is set;
``orgwarden serve`` then applies the migrations a newer version brings.

"With orgwarden stopped" is checked on SQLite, where nothing else would stop a restore from
replacing the file under a running server (on PostgreSQL the database it serves has tables, and a
restore wants an empty one): ``orgwarden serve`` holds a shared ``flock`` on ``<database>.serving``
beside the file for as long as it runs (its workers inherit it), and a restore takes it exclusively
or refuses. The kernel releases the lock with the last process holding it, so a server that
crashed or was killed leaves nothing to clean up — unlike a pid file, which outlives it. A serve
started during a restore finds the lock taken and stops.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from orgwarden import __version__, config

SERVING_SUFFIX = ".serving"  # the lock file beside an SQLite database that a running server holds
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"
KEY_FILE = "secret_key"
MANIFEST = "manifest.json"
# The database URL's connection options that libpq's programs read from their environment: without
# them pg_dump would fall back to sslmode=prefer, an unverified connection the URL did not allow.
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "sslpassword": "PGSSLPASSWORD",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "application_name": "PGAPPNAME",
}


class BackupError(Exception):
    """Said to the operator in one line; nothing was left half-written."""


class ServerRunning(BackupError):
    """``orgwarden serve`` runs on the SQLite database a restore would replace."""


def _serving_lock_file() -> IO[str] | None:
    """The lock file beside the configured SQLite database, opened; ``None`` on PostgreSQL or for a
    database with no file (or no directory yet)."""
    database = settings.DATABASES["default"]
    name = str(database.get("NAME") or "")
    if (
        database["ENGINE"] != "django.db.backends.sqlite3"
        or name in ("", ":memory:")
        or name.startswith("file:")
    ):
        return None
    path = Path(name).with_name(Path(name).name + SERVING_SUFFIX)
    try:
        return open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w")  # the caller keeps it open
    except OSError:  # no directory: SQLite will say why it cannot open the database either
        return None


def serving_lock_hold() -> IO[str] | None:
    """For ``orgwarden serve``: a shared lock on the SQLite database's ``.serving`` file, held while
    the returned file stays open (keep it for the life of the server; its forked workers share it).
    Several servers may hold it at once. Raises ``BackupError`` while a restore holds it."""
    handle = _serving_lock_file()
    if handle is None:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise BackupError(
            "orgwarden restore is replacing this database; start orgwarden when it has finished"
        ) from exc
    return handle


@contextlib.contextmanager
def _no_server_running() -> Iterator[None]:
    """Hold the SQLite database's ``.serving`` lock exclusively while the block runs, so that no
    ``orgwarden serve`` runs on it or starts; raises ``ServerRunning`` if one runs."""
    handle = _serving_lock_file()
    if handle is None:
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ServerRunning(
                f"orgwarden serve is running on this database ({settings.DATABASES['default']['NAME']}): "
                "stop it first, then restore"
            ) from exc
        yield


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

    Run with orgwarden stopped: on SQLite, ``ServerRunning`` (a ``BackupError``) is raised while
    an ``orgwarden serve`` runs on the database. Raises ``BackupError`` before changing anything
    when the backup is incomplete or for another kind of database, when ``ORGWARDEN_SECRET_KEY``
    is set to another key (or unset, for a backup whose key was that variable), when a PostgreSQL
    database is not empty, or, without ``replace``, when an SQLite database already has tables.
    The data directory's secret key is replaced by the backup's: with an empty database it
    encrypts nothing (any command, this one too, generates one on a new data directory).
    """
    source = Path(source).expanduser()
    with _no_server_running():
        return _restore(source, replace=replace)


def _restore(source: Path, *, replace: bool) -> dict:
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
    configured = config.env("ORGWARDEN_SECRET_KEY")
    if key is not None and configured and configured != key:
        raise BackupError("ORGWARDEN_SECRET_KEY is set to another key: unset it, or set it to the backup's")
    if key is None and not configured:
        raise BackupError(
            "this backup's secret key was ORGWARDEN_SECRET_KEY, which is not set here: set it to the "
            "value the backed-up installation used (without it two-step secrets can't be read)"
        )
    if connection.introspection.table_names():
        if connection.vendor == "postgresql":  # dropping a newer schema object by object can fail half-way
            raise BackupError(
                "the database already has tables: restore into an empty database "
                "(drop and create it again, or create a new one and point ORGWARDEN_DATABASE_URL at it)"
            )
        if not replace:
            raise BackupError("the database already has tables; --replace overwrites it")
    if connection.vendor == "sqlite":
        database = Path(settings.DATABASES["default"]["NAME"])
        connection.close()
        staged = database.with_name(database.name + ".restoring")
        staged.unlink(missing_ok=True)
        _write(staged, "")  # created 0600: it holds everyone's account data
        shutil.copyfile(source / SQLITE_FILE, staged)
        for leftover in (
            database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm"),
        ):
            leftover.unlink(missing_ok=True)  # the journal of the database being replaced
        os.replace(staged, database)
    else:
        connection.close()
        # one transaction: a restore that fails leaves the database empty, as it was
        options = ("--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error")
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
    env = {**os.environ, **pg_environment(settings.DATABASES["default"])}
    done = subprocess.run([program, *args], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{program} failed: {done.stderr.strip()[-500:]}")


def pg_environment(db: dict) -> dict[str, str]:
    """libpq's environment for Django's database settings ``db``: the connection and the URL's
    options (TLS verification, a service file …) that libpq's programs understand."""
    env = {"PGDATABASE": str(db["NAME"])}
    for key in ("HOST", "PORT", "USER", "PASSWORD"):
        if db.get(key):
            env[f"PG{key}"] = str(db[key])
    for option, value in (db.get("OPTIONS") or {}).items():
        if option in _LIBPQ_OPTIONS and value not in (None, ""):
            env[_LIBPQ_OPTIONS[option]] = str(value)
    return env


def _migrations() -> dict[str, str]:
    latest: dict[str, str] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        latest[app] = max(latest.get(app, name), name)
    return dict(sorted(latest.items()))


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
