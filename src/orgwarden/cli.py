"""The ``orgwarden`` command: ``orgwarden serve`` and every ``manage.py`` command.

``orgwarden serve`` applies migrations, creates the cache table, prints the URL (and, while the
installation has no organization yet, a one-time link to set up the first one), then serves the
app with gunicorn (sync workers, access log on stdout); WhiteNoise serves the static files from
inside the package. A stop (SIGTERM) lets the requests in flight finish, for at most
``ORGWARDEN_GRACEFUL_TIMEOUT`` seconds. Every other word is handed to Django: ``orgwarden migrate``,
``orgwarden bootstrap --email … --org …``, ``orgwarden shell`` …

A bad ``ORGWARDEN_*`` value stops the command with one clear line and exit status 2, not a traceback;
a database out of reach (down, refusing the connection, no such database) with one line saying what
the driver said, and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

DEFAULT_BIND = "127.0.0.1:8000"
DEFAULT_WORKERS = 2
# How long a request may go without sending anything before gunicorn's arbiter ends its worker (a
# stream beats at every part it sends: orgwarden.worker). Above the longest wait orgwarden's own
# settings allow a request — a domain check with ORGWARDEN_DNS_TIMEOUT at its most (DNS 60 s, the
# HTTPS file proof 63 s), SQLite's busy timeout (20 s), a mail server (10 s) — with room for the
# heaviest console pages of a 50,000-person org; low enough that a worker stuck on a hung peer is
# back in service within two minutes. gunicorn's own 30 s was below what a domain check may wait.
DEFAULT_WORKER_TIMEOUT = 120
# How long a stop (SIGTERM: systemd, docker) lets the requests in flight finish before their workers
# are killed: ORGWARDEN_GRACEFUL_TIMEOUT, by default the worker timeout. gunicorn's own 30 s cut off
# an audit log export still streaming, and the admin got a truncated file. The worker timeout is
# the longest a request that answers in one go can take (past it, its worker is ended anyway): with
# the same value a stop cuts none of those, and gives a download that long to finish; an export
# still streaming at the deadline ends in an error at the admin's end, never in a short file that
# looks whole (orgwarden.worker), and they run it again. Much longer would hold every deploy and
# restart back as long. The emails waiting for
# a retry get their last attempt within it (accounts.emails). Whatever runs orgwarden must wait at
# least as long before it kills it: systemd's TimeoutStopSec (90 s by default), docker's stop
# timeout (10 s by default) — see the README.
MIN_GRACEFUL_TIMEOUT = 5  # leaves the stop's last email attempts time before worker.STOP_MARGIN_SECONDS


def serve_options(args: list[str]) -> dict[str, Any]:
    """gunicorn's settings from ``--bind``/``--workers``, else ``ORGWARDEN_BIND``/``ORGWARDEN_WORKERS``;
    the worker timeout from ``ORGWARDEN_WORKER_TIMEOUT``, the stop's from ``ORGWARDEN_GRACEFUL_TIMEOUT``.

    Raises ``config.ConfigError`` for a value gunicorn could not use.
    """
    from orgwarden import config

    parser = argparse.ArgumentParser(prog="orgwarden serve", description="Serve orgwarden with gunicorn.")
    parser.add_argument("--bind", help=f"host:port to listen on (ORGWARDEN_BIND, default {DEFAULT_BIND})")
    parser.add_argument("--workers", help=f"worker processes (ORGWARDEN_WORKERS, default {DEFAULT_WORKERS})")
    parsed = parser.parse_args(args)

    bind = (parsed.bind or config.env("ORGWARDEN_BIND", DEFAULT_BIND)).strip()
    host, _, port = bind.rpartition(":")
    if not bind.startswith("unix:") and (not host or not port.isdigit() or not 0 < int(port) < 65536):
        raise config.ConfigError(f"ORGWARDEN_BIND must look like 127.0.0.1:8000 or unix:/path, not {bind!r}")
    if parsed.workers is not None:
        os.environ["ORGWARDEN_WORKERS"] = parsed.workers
    workers = config.env_int("ORGWARDEN_WORKERS", DEFAULT_WORKERS, minimum=1, maximum=64)
    timeout = config.env_int("ORGWARDEN_WORKER_TIMEOUT", DEFAULT_WORKER_TIMEOUT, minimum=2, maximum=3600)
    graceful = config.env_int(
        "ORGWARDEN_GRACEFUL_TIMEOUT", timeout, minimum=MIN_GRACEFUL_TIMEOUT, maximum=3600
    )
    return {
        "bind": [bind],
        "workers": workers,
        # seconds a request may send nothing before its worker is ended (0, gunicorn's "never", is
        # refused: a worker stuck on a hung peer would stay out of service until a restart)
        "timeout": timeout,
        # seconds a stop (SIGTERM) lets the requests in flight finish before it kills their workers
        # (see MIN_GRACEFUL_TIMEOUT's comment); SIGINT (Ctrl-C) and SIGQUIT stop at once
        "graceful_timeout": graceful,
        # gunicorn's sync worker, answering what gunicorn refuses in the caller's format
        "worker_class": "orgwarden.worker.Worker",
        "accesslog": "-",
        "loglevel": config.log_level().lower(),  # gunicorn's own lines too, not always INFO
        # gunicorn's default (the combined log format), then how long the request took
        "access_log_format": '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms',
        "errorlog": "-",
        "proc_name": "orgwarden",
        # Which forwarding headers count is Django's to say (ORGWARDEN_BEHIND_PROXY, settings.py),
        # never gunicorn's: it took X-Forwarded-Proto (https) and SCRIPT_NAME (the URL prefix) from
        # any client of 127.0.0.1 or of a unix socket, where a proxy passing on what its clients
        # send usually is, whether or not orgwarden was told it stands behind one.
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        "forwarder_headers": "",
        # gunicorn >= 24 opens a control socket at one fixed path per user; two installations on
        # one machine would fight over it, and orgwarden does not use it.
        "control_socket_disable": True,
    }


def _prepare_database() -> None:
    """Migrate, create the cache table, then close the connections so no worker inherits them."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    # migrate's progress is plain text: in a JSON log, only what logging says is on the output
    call_command("migrate", interactive=False, verbosity=0 if settings.LOG_FORMAT == "json" else 1)
    call_command("createcachetable", verbosity=0)
    connections.close_all()


