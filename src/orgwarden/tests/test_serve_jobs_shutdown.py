"""The daily jobs' child process of a real ``orgwarden serve`` ends with the server.

A verified domain whose DNS server never answers keeps the daily run inside its first job
(``domains recheck`` waits up to ``ORGWARDEN_DNS_TIMEOUT``, 60 s): the test's UDP socket receiving
the query is the proof that the run is mid-job when the server is stopped."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
from pathlib import Path

import pytest

from orgwarden.testing.serve import clean_env, serving, wait_until
from orgwarden.tests.test_backup import databases, orgwarden
from orgwarden.tests.test_cli import processes, running

DOMAIN_STATE = (
    "import json\n"
    "from orgwarden.orgs.models import Domain\n"
    "domain = Domain.objects.get(name='acme.test')\n"
    "print(json.dumps({'status': domain.status, 'checked': str(domain.last_checked_at)}))\n"
)


def domain_state(env: dict[str, str]) -> dict[str, str]:
    done = orgwarden("shell", "-c", DOMAIN_STATE, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def daily_children(log: Path) -> tuple[int, list[int]]:
    """The server's arbiter (from its log) and its ``orgwarden daily`` child processes."""
    arbiter = int(re.search(r"Listening at: \S+ \((\d+)\)", log.read_text()).group(1))
    children = [
        pid
        for pid, (ppid, state, cmd) in processes().items()
        if ppid == arbiter and state != "Z" and " daily" in cmd
    ]
    return arbiter, children


def query_arrives(dns: socket.socket) -> bytes:
    """The next DNS query sent to ``dns`` (never answered), within 90 s."""
    dns.settimeout(90)
    query, _peer = dns.recvfrom(512)
    return query


@pytest.mark.django_db
def test_stopping_the_server_ends_a_daily_run_mid_job_and_the_next_start_runs_it_again(tmp_path, migrated):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dns, databases(1) as (database,):
        dns.bind(("127.0.0.1", 0))  # a DNS server that never answers
        env = clean_env(tmp_path, **database)
        migrated.install(tmp_path, **database)
        made = orgwarden("bootstrap", "--email", "founder@acme.test", "--org", "Acme", env=env)
        assert made.returncode == 0, made.stderr
        verified = (
            "from django.utils import timezone\n"
            "from orgwarden.orgs.models import Domain, Organization\n"
            "Domain.objects.create(org=Organization.objects.get(), name='acme.test', token='t' * 32,"
            " status='verified', method='dns', verified_at=timezone.now())\n"
        )
        assert orgwarden("shell", "-c", verified, env=env).returncode == 0
        slow_dns = {
            "ORGWARDEN_DNS_NAMESERVERS": f"127.0.0.1:{dns.getsockname()[1]}",
            "ORGWARDEN_DNS_TIMEOUT": "60",
        }

        # SIGTERM, as an operator (systemd, docker stop) stops it: the daily run ends with it.
        with serving(tmp_path, **database, **slow_dns) as (_base, log):
            assert b"acme" in query_arrives(dns)  # the daily run is inside domains recheck
            _arbiter, (daily,) = daily_children(log)
        assert not running(daily), processes().get(daily)
        assert "daily jobs stopped during domains recheck" in log.read_text(), log.read_text()[-3000:]
        assert "Traceback" not in log.read_text()
        assert domain_state(env) == {"status": "verified", "checked": "None"}  # nothing half-written

        # The next start runs the day's jobs again (the stopped run gave the day back). Killed this
        # time (SIGKILL, as the OOM killer does): its daily run sees it gone and ends too.
        with serving(tmp_path, **database, **slow_dns) as (_base, log):
            assert b"acme" in query_arrives(dns)
            assert "daily jobs already ran today" not in log.read_text()
            arbiter, (daily,) = daily_children(log)
            workers = [
                pid
                for pid, (ppid, _state, cmd) in processes().items()
                if ppid == arbiter and " daily" not in cmd
            ]
            for pid in [arbiter, *workers]:  # its workers, and the insights refresh
                os.kill(pid, signal.SIGKILL)
            assert wait_until(lambda: not running(daily), 15), processes().get(daily)
        assert domain_state(env) == {"status": "verified", "checked": "None"}
