"""The ``orgwarden`` command: option parsing, clear configuration errors, and a real ``serve``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from orgwarden import cli
from orgwarden.config import ConfigError
from orgwarden.testing.serve import clean_env, free_port, serving, stop, wait_until


def processes() -> dict[int, tuple[int, str, str]]:
    """Every live process on this machine: pid -> (parent pid, state, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended while we looked
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        found[int(entry.name)] = (int(ppid), state, cmdline)
    return found


def running(pid: int) -> bool:
    info = processes().get(pid)
    return info is not None and info[1] != "Z"  # a zombie has exited


def test_serve_options_defaults(monkeypatch):
    monkeypatch.delenv("ORGWARDEN_BIND", raising=False)
    monkeypatch.delenv("ORGWARDEN_WORKERS", raising=False)
    monkeypatch.delenv("ORGWARDEN_WORKER_TIMEOUT", raising=False)
    monkeypatch.delenv("ORGWARDEN_GRACEFUL_TIMEOUT", raising=False)
    options = cli.serve_options([])
    assert options["bind"] == ["127.0.0.1:8000"]
    assert options["workers"] == 2
    assert options["timeout"] == 120  # gunicorn's own 30 s: below what a domain check may wait (DNS 60 s)
    assert options["graceful_timeout"] == 120  # gunicorn's own 30 s cut off an export under way
    assert options["worker_class"] == "orgwarden.worker.Worker"
    assert options["accesslog"] == "-"
    assert options["loglevel"] == "info"


def test_serve_options_from_environment_and_flags(monkeypatch):
    monkeypatch.setenv("ORGWARDEN_BIND", "0.0.0.0:9000")
    monkeypatch.setenv("ORGWARDEN_WORKERS", "4")
    assert cli.serve_options([])["bind"] == ["0.0.0.0:9000"]
    assert cli.serve_options([])["workers"] == 4
    monkeypatch.setenv("ORGWARDEN_WORKER_TIMEOUT", "300")
    assert cli.serve_options([])["timeout"] == 300
    assert cli.serve_options([])["graceful_timeout"] == 300  # follows the worker timeout unless set
    monkeypatch.setenv("ORGWARDEN_GRACEFUL_TIMEOUT", "45")
    assert (cli.serve_options([])["timeout"], cli.serve_options([])["graceful_timeout"]) == (300, 45)
    monkeypatch.setenv("ORGWARDEN_LOG_LEVEL", "warning")  # gunicorn's lines follow it ("Booting worker" …)
    assert cli.serve_options([])["loglevel"] == "warning"
    flagged = cli.serve_options(["--bind", "[::1]:8001", "--workers", "3"])
    assert (flagged["bind"], flagged["workers"]) == (["[::1]:8001"], 3)
    assert cli.serve_options(["--bind", "unix:/run/orgwarden.sock"])["bind"] == ["unix:/run/orgwarden.sock"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ORGWARDEN_WORKERS", "abc", "ORGWARDEN_WORKERS must be a whole number"),
        ("ORGWARDEN_WORKERS", "0", "ORGWARDEN_WORKERS must be between 1 and 64"),
        ("ORGWARDEN_WORKER_TIMEOUT", "2m", "ORGWARDEN_WORKER_TIMEOUT must be a whole number"),
        ("ORGWARDEN_WORKER_TIMEOUT", "0", "ORGWARDEN_WORKER_TIMEOUT must be between 2 and 3600"),
        ("ORGWARDEN_GRACEFUL_TIMEOUT", "1", "ORGWARDEN_GRACEFUL_TIMEOUT must be between 5 and 3600"),
        ("ORGWARDEN_GRACEFUL_TIMEOUT", "1h", "ORGWARDEN_GRACEFUL_TIMEOUT must be a whole number"),
        ("ORGWARDEN_BIND", "localhost", "ORGWARDEN_BIND must look like"),
        ("ORGWARDEN_BIND", "127.0.0.1:99999", "ORGWARDEN_BIND must look like"),
    ],
)
def test_bad_serve_values_exit_with_a_clear_message(monkeypatch, capsys, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        cli.serve_options([])
    with pytest.raises(SystemExit) as exited:
        cli.main(["orgwarden", "serve"])
    assert exited.value.code == 2
    assert f"orgwarden: configuration error: {message}" in capsys.readouterr().err


def test_manage_commands_still_work(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "orgwarden.cli", "check"],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_serve_runs_migrated_app_with_headers_static_files_and_setup_link(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "orgwarden.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            env=clean_env(tmp_path, ORGWARDEN_BASE_URL=base),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90  # migrating a new database takes a while on a loaded machine
        healthy = False
        while time.monotonic() < deadline and server.poll() is None:
            try:
                healthy = httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                healthy = False
            if healthy:
                break
            time.sleep(0.2)  # polling a separate process; nothing in-process to wait on
        assert healthy, log.read_text()

        login = httpx.get(f"{base}/login", timeout=5)
        assert login.status_code == 200
        assert "default-src 'self'" in login.headers["Content-Security-Policy"]
        assert login.headers["X-Frame-Options"] == "DENY"
        assert login.headers["X-Content-Type-Options"] == "nosniff"
        assert login.headers["Referrer-Policy"] == "same-origin"

        # introspection takes the short middleware chain (orgwarden.wsgi): same headers, no session
        introspect = httpx.post(
            f"{base}/oauth2/introspect", data={"token": "owt_x"}, auth=("nosuchsite", "owcs_x"), timeout=5
        )
        assert introspect.status_code == 401 and introspect.json()["error"] == "invalid_client"
        assert introspect.headers["X-Content-Type-Options"] == "nosniff"
        assert introspect.headers["Cache-Control"] == "no-store" and "Vary" not in introspect.headers

        css = httpx.get(f"{base}/static/orgwarden/app.css", timeout=5)
        assert css.status_code == 200
        assert css.headers["Content-Type"].startswith("text/css")

        output = log.read_text()
        assert f"orgwarden is starting at {base}/" in output
        link = re.search(rf"{re.escape(base)}/setup/\S+", output)
        assert link, output
        assert httpx.get(link.group(0), timeout=5).status_code == 200
        assert (tmp_path / "data" / "secret_key").exists()
        assert (tmp_path / "data" / "orgwarden.sqlite3").exists()

        # The arbiter keeps the insights refresh running in a child process (orgwarden.jobs).
        def refresher() -> list[int]:
            return [
                pid
                for pid, (ppid, state, cmd) in processes().items()
                if ppid == server.pid and state != "Z" and "insights refresh --every=60" in cmd
            ]

        assert wait_until(refresher, 30), processes()
        (refresh_pid,) = refresher()
    finally:
        stop(server, timeout=15)
    assert "GET /login" in log.read_text()  # the access log went to stdout
    assert wait_until(lambda: not running(refresh_pid), 10)  # stopped with the server
    assert "Traceback" not in log.read_text()


def test_insights_refresh_outlives_a_failed_pass_and_ends_with_its_parent(tmp_path):
    # No database here yet: every pass fails, is logged, and the loop goes on until the shell that
    # started it is gone.
    errors = tmp_path / "refresh.err"
    refresh = f"{sys.executable} -m orgwarden.cli insights refresh --every 1"
    with errors.open("w") as err:
        shell = subprocess.Popen(
            ["sh", "-c", f"{refresh} & echo $!; exec sleep 120"],
            env=clean_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
        )
    refresh_pid = int(shell.stdout.readline())
    try:
        assert wait_until(lambda: errors.read_text().count("the insights refresh failed") >= 2, 60), (
            errors.read_text()
        )
        assert running(refresh_pid)
        shell.kill()
        shell.wait(timeout=10)
        assert wait_until(lambda: not running(refresh_pid), 10)
    finally:
        shell.kill()
        if running(refresh_pid):
            os.kill(refresh_pid, signal.SIGKILL)


def test_the_jobs_of_serve_import_nothing_from_the_directory_it_starts_in(tmp_path, migrated):
    """``python -m`` puts the working directory first on ``sys.path``: the daily jobs' child, started
    where ``orgwarden serve`` was, imported a ``dns.py`` lying there instead of dnspython."""
    start = tmp_path / "start"
    start.mkdir()
    marker = tmp_path / "imported"
    (start / "dns.py").write_text(f"open({str(marker)!r}, 'a').write('imported')\n")
    with serving(tmp_path, cwd=start, migrated=migrated) as (_base, log):
        assert wait_until(lambda: marker.exists() or "insights: " in log.read_text(), 90), log.read_text()
        assert not marker.exists(), log.read_text()
        assert "Re-checked 0 verified domains" in log.read_text()


def test_servers_started_together_migrate_one_after_another(tmp_path):
    """Every ``orgwarden serve`` migrates first: machines started together ran the same migrations
    at once, and all but one stopped with "table … already exists"."""
    from orgwarden.tests.test_backup import databases

    with databases(1) as (database,):
        env = clean_env(tmp_path, **database)
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "orgwarden.cli", "migrate"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        results = [(*run.communicate(timeout=300), run.returncode) for run in runs]
    assert [code for _out, _err, code in results] == [0, 0, 0], [err[-500:] for _out, err, _code in results]
    outputs = [out for out, _err, _code in results]
    assert sum("Applying accounts.0001_initial... OK" in out for out in outputs) == 1


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["createsuperuser", "--noinput", "--email", "root@example.com"], "orgwarden has no superusers"),
        (["changepassword", "root@example.com"], "orgwarden changes passwords only through its own pages"),
    ],
)
def test_djangos_account_commands_say_what_to_run_instead(tmp_path, command, says):
    """createsuperuser stopped with an AttributeError; changepassword wrote a password past the
    account's policy and audit log, leaving its other sessions signed in."""
    result = subprocess.run(
        [sys.executable, "-m", "orgwarden.cli", *command],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"orgwarden: {says}")


