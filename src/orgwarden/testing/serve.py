"""A real ``orgwarden serve`` for the tests that need the whole HTTP stack in its own process."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

PORTS = range(8770, 8800)  # the range this project's tests and benchmarks may listen on


def free_port(ports: range | None = None) -> int:
    """A free loopback port of ``ports``; by default of ``PORTS``, from this pytest-xdist worker's
    own share of them: a port is only taken once the server binds it, so two workers probing the
    same range could pick the same one. (The benchmarks pass their own ranges.)"""
    if ports is None:
        index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
        count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
        share = len(PORTS) // count
        ports = PORTS[index * share : (index + 1) * share] if share else PORTS
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def wait_until(condition: Callable[[], object], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)  # polling other processes; nothing in-process to wait on
    return bool(condition())


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The parent's environment without the suite's settings and ORGWARDEN_* values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGWARDEN_")}
    env["DJANGO_SETTINGS_MODULE"] = "orgwarden.settings"
    env["ORGWARDEN_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return env


class Migrated:
    """A database of each kind migrated once, copied into each new installation a test starts.

    Migrating a new database takes 13 s or more (most of it oauth2_provider's 21 migrations): a
    test that starts ``orgwarden serve`` on an empty one, as an installation's first start does,
    spends most of its time there. ``install`` gives the installation a copy of one migrated by
    ``orgwarden migrate`` itself instead — the SQLite data directory (database and secret key)
    copied, or the PostgreSQL database created from a template database — so the server's own
    migrate finds nothing left to do. Tests of what a first start does (migrating, creating the data
    directory) start on an empty database, without it. The root conftest's ``migrated`` fixture:
    one per pytest-xdist worker, so that no lock is needed and its PostgreSQL template is dropped
    when its worker ends."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates: dict[str, str] = {}  # PostgreSQL server URL -> its template database

    def install(self, tmp_path: Path, **env: str) -> None:
        """Give the installation of ``tmp_path`` with settings ``env`` (``ORGWARDEN_DATABASE_URL``
        or none: SQLite in ``tmp_path / "data"``) a migrated database, replacing an empty one."""
        url = env.get("ORGWARDEN_DATABASE_URL")
        if url is None:
            data = tmp_path / "data"
            assert not data.exists(), f"{data} is already there: install before the first start"
            shutil.copytree(self._sqlite(), data)
            return
        server, _, name = url.rpartition("/")
        template = self._postgresql(server)
        with psycopg.connect(url) as database:
            tables = database.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            assert tables.fetchone()[0] == 0, f"{name} is not empty: install before the first start"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            pg.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def close(self) -> None:
        for server, template in self.templates.items():
            with psycopg.connect(f"{server}/postgres", autocommit=True) as pg:
                pg.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')

    def _migrate(self, tmp_path: Path, **env: str) -> None:
        """What a server's first start does to its database: migrate, then the cache's table."""
        for command in (["migrate", "--verbosity=0"], ["createcachetable"]):
            done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
                [sys.executable, "-P", "-m", "orgwarden.cli", *command],
                env=clean_env(tmp_path, ORGWARDEN_BASE_URL="http://127.0.0.1", **env),
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stdout + done.stderr

    def _sqlite(self) -> Path:
        data = self.root / "sqlite" / "data"
        if not data.exists():
            self._migrate(self.root / "sqlite")
        return data

    def _postgresql(self, server: str) -> str:
        if server not in self.templates:
            name = f"orgwarden_migrated_{os.getpid()}"
            with psycopg.connect(f"{server}/postgres", autocommit=True) as pg:
                pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                pg.execute(f'CREATE DATABASE "{name}"')
            self.templates[server] = name
            self._migrate(self.root / name, ORGWARDEN_DATABASE_URL=f"{server}/{name}")
        return self.templates[server]


@contextmanager
def serving(
    tmp_path: Path,
    *,
    workers: int = 1,
    cwd: Path | None = None,
    migrated: Migrated | None = None,
    **env: str,
) -> Iterator[tuple[str, Path]]:
    """``orgwarden serve`` on a free loopback port, with ``env`` added to a clean environment;
    yields its base URL and its log file once it listens and ``/healthz`` answers; stops it on exit.
    ``migrated``: start on a copy of a migrated database (``Migrated.install``), not an empty one.

    A port found free can be taken before gunicorn binds it (by another suite on the machine): the
    server is trusted only once its own log says it listens there, and another port is tried if
    it could not bind."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    if migrated is not None:
        migrated.install(tmp_path, **env)
    log = tmp_path / "serve.log"
    for _attempt in range(3):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # -P: as the ``orgwarden`` command, nothing imported from the working directory
        command = [sys.executable, "-P", "-m", "orgwarden.cli", "serve", "--bind", f"127.0.0.1:{port}"]
        with log.open("w") as out:
            server = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
                [*command, "--workers", str(workers)],
                env=clean_env(tmp_path, ORGWARDEN_BASE_URL=base, **env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=cwd,
            )
        listening = f"Listening at: {base} ("
        # migrating a new database takes a while on a loaded machine
        wait_until(lambda: server.poll() is not None or listening in log.read_text(), 120)  # noqa: B023
        if listening in log.read_text() or server.poll() is None:
            break
        stop(server)  # it could not bind: the port was taken after all
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        assert listening in log.read_text() and wait_until(healthy, 30), log.read_text()
        yield base, log
    finally:
        stop(server)


def arbiter(log: Path) -> int:
    """The process id of the server whose log is ``log`` (gunicorn's arbiter: "Listening at: … (pid)")."""
    return int(re.search(r"Listening at: \S+ \((\d+)\)", log.read_text()).group(1))


def stop(server: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, as an operator stops it; after ``timeout`` seconds, SIGKILL to its process group."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)
