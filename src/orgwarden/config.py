"""Configuration read from ``ORGWARDEN_*`` environment variables.

Every variable has a working default so that ``orgwarden serve`` runs on a fresh machine with no
configuration at all: state goes to an SQLite file and a secret key generated on first start, both
kept in the data directory. The README's configuration table documents each variable; keep the two
in step (``test_config.py`` checks that every variable read here is in the README).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


class ConfigError(ValueError):
    """An ``ORGWARDEN_*`` variable holds a value orgwarden cannot use."""


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int = 10**9) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level() -> str:
    """``ORGWARDEN_LOG_LEVEL``: one of ``LOG_LEVELS`` (any case), ``INFO`` by default."""
    value = env("ORGWARDEN_LOG_LEVEL", "INFO").strip().upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"ORGWARDEN_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return value


def log_format() -> str:
    """``ORGWARDEN_LOG_FORMAT``: ``text`` (the default) or ``json`` (see ``orgwarden.logs``)."""
    value = env("ORGWARDEN_LOG_FORMAT", "text").strip().lower()
    if value not in ("text", "json"):
        raise ConfigError(f"ORGWARDEN_LOG_FORMAT must be text or json, not {value!r}")
    return value


def data_dir() -> Path:
    """Where the SQLite file and the generated secret key live: created on first use, for its
    owner only (``0700``), since what it holds is everyone's account data and the key to it."""
    path = Path(env("ORGWARDEN_DATA_DIR") or Path.cwd() / "orgwarden-data").expanduser()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"ORGWARDEN_DATA_DIR: cannot create {path}: {exc.strerror}") from exc
    return path


def sqlite_file_create(path: Path) -> None:
    """Create the SQLite database ``path`` empty and readable by its owner only (``0600``), unless
    it exists. Left to SQLite, the file would take the process's umask (usually ``0644``: any user
    of the machine could read every password hash, session and encrypted second factor); SQLite
    gives its ``-wal`` and ``-shm`` files the database file's mode. A path that cannot be created
    here is left for SQLite to report when it opens it."""
    with contextlib.suppress(OSError):  # it exists, or SQLite will say why it cannot be opened
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def readable_by_others(*paths: Path) -> list[str]:
    """For each of ``paths`` that exists and that users other than its owner may read or enter, a
    line saying so and how to make it private (an installation older than the rules above)."""
    lines = []
    for path in paths:
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            continue
        if mode & 0o077:
            lines.append(
                f"{path} can be read by other users of this machine (mode {mode:04o}): "
                f"chmod {'700' if path.is_dir() else '600'} {path}"
            )
    return lines


def secret_key() -> str:
    """``ORGWARDEN_SECRET_KEY``, or a key generated once and kept in the data directory.

    Several processes may start at once on first boot; ``O_EXCL`` makes exactly one of them write
    the key and the others read it back.
    """
    configured = env("ORGWARDEN_SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise ConfigError("ORGWARDEN_SECRET_KEY must be at least 32 characters long")
        return configured
    path = data_dir() / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def base_url() -> str:
    """The public URL people and identity providers reach orgwarden at, without a trailing slash."""
    url = env("ORGWARDEN_BASE_URL", "http://localhost:8000").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"ORGWARDEN_BASE_URL must be an http(s) URL, not {url!r}")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        # Links and emails would carry the path, but every page, redirect and OIDC endpoint is at the
        # root: orgwarden cannot be served under a prefix.
        raise ConfigError(
            f"ORGWARDEN_BASE_URL must be a scheme and host only (orgwarden is served at the root of its "
            f"own host name), like https://id.example.com, not {url!r}"
        )
    return url


DATABASE_SCHEMES = frozenset({"sqlite", "postgresql", "postgres", "pgsql"})


def database_url() -> str:
    """``ORGWARDEN_DATABASE_URL``: an SQLite or a PostgreSQL URL (the SQLite file in the data
    directory by default). Another scheme is refused naming only the scheme: the URL may hold a
    password, and the line goes to the log."""
    url = env("ORGWARDEN_DATABASE_URL") or f"sqlite:///{data_dir() / 'orgwarden.sqlite3'}"
    scheme, found, _rest = url.partition("://")
    if not found or scheme.lower() not in DATABASE_SCHEMES:
        raise ConfigError(
            "ORGWARDEN_DATABASE_URL must be sqlite:///<path> or postgresql://user:password@host:5432/name, "
            f"not {f'a {scheme}:// URL' if found else 'a value without a scheme'}"
        )
    return url


def nameservers() -> list[tuple[str, int]]:
    """``ORGWARDEN_DNS_NAMESERVERS``: ``host[:port]`` entries, comma-separated ([v6]:port for IPv6).

    Empty means the system's resolver configuration.
    """
    import ipaddress

    servers = []
    for entry in env("ORGWARDEN_DNS_NAMESERVERS").split(","):
        entry = entry.strip()
        if not entry:
            continue
        host, port = entry, 53
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 53
        elif entry.count(":") == 1:
            host, _, raw_port = entry.partition(":")
            if not raw_port.isdigit():
                raise ConfigError(f"ORGWARDEN_DNS_NAMESERVERS: bad port in {entry!r}")
            port = int(raw_port)
        try:
            ipaddress.ip_address(host)
        except ValueError as exc:
            raise ConfigError(f"ORGWARDEN_DNS_NAMESERVERS: {host!r} is not an IP address") from exc
        servers.append((host, port))
    return servers


AUDIT_RETENTION_MINIMUM_DAYS = 90
AUDIT_RETENTION_MAXIMUM_DAYS = 36500


def audit_retention_days() -> int | None:
    """``ORGWARDEN_AUDIT_RETENTION_DAYS``: how many days of audit events the daily job keeps.

    Unset or empty (the default) keeps every event: an audit log is what an investigation reads
    after the fact, so nothing of it goes unless the operator decided so. At least 90 days
    (``AUDIT_RETENTION_MINIMUM_DAYS``, the three months of log that PCI DSS wants at hand and about
    what an incident takes to be noticed), so that a typo ("7" for "700") cannot wipe the log.
    """
    name = "ORGWARDEN_AUDIT_RETENTION_DAYS"
    raw = env(name)
    if not raw:
        return None
    try:
        days = int(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{name} must be a whole number of days, or unset to keep the audit log indefinitely, not {raw!r}"
        ) from exc
    if not AUDIT_RETENTION_MINIMUM_DAYS <= days <= AUDIT_RETENTION_MAXIMUM_DAYS:
        raise ConfigError(
            f"{name} must be between {AUDIT_RETENTION_MINIMUM_DAYS} and {AUDIT_RETENTION_MAXIMUM_DAYS} days, "
            f"or unset to keep the audit log indefinitely, not {days}"
        )
    return days