def test_serve_on_another_port_announces_that_port_and_a_setup_link_that_works(tmp_path, migrated):
    """Without ORGWARDEN_BASE_URL, ``--bind 127.0.0.1:9000`` said "starting at
    http://localhost:8000/" and printed a setup link to a port nothing listened on."""
    migrated.install(tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-P",
                "-m",
                "orgwarden.cli",
                "serve",
                "--bind",
                f"0.0.0.0:{port}",
                "--workers",
                "1",
            ],
            env=clean_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert wait_until(lambda: "/setup/" in log.read_text() or server.poll() is not None, 120), (
            log.read_text()
        )
        link = re.search(r"http://\S+/setup/\S+", log.read_text())
        assert f"orgwarden is starting at http://localhost:{port}/" in log.read_text()
        assert link and link.group(0).startswith(f"http://localhost:{port}/setup/"), log.read_text()
        assert wait_until(lambda: f"Listening at: http://0.0.0.0:{port}" in log.read_text(), 30), (
            log.read_text()
        )
        assert httpx.get(link.group(0), timeout=5).status_code == 200
    finally:
        stop(server, timeout=15)


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1:8000", "http://localhost:8000"),
        ("0.0.0.0:9000", "http://localhost:9000"),
        ("[::]:9000", "http://localhost:9000"),
        ("10.1.2.3:8080", "http://10.1.2.3:8080"),
        ("id.example.com:80", "http://id.example.com:80"),
        ("unix:/run/orgwarden.sock", None),
    ],
)
def test_the_base_url_a_bind_gives_when_none_is_set(bind, url):
    assert cli.bound_base_url(bind) == url