_serving_lock = None  # held open for the life of the server: see backup.serving_lock_hold


def _hold_serving_lock() -> None:
    """Tell ``orgwarden restore`` that a server runs on this SQLite database (``backup``); stop
    with one line if a restore is replacing it."""
    global _serving_lock
    from orgwarden import backup

    try:
        _serving_lock = backup.serving_lock_hold()
    except backup.BackupError as exc:
        print(f"orgwarden: {exc}", file=sys.stderr)
        sys.exit(1)


def _announce() -> None:
    """Print where orgwarden answers and, before the first organization exists, the setup link."""
    from django.conf import settings
    from django.db import connections

    from orgwarden.console.views.setup import installation_is_set_up, setup_url
    from orgwarden.logs import announcement

    print(announcement(settings.LOG_FORMAT, f"orgwarden is starting at {settings.BASE_URL}/"), flush=True)
    if not installation_is_set_up():
        message = (
            "No organization exists yet. Set up the first organization and its admin (link valid 24 hours):\n"
            f"  {setup_url()}"
        )
        print(announcement(settings.LOG_FORMAT, message), flush=True)
    connections.close_all()
    for line in startup_warnings():
        logging.getLogger("orgwarden.serve").warning("%s", line)


def startup_warnings() -> list[str]:
    """What ``orgwarden serve`` warns of as it starts: each part of the data directory that other
    users of the machine can read, and emails that would go to the log (with their one-time links)
    on an installation served over https, which is one people use."""
    from pathlib import Path

    from django.conf import settings

    from orgwarden import config

    database = settings.DATABASES["default"]
    paths = [config.data_dir()]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        paths.append(Path(database["NAME"]))
    warnings = config.readable_by_others(*paths)
    if settings.HTTPS and settings.EMAIL_BACKEND.endswith(".console.EmailBackend"):
        warnings.append(
            "ORGWARDEN_EMAIL_BACKEND is console: every email, sign-in and password-reset links "
            "included, is written to this log and reaches nobody; set ORGWARDEN_EMAIL_BACKEND=smtp "
            "and ORGWARDEN_EMAIL_HOST"
        )
    return warnings


def bound_base_url(bind: str) -> str | None:
    """The URL ``orgwarden serve`` answers at on ``bind`` (``host:port``), for an unset
    ``ORGWARDEN_BASE_URL``: without it, ``--bind 0.0.0.0:9000`` announced http://localhost:8000/ and
    printed a setup link to a port nothing listened on. ``None`` for a unix socket."""
    if bind.startswith("unix:"):
        return None
    host, _, port = bind.rpartition(":")
    if host in ("127.0.0.1", "0.0.0.0", "[::]", "[::1]", "localhost", ""):  # noqa: S104 - a name, not a bind
        host = "localhost"
    return f"http://{host}:{port}"


