"""What every benchmark that drives a real ``orgwarden serve`` needs: a port, an environment,
the CLI, and waiting for the server to answer. Loopback only; every wait is bounded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from orgwarden.testing import serve


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port(first: int, last: int) -> int:
    """A free loopback port in ``first..last`` (each benchmark keeps to its own range)."""
    return serve.free_port(range(first, last + 1))


stop = serve.stop  # SIGTERM a server, SIGKILL its process group if it lingers


def server_env(data_dir: Path, base: str, *, workers: int, **extra: str) -> dict[str, str]:
    """This process's environment without any ORGWARDEN_* of the caller's, plus the server's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGWARDEN_")}
    env.update(
        DJANGO_SETTINGS_MODULE="orgwarden.settings",
        ORGWARDEN_DATA_DIR=str(data_dir),
        ORGWARDEN_BASE_URL=base,
        ORGWARDEN_WORKERS=str(workers),
        ORGWARDEN_LOG_LEVEL="WARNING",
        ORGWARDEN_DAILY_JOBS="false",
    )
    env.update(extra)
    return env


def orgwarden(*args: str, env: dict[str, str], capture: bool = False) -> str:
    """Run ``orgwarden <args>``; its output goes to stderr (stdout is the JSON line) unless captured."""
    cmd = [sys.executable, "-m", "orgwarden.cli", *args]
    done = subprocess.run(
        cmd, env=env, check=True, timeout=300, stdout=subprocess.PIPE if capture else sys.stderr, text=True
    )
    return done.stdout or ""


def pg_database_fresh(server: str, name: str) -> str:
    """Drop the PostgreSQL database ``name`` on ``server`` (closing its sessions) and create it
    empty; returns its URL."""
    pg_database_drop(server, name)
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def pg_database_drop(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def serve_process(env: dict[str, str], port: int, *, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """``orgwarden serve`` on 127.0.0.1:``port`` with ``env``, in its own process group (``stop``
    ends it and its workers); its error log goes to ``stderr`` (a file to read when something failed)."""
    return subprocess.Popen(
        [sys.executable, "-m", "orgwarden.cli", "serve", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )


def wait_answering(
    answers: Callable[[], bool], server: subprocess.Popen, what: str, timeout: float = 30
) -> None:
    """Wait until ``answers()`` (an HTTP probe of ``server``) is true; raise if ``server`` exits or
    ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if answers():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer in {timeout:.0f} s")


def wait_healthy(base: str, server: subprocess.Popen, timeout: float = 30) -> None:
    wait_answering(
        lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, server, "orgwarden serve", timeout
    )