@pytest.mark.parametrize("args", [["--help"], ["help"], [], ["help", "serve"]])
def test_the_help_names_serve(tmp_path, args):
    """Django's list of commands, all that ``orgwarden --help`` printed, has no ``serve``, and
    ``orgwarden help serve`` said "Unknown command"."""
    result = subprocess.run(
        [sys.executable, "-m", "orgwarden.cli", *args],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "orgwarden serve [" in result.stdout, result.stdout + result.stderr
    if args == ["help", "serve"]:
        assert result.returncode == 0 and "--workers WORKERS" in result.stdout
    else:
        assert "bootstrap" in result.stdout and "createcachetable" in result.stdout


def test_serve_warns_that_emails_go_to_the_log_on_an_installation_served_over_https(settings):
    """The default email backend prints each email, its sign-in or reset link included, to the log:
    right for trying orgwarden out on localhost, a leak and a silence on one that people use."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    settings.HTTPS = False
    assert not [line for line in cli.startup_warnings() if "ORGWARDEN_EMAIL_BACKEND" in line]
    settings.HTTPS = True
    assert [line for line in cli.startup_warnings() if "ORGWARDEN_EMAIL_BACKEND" in line] == [
        "ORGWARDEN_EMAIL_BACKEND is console: every email, sign-in and password-reset links included, is "
        "written to this log and reaches nobody; set ORGWARDEN_EMAIL_BACKEND=smtp and ORGWARDEN_EMAIL_HOST"
    ]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert not [line for line in cli.startup_warnings() if "ORGWARDEN_EMAIL_BACKEND" in line]