def serve(args: list[str]) -> None:
    options = serve_options(args)  # fail on bad options before touching the database
    if not os.environ.get("ORGWARDEN_BASE_URL", "").strip():
        url = bound_base_url(options["bind"][0])
        if url:  # before the settings read it; the jobs' child processes inherit it
            os.environ["ORGWARDEN_BASE_URL"] = url

    import django
    from gunicorn.app.base import BaseApplication

    django.setup()
    _hold_serving_lock()
    _prepare_database()
    _announce()

    class OrgwardenServer(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # settings an older gunicorn lacks are skipped
                    self.cfg.set(key, value)

        def load(self):
            from orgwarden.wsgi import application

            return application

    from django.conf import settings

    from orgwarden import config, jobs

    daily = config.env_bool("ORGWARDEN_DAILY_JOBS", True)
    every = settings.INSIGHTS_REFRESH_SECONDS

    def when_ready(server) -> None:
        # In gunicorn's arbiter, once the workers are up; the jobs run in child processes so the
        # arbiter never holds a database connection its forked workers would inherit.
        if daily:
            jobs.start_scheduler()
        if every:
            jobs.start_refresher(every)

    options["when_ready"] = when_ready
    options["logger_class"] = _gunicorn_logger(settings.LOG_FORMAT)
    options["on_exit"] = lambda server: jobs.stop_children()  # no job outlives the server

    OrgwardenServer().run()


def access_client(environ: dict) -> str | None:
    """The client's address as the audit log records it (``audit.middleware.client_ip``: behind
    ``ORGWARDEN_BEHIND_PROXY``, the ``X-Forwarded-For`` entry the proxy wrote; else the peer)."""
    from types import SimpleNamespace

    from orgwarden.audit.middleware import client_ip

    return client_ip(SimpleNamespace(META=environ))


def _gunicorn_logger(format_name: str) -> type:
    """gunicorn's logger: access lines without the URLs' secrets (``logs.redact_access_atoms``), and
    its error and access lines in the log's format when that is JSON."""
    from gunicorn import glogging

    from orgwarden.logs import JsonLineFormatter, redact_access_atoms

    class Logger(glogging.Logger):
        def atoms(self, resp, req, environ, request_time) -> dict:
            atoms = redact_access_atoms(super().atoms(resp, req, environ, request_time))
            # Behind a proxy the peer is the proxy: the line names the client the audit log names.
            atoms["h"] = access_client(environ) or atoms.get("h", "-")
            return atoms

        def setup(self, cfg) -> None:
            super().setup(cfg)
            if format_name == "json":
                for log in (self.error_log, self.access_log):
                    for handler in log.handlers:
                        handler.setFormatter(JsonLineFormatter())

    return Logger


HELP = """Usage:
  orgwarden serve [--bind HOST:PORT] [--workers N]
      apply the migrations, then serve orgwarden (gunicorn); `orgwarden serve --help`
  orgwarden <command> [options]
      one of the commands below; `orgwarden <command> --help` says what it takes. orgwarden's own:
      bootstrap, staff, backup, restore, daily, domains, accounts, sso, billing, insights, oidc"""

# Django's commands that would go around orgwarden's services, and what to run instead.
# createsuperuser stopped with an AttributeError (accounts are made by accounts.services, with their
# audit event); changepassword wrote a password past the account's policy and the audit log, and
# left its other sessions signed in.
INSTEAD = {
    "createsuperuser": (
        "orgwarden has no superusers. `orgwarden bootstrap --email EMAIL --org NAME` creates an "
        "organization and its first admin; `orgwarden staff add EMAIL` makes an account staff of "
        "this installation (the support queue)."
    ),
    "changepassword": (
        'orgwarden changes passwords only through its own pages: Account settings, or "Forgot your '
        'password?" on the sign-in page (/password-reset), which emails a link.'
    ),
}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgwarden.settings")
    from orgwarden.config import ConfigError

    if len(argv) > 1 and argv[1] in INSTEAD:
        print(f"orgwarden: {INSTEAD[argv[1]]}", file=sys.stderr)
        sys.exit(1)
    if argv[1:] == ["help", "serve"]:
        argv[1:] = ["serve", "--help"]
    if argv[1:] in ([], ["help"], ["--help"], ["-h"]):  # Django's list has no serve: say it first
        print(HELP)
    try:
        if len(argv) > 1 and argv[1] == "serve":
            serve(argv[2:])
            return
        from django.core.management import execute_from_command_line

        execute_from_command_line(argv)
    except ConfigError as exc:
        print(f"orgwarden: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        from orgwarden.db import outage

        if not outage.database_unavailable(exc):  # a defect: its traceback is what to report
            raise
        print(f"orgwarden: {_unreachable(exc)}", file=sys.stderr)
        sys.exit(1)


def _unreachable(exc: BaseException) -> str:
    """What is out of reach and what its driver said, on one line; for SQLite, which file."""
    from django.conf import settings

    from orgwarden.db import outage

    said = " ".join(str(exc).split())
    if outage.redis_unavailable(exc):
        return f"Redis can't be reached (ORGWARDEN_REDIS_URL): {said}"
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        said += f" ({database['NAME']})"
    return f"the database can't be reached (ORGWARDEN_DATABASE_URL): {said}"


if __name__ == "__main__":
    main()
