"""``orgwarden backup`` while serving, and ``orgwarden restore`` into a new installation: the people
of the first are signed in on the second (their sessions are rows signed with the secret key, so
the database and the key both came back)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from django.db import connection

from orgwarden.testing.serve import clean_env, free_port, serving, wait_until

SETUP_FORM = {
    "email": "founder@example.com",
    "display_name": "Grace Hopper",
    "password": "a long and unusual passphrase",
    "org_name": "Acme Inc",
}


def orgwarden(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orgwarden.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


@contextmanager
def databases(count: int) -> Iterator[list[dict[str, str]]]:
    """``count`` empty databases of the suite's kind, as the ``ORGWARDEN_*`` settings of each."""
    if connection.vendor == "sqlite":
        yield [{} for _ in range(count)]  # each installation's own data directory
        return
    params = connection.get_connection_params()
    host, port, user = params.get("host") or "127.0.0.1", params.get("port") or 5432, params.get("user")
    server = f"postgresql://{user or 'postgres'}@{host}:{port}"
    names = [f"{connection.settings_dict['NAME']}_backup{index}" for index in range(count)]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as pg:
        for name in names:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            pg.execute(f'CREATE DATABASE "{name}"')
    try:
        yield [{"ORGWARDEN_DATABASE_URL": f"{server}/{name}"} for name in names]
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as pg:
            for name in names:
                pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def set_up(base: str, log: Path) -> httpx.Client:
    """The first organization, through the setup form; returns the browser, signed in."""
    link = re.search(rf"{re.escape(base)}/setup/\S+", log.read_text()).group(0)
    browser = httpx.Client(timeout=30)
    form = browser.get(link)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    done = browser.post(link, data={**SETUP_FORM, "csrfmiddlewaretoken": token}, headers={"Referer": link})
    assert done.status_code == 302, done.text[:500]
    return browser


@pytest.mark.django_db
def test_a_backup_taken_while_serving_restores_into_a_new_installation(tmp_path, migrated):
    first, second = tmp_path / "first", tmp_path / "second"
    with databases(2) as (first_db, second_db):
        with serving(first, migrated=migrated, **first_db) as (base, log):
            browser = set_up(base, log)
            assert browser.get(f"{base}/account/").status_code == 200
            made = orgwarden("backup", str(tmp_path / "backups"), env=clean_env(first, **first_db))
            assert made.returncode == 0, made.stderr
            cookies = dict(browser.cookies)

        (backup,) = (tmp_path / "backups").iterdir()
        assert f"to {backup}" in made.stdout
        assert stat.S_IMODE(backup.stat().st_mode) == 0o700
        assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in backup.iterdir()} == {
            "database.sqlite3" if connection.vendor == "sqlite" else "database.dump": 0o600,
            "secret_key": 0o600,
            "manifest.json": 0o600,
        }
        manifest = json.loads((backup / "manifest.json").read_text())
        assert manifest["database"] == connection.vendor and manifest["secret_key"] == "file"
        assert manifest["migrations"]["orgs"] >= "0005"
        key = (first / "data" / "secret_key").read_text().strip()
        assert (backup / "secret_key").read_text().strip() == key

        restored = orgwarden("restore", str(backup), env=clean_env(second, **second_db))
        assert restored.returncode == 0, restored.stderr
        again = orgwarden("restore", str(backup), env=clean_env(second, **second_db))
        refusal = (
            "already has tables; --replace overwrites it"
            if connection.vendor == "sqlite"
            else "already has tables: restore into an empty database"
        )
        assert again.returncode == 1 and refusal in again.stderr

        with serving(second, **second_db) as (base, log):
            signed_in = httpx.get(f"{base}/account/", cookies=cookies, timeout=30)
            assert signed_in.status_code == 200, signed_in.text[:300]
            assert "founder@example.com" in signed_in.text
            assert "/setup/" not in log.read_text()  # an organization exists: no setup link printed


def test_a_restore_refuses_what_is_not_a_backup_and_changes_nothing(tmp_path):
    (tmp_path / "not-a-backup").mkdir()
    refused = orgwarden("restore", str(tmp_path / "not-a-backup"), env=clean_env(tmp_path))
    assert refused.returncode == 1
    assert "is not an orgwarden backup" in refused.stderr and "Traceback" not in refused.stderr
    database = tmp_path / "data" / "orgwarden.sqlite3"
    assert not database.exists() or database.stat().st_size == 0  # no table was written


