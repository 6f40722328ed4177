"""Configuration: every ORGWARDEN_* variable is documented, and bad values stop with a clear error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orgwarden import config

PACKAGE = Path(__file__).resolve().parents[1]
README = PACKAGE.parents[1] / "README.md"
VARIABLE = re.compile(r"ORGWARDEN_[A-Z_]+[A-Z]")


def variables_in_source() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):  # tests included: their variables are documented as test-only
        names.update(VARIABLE.findall(path.read_text()))
    return names


def test_every_variable_is_in_the_readme_configuration_table():
    names = variables_in_source()
    assert {"ORGWARDEN_DATA_DIR", "ORGWARDEN_BIND", "ORGWARDEN_TEST_DATABASE_URL"} <= names
    table_rows = [line for line in README.read_text().splitlines() if line.startswith("| `ORGWARDEN_")]
    documented = {VARIABLE.search(row).group(0) for row in table_rows}
    assert names - documented == set(), "add these to README.md's configuration table"


@pytest.mark.parametrize(
    ("name", "value"),
    [("ORGWARDEN_DEBUG", "maybe"), ("ORGWARDEN_SIGNUP_ENABLED", "sometimes")],
)
def test_bad_booleans(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=f"{name} must be true or false"):
        config.env_bool(name, False)


def test_bad_numbers(monkeypatch):
    monkeypatch.setenv("ORGWARDEN_EMAIL_PORT", "smtp")
    with pytest.raises(config.ConfigError, match="whole number"):
        config.env_int("ORGWARDEN_EMAIL_PORT", 587)
    monkeypatch.setenv("ORGWARDEN_EMAIL_PORT", "70000")
    with pytest.raises(config.ConfigError, match="between 1 and 65535"):
        config.env_int("ORGWARDEN_EMAIL_PORT", 587, minimum=1, maximum=65535)


def test_secret_key_is_generated_once_and_kept(monkeypatch, tmp_path):
    monkeypatch.delenv("ORGWARDEN_SECRET_KEY")
    monkeypatch.setenv("ORGWARDEN_DATA_DIR", str(tmp_path))
    first = config.secret_key()
    assert len(first) >= 50
    assert config.secret_key() == first
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ORGWARDEN_DEBUG", "maybe", "ORGWARDEN_DEBUG must be true or false"),
        ("ORGWARDEN_SIGNIN_THROTTLE_PER_MINUTE", "lots", "must be a whole number"),
        ("ORGWARDEN_FIRST_INVITATIONS_PER_HOUR", "10", "must be between 50 and 100000, not 10"),
        ("ORGWARDEN_EMAIL_BACKEND", "pigeon", "ORGWARDEN_EMAIL_BACKEND must be console, file or smtp"),
        ("ORGWARDEN_BASE_URL", "ftp://example.com", "ORGWARDEN_BASE_URL must be an http(s) URL"),
        (
            "ORGWARDEN_BASE_URL",
            "https://example.com/orgwarden",
            "ORGWARDEN_BASE_URL must be a scheme and host only",
        ),
        ("ORGWARDEN_SECRET_KEY", "short", "at least 32 characters"),
        ("ORGWARDEN_REDIS_URL", "127.0.0.1:6379", "ORGWARDEN_REDIS_URL must be redis://host:6379/0"),
        ("ORGWARDEN_REDIS_URL", "http://cache:6379", "not a http:// URL"),
        ("ORGWARDEN_EMAIL_FROM", "no-reply", "ORGWARDEN_EMAIL_FROM must be an address like"),
        ("ORGWARDEN_HTTPS_CA_BUNDLE", "/nonexistent/ca.pem", "ORGWARDEN_HTTPS_CA_BUNDLE: no such file"),
        ("ORGWARDEN_ALLOWED_HOSTS", " , ", "ORGWARDEN_ALLOWED_HOSTS names no host"),
    ],
)
def test_bad_values_stop_the_command_with_one_clear_line(tmp_path, name, value, message):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGWARDEN_")}
    env.update(DJANGO_SETTINGS_MODULE="orgwarden.settings", ORGWARDEN_DATA_DIR=str(tmp_path), **{name: value})
    result = subprocess.run(
        [sys.executable, "-m", "orgwarden.cli", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "orgwarden: configuration error:" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_new_data_directory_and_its_database_are_readable_by_their_owner_only(tmp_path):
    """The SQLite file holds every password hash, session and encrypted second factor: other users
    of the machine must not read it, no more than the secret key beside it (it was 0644 in 0755)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGWARDEN_")}
    env.update(DJANGO_SETTINGS_MODULE="orgwarden.settings", ORGWARDEN_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run(
        [sys.executable, "-m", "orgwarden.cli", "migrate", "--verbosity=0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = tmp_path / "data"
    assert mode(data) == 0o700
    files = sorted(path.name for path in data.iterdir())
    assert "orgwarden.sqlite3" in files and "secret_key" in files
    assert {name: mode(data / name) for name in files} == {name: 0o600 for name in files}


def test_an_older_installation_readable_by_others_is_told_how_to_fix_it(tmp_path):
    loose = tmp_path / "orgwarden.sqlite3"
    loose.write_text("")
    loose.chmod(0o644)
    private = tmp_path / "secret_key"
    private.write_text("")
    private.chmod(0o600)
    tmp_path.chmod(0o755)
    assert config.readable_by_others(tmp_path, loose, private, tmp_path / "missing") == [
        f"{tmp_path} can be read by other users of this machine (mode 0755): chmod 700 {tmp_path}",
        f"{loose} can be read by other users of this machine (mode 0644): chmod 600 {loose}",
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "ORGWARDEN_DATABASE_URL",
            "mysql://orgwarden:hunter2hunter2@db/orgwarden",
            "ORGWARDEN_DATABASE_URL must be sqlite:///<path> or postgresql://user:password@host:5432/name, "
            "not a mysql:// URL",
        ),
        ("ORGWARDEN_DATABASE_URL", "orgwarden.sqlite3", "ORGWARDEN_DATABASE_URL must be sqlite:///<path> or"),
        ("ORGWARDEN_DATA_DIR", "/proc/orgwarden", "ORGWARDEN_DATA_DIR: cannot create /proc/orgwarden"),
    ],
)
def test_a_database_url_or_data_directory_orgwarden_cannot_use_is_one_clear_line(
    tmp_path, name, value, message
):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGWARDEN_")}
    env.update(DJANGO_SETTINGS_MODULE="orgwarden.settings", ORGWARDEN_DATA_DIR=str(tmp_path))
    env[name] = value
    result = subprocess.run(
        [sys.executable, "-m", "orgwarden.cli", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    (line,) = result.stderr.splitlines() or [""]
    assert (result.returncode, line.startswith(f"orgwarden: configuration error: {message}")) == (2, True), (
        result.stderr
    )
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql://orgwarden:hunter2hunter2@127.0.0.1:1/orgwarden", "Connection refused"),
        ("sqlite:////nonexistent-h59/orgwarden.sqlite3", "unable to open database file"),
    ],
)
def test_a_database_out_of_reach_is_one_line_saying_which_not_a_traceback(tmp_path, url, said):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGWARDEN_")}
    env.update(
        DJANGO_SETTINGS_MODULE="orgwarden.settings",
        ORGWARDEN_DATA_DIR=str(tmp_path),
        ORGWARDEN_DATABASE_URL=url,
    )
    for command in (["migrate"], ["serve", "--bind", "127.0.0.1:1"]):
        result = subprocess.run(
            [sys.executable, "-m", "orgwarden.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith("orgwarden: the database can't be reached (ORGWARDEN_DATABASE_URL): ")
        assert said in line and "hunter2" not in line