def test_a_backup_whose_key_is_in_the_environment_needs_it_to_restore(tmp_path):
    """The key came from ORGWARDEN_SECRET_KEY, so it is not in the backup: a restore without the
    variable would leave a fresh key that reads no one's second step. It is refused until set."""
    key = "k" * 50
    first = clean_env(tmp_path / "first", ORGWARDEN_SECRET_KEY=key)
    assert orgwarden("migrate", env=first).returncode == 0
    made = orgwarden("backup", str(tmp_path / "backups"), env=first)
    assert made.returncode == 0 and "keep that value with it" in made.stdout
    (backup,) = (tmp_path / "backups").iterdir()
    assert not (backup / "secret_key").exists()
    assert json.loads((backup / "manifest.json").read_text())["secret_key"] == "environment"

    refused = orgwarden("restore", str(backup), env=clean_env(tmp_path / "second"))
    assert refused.returncode == 1 and "ORGWARDEN_SECRET_KEY, which is not set here" in refused.stderr
    database = tmp_path / "second" / "data" / "orgwarden.sqlite3"
    assert not database.exists() or database.stat().st_size == 0  # nothing restored
    done = orgwarden("restore", str(backup), env=clean_env(tmp_path / "second", ORGWARDEN_SECRET_KEY=key))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_pg_dump_connects_as_the_database_url_says_tls_included():
    """The URL's sslmode and CA reach pg_dump's environment: without them libpq would fall back to
    sslmode=prefer, an unverified connection the operator's URL did not allow."""
    import dj_database_url

    from orgwarden.backup import pg_environment

    url = "postgresql://ow:s3cret@db.internal:6432/orgwarden?sslmode=verify-full&sslrootcert=/etc/ca.pem"
    assert pg_environment(dj_database_url.parse(url)) == {
        "PGDATABASE": "orgwarden",
        "PGHOST": "db.internal",
        "PGPORT": "6432",
        "PGUSER": "ow",
        "PGPASSWORD": "s3cret",
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": "/etc/ca.pem",
    }


@pytest.mark.django_db
def test_a_restore_refuses_to_replace_the_database_under_a_running_server(tmp_path, migrated):
    """On SQLite nothing stopped a restore from replacing the file a running server had open (on
    PostgreSQL the served database has tables, which a restore refuses). A server that crashed
    leaves no lock behind: the kernel released it with the server's processes. The server under
    test runs on its own SQLite file whichever database the suite runs on."""
    env = clean_env(tmp_path)
    database = tmp_path / "data" / "orgwarden.sqlite3"
    with serving(tmp_path, migrated=migrated) as (base, log):
        browser = set_up(base, log)
        made = orgwarden("backup", str(tmp_path / "backups"), env=env)
        assert made.returncode == 0, made.stderr
        (backup,) = (tmp_path / "backups").iterdir()
        served = database.stat().st_ino

        refused = orgwarden("restore", "--replace", str(backup), env=env)
        assert refused.returncode == 1, refused.stdout
        assert refused.stderr.strip().splitlines() == [
            f"CommandError: restore failed: orgwarden serve is running on this database ({database}): "
            "stop it first, then restore"
        ]
        assert database.stat().st_ino == served  # the file was not replaced
        assert browser.get(f"{base}/account/").status_code == 200

        # The server crashes: its whole process group is killed, no shutdown of any kind.
        arbiter = int(re.search(r"Listening at: \S+ \((\d+)\)", log.read_text()).group(1))
        os.killpg(os.getpgid(arbiter), signal.SIGKILL)
        assert wait_until(lambda: not Path(f"/proc/{arbiter}").exists() or _zombie(arbiter), 10)

    restored = orgwarden("restore", "--replace", str(backup), env=env)
    assert restored.returncode == 0, restored.stderr
    assert database.stat().st_ino != served


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_serve_does_not_start_while_a_restore_replaces_its_database(tmp_path, migrated):
    """A restore holds the database's ``.serving`` lock exclusively while it replaces the file; a
    server started then stops at once with one line, before it migrates or binds."""
    env = clean_env(tmp_path)
    migrated.install(tmp_path)
    lock = tmp_path / "data" / "orgwarden.sqlite3.serving"
    with open(os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as orgwarden restore holds it
        server = subprocess.Popen(
            [sys.executable, "-m", "orgwarden.cli", "serve", "--bind", f"127.0.0.1:{free_port()}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            _out, err = server.communicate(timeout=120)
        finally:
            if server.poll() is None:  # it served: stop it and what it started
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    assert server.returncode == 1
    assert err.strip() == (
        "orgwarden: orgwarden restore is replacing this database; start orgwarden when it has finished"
    )
