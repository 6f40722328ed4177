"""Stopping a real ``orgwarden serve`` with SIGTERM, as systemd and docker stop it.

- The requests in flight are let finish for ``ORGWARDEN_GRACEFUL_TIMEOUT`` seconds (by default the
  worker timeout, 120; it was gunicorn's own 30): an audit log export whose client is still reading
  when the stop comes arrives whole.
- An export cut off all the same — the stop's deadline passed, or its client stalled past the
  worker timeout — is an error for its client, never a short file that looks whole: over HTTP/1.0,
  whose answer ends where the connection does, a worker that died closed the connection as if the
  file had ended (``orgwarden.worker`` resets it instead).
- The emails waiting for a retry get one last attempt: a mail server back by then takes them, and
  each it still defers is logged as given up, to whom and what kind, never with its link. So do
  those of ``orgwarden daily`` (the server's daily child, stopped with it) waiting for its retries.

The clients are ``http.client`` with an 8 KB receive window, so the server, sending an export of
some 13 MB, waits on them: a client that stops reading holds its worker inside the answer.
"""

from __future__ import annotations

import csv
import http.client
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from gunicorn.util import close_graceful

from orgwarden import worker
from orgwarden.testing.mail import LoopbackSmtpServer
from orgwarden.testing.serve import arbiter, clean_env, serving, wait_until
from orgwarden.tests.test_backup import SETUP_FORM, databases, orgwarden
from orgwarden.tests.test_cli import running
from orgwarden.tests.test_worker_timeout import EVENTS, seed_events, set_up_org

GUNICORN_GRACEFUL_TIMEOUT = 30  # gunicorn's default, which orgwarden serve used before
WINDOW = 8192  # the clients' receive buffer: a slow link


class SlowLink(http.client.HTTPConnection):
    """An HTTP/1.1 client on a slow link (an 8 KB receive window)."""

    def connect(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, WINDOW)  # before connect: it stays small
        self.sock.settimeout(self.timeout)
        self.sock.connect((self.host, self.port))


class SlowLinkHttp10(SlowLink):
    """The same client speaking HTTP/1.0: the answer is not chunked, it ends where the connection does."""

    _http_vsn, _http_vsn_str = 10, "HTTP/1.0"


def export_begun(
    base: str, org_id: str, browser: httpx.Client, link: type[SlowLink] = SlowLink
) -> tuple[http.client.HTTPResponse, bytes]:
    """The audit log export asked for over ``link``, its head and first 64 KB read: the answer
    under way, and those first bytes."""
    host, port = base.removeprefix("http://").split(":")
    connection = link(host, int(port), timeout=120)  # a hang guard: nothing here waits that long
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    connection.request("GET", f"/admin/o/{org_id}/audit-log/export.csv", headers={"Cookie": cookie})
    answer = connection.getresponse()
    assert answer.status == 200, answer.read()[:500]
    first = answer.read(64 * 1024)
    assert first.startswith(b"id,"), first[:200]
    return answer, first


def stop_server(log) -> int:
    """SIGTERM to the server, as an operator stops it; its process id."""
    server = arbiter(log)
    os.kill(server, signal.SIGTERM)
    return server


def killed_workers(log) -> int:
    """How many of the server's workers never said they were exiting: the ones it killed."""
    text = log.read_text()
    booted = set(re.findall(r"Booting worker with pid: (\d+)", text))
    return len(booted - set(re.findall(r"Worker exiting \(pid: (\d+)\)", text)))


@pytest.mark.django_db
def test_a_stop_lets_an_export_under_way_finish_and_its_client_reads_it_whole(tmp_path, migrated):
    with databases(1) as (database,), serving(tmp_path, migrated=migrated, **database) as (base, log):
        browser, org_id = set_up_org(base, log)
        seed_events(clean_env(tmp_path, **database), org_id)
        answer, first = export_begun(base, org_id, browser)

        server = stop_server(log)
        assert wait_until(lambda: "Handling signal: term" in log.read_text(), 30), log.read_text()[-3000:]
        # A client slower than gunicorn's own graceful period: the worker waits on it, mid-answer.
        time.sleep(GUNICORN_GRACEFUL_TIMEOUT + 5)
        body = first + answer.read()  # http.client raises IncompleteRead if the last chunk never comes
        assert wait_until(lambda: not running(server), 60), log.read_text()[-3000:]

    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0][0] == "id" and {len(row) for row in rows} == {len(rows[0])}  # every row whole
    assert sum(row[-1].startswith('{"n": ') for row in rows) == EVENTS
    assert rows[-1][2] == "account:created", rows[-1][:3]  # the oldest event, last
    assert killed_workers(log) == 0, log.read_text()[-3000:]


@pytest.mark.django_db
def test_an_export_cut_off_is_an_error_for_its_client_never_a_short_file(tmp_path, migrated):
    slow = {"ORGWARDEN_WORKER_TIMEOUT": "3", "ORGWARDEN_GRACEFUL_TIMEOUT": "5"}
    with (
        databases(1) as (database,),
        serving(tmp_path, migrated=migrated, workers=2, **slow, **database) as (base, log),
    ):
        browser, org_id = set_up_org(base, log)
        seed_events(clean_env(tmp_path, **database), org_id)

        # A client that stops reading stops the stream's beats: its worker is ended at the timeout.
        stalled, _ = export_begun(base, org_id, browser, SlowLinkHttp10)
        assert stalled.length is None and not stalled.chunked  # its end is the connection's close
        assert wait_until(lambda: "WORKER TIMEOUT" in log.read_text(), 60), log.read_text()[-3000:]
        with pytest.raises(ConnectionResetError):
            stalled.read()

        # Two exports still under way at the stop's deadline: their workers are killed.
        unchunked, _ = export_begun(base, org_id, browser, SlowLinkHttp10)
        chunked, _ = export_begun(base, org_id, browser, SlowLink)
        assert chunked.chunked
        server = stop_server(log)
        assert wait_until(lambda: not running(server), 90), log.read_text()[-3000:]
        assert killed_workers(log) == 2, log.read_text()[-3000:]
        with pytest.raises(ConnectionResetError):
            unchunked.read()
        with pytest.raises(ConnectionResetError):
            chunked.read()


@pytest.mark.django_db
def test_a_quick_stop_cuts_an_export_off_as_an_error_for_its_client(tmp_path, migrated):
    """Ctrl-C (SIGINT) stops at once, an export under way included: its client, reading along,
    is told; gunicorn's worker, stopping, used to close the connection as after a whole answer."""
    with databases(1) as (database,), serving(tmp_path, migrated=migrated, **database) as (base, log):
        browser, org_id = set_up_org(base, log)
        seed_events(clean_env(tmp_path, **database), org_id)
        answer, first = export_begun(base, org_id, browser, SlowLinkHttp10)
        read, server, stopped = len(first), arbiter(log), False
        with pytest.raises(ConnectionResetError):
            while part := answer.read(WINDOW):
                read += len(part)
                if read >= 1024 * 1024 and not stopped:
                    os.kill(server, signal.SIGINT)
                    stopped = True
                time.sleep(0.002)  # a client on a slow link, reading along: the export outlasts the stop
        assert "Handling signal: int" in log.read_text()
        assert read < 12 * 1024 * 1024  # cut off (the export is some 13 MB)


class MailServer(LoopbackSmtpServer):
    """The loopback mail server, deferring (451) every message to ``DEFERRED``, whoever asks when."""

    DEFERRED = "dana@example.com"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.DEFERRED:
            self.attempts.append((address, time.time()))
            return "451 4.3.0 Mailbox busy, try again later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def form_post(base: str, path: str, data: dict[str, str]) -> httpx.Response:
    """Fill in the form of ``path`` as a person does: its page, then the post with its CSRF token."""
    client = httpx.Client(timeout=30)
    page = client.get(f"{base}{path}")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return client.post(f"{base}{path}", data={**data, "csrfmiddlewaretoken": token})


def smtp_settings(smtp: LoopbackSmtpServer) -> dict[str, str]:
    return {
        "ORGWARDEN_EMAIL_BACKEND": "smtp",
        "ORGWARDEN_EMAIL_HOST": "127.0.0.1",
        "ORGWARDEN_EMAIL_PORT": str(smtp.port),
        "ORGWARDEN_EMAIL_USE_TLS": "false",
    }


@pytest.mark.django_db
def test_a_stop_gives_the_emails_waiting_for_a_retry_a_last_attempt_and_logs_those_given_up(
    tmp_path, migrated
):
    smtp = MailServer()  # not started: its port refuses connections, as a relay restarting
    mail = smtp_settings(smtp)
    founder = SETUP_FORM["email"]
    try:
        with (
            databases(1) as (database,),
            serving(tmp_path, migrated=migrated, **mail, **database) as (base, log),
        ):
            set_up_org(base, log)
            # A password reset (sent by the background senders) and a sign-up's verification
            # (sent in the request), each failing: both wait in the worker for a retry.
            assert form_post(base, "/password-reset", {"email": founder}).status_code == 200
            waiting = f"'Reset your password' to {founder} could not be sent (ConnectionRefusedError"
            assert wait_until(lambda: waiting in log.read_text(), 30), log.read_text()[-3000:]
            signup = {
                "email": "dana@example.com",
                "display_name": "Dana",
                "password": "a long and unusual passphrase 7",
            }
            assert form_post(base, "/signup", signup).status_code == 302
            waiting = (
                "'Verify your email address' to dana@example.com could not be sent (ConnectionRefusedError"
            )
            assert waiting in log.read_text(), log.read_text()[-3000:]
            assert smtp.received == []

            smtp.start()  # the relay is back, and still defers Dana's mailbox
            server = stop_server(log)
            assert wait_until(lambda: not running(server), 60), log.read_text()[-3000:]
    finally:
        smtp.stop()

    (reset,) = smtp.received
    assert reset.rcpt_tos == [founder] and b"Reset your password" in reset.content
    link = re.search(rb"/password-reset/[\w-]+/[\w:-]+", reset.content).group(0).decode()
    text = log.read_text()
    assert (
        "The email 'Verify your email address' to dana@example.com could not be sent: the server "
        "stopped; its last attempt failed (451 4.3.0 Mailbox busy, try again later)"
    ) in text, text[-3000:]
    assert "Stopping: 2 emails waiting for a retry given a last attempt: 1 sent, 1 given up" in text
    assert link not in text and "/verify-email/" not in text  # never the links
    assert "before its next attempt" not in text  # nothing was left for the exit to give up
    assert killed_workers(log) == 0


TRIAL_ENDING = (
    "from datetime import timedelta\n"
    "from django.utils import timezone\n"
    "from orgwarden.billing.models import Subscription\n"
    "from orgwarden.orgs.models import Organization\n"
    "now = timezone.now()\n"
    "Subscription.objects.create(org=Organization.objects.get(), trial_started_at=now - timedelta(days=25),"
    " trial_ends_at=now + timedelta(days=5))\n"
)


@pytest.mark.django_db
def test_a_daily_run_stopped_while_it_waits_for_its_emails_retries_gives_them_a_last_attempt(
    tmp_path, migrated
):
    """``orgwarden daily`` waits for its emails' retries once its jobs are done; stopped then (the
    server stopping, SIGTERM), it died at once, and its emails with it, unlogged."""
    smtp = LoopbackSmtpServer()  # not started: its port refuses connections
    log = tmp_path / "daily.log"
    with databases(1) as (database,):
        env = clean_env(tmp_path, **database, **smtp_settings(smtp))
        migrated.install(tmp_path, **database)
        made = orgwarden("bootstrap", "--email", "founder@acme.test", "--org", "Acme", env=env)
        assert made.returncode == 0, made.stderr
        assert orgwarden("shell", "-c", TRIAL_ENDING, env=env).returncode == 0
        with log.open("w") as out:
            daily = subprocess.Popen(
                [sys.executable, "-P", "-m", "orgwarden.cli", "daily"], env=env, stdout=out, stderr=out
            )
        try:
            waiting = "'Your free trial ends in 7 days' to founder@acme.test could not be sent (Connection"
            assert wait_until(lambda: waiting in log.read_text(), 90), log.read_text()[-3000:]
            # The last job done (audit prune): the run now only waits for the warning's retries.
            done = "ORGWARDEN_AUDIT_RETENTION_DAYS is not set"
            assert wait_until(lambda: done in log.read_text(), 60), log.read_text()[-3000:]
            smtp.start()  # the relay is back
            daily.send_signal(signal.SIGTERM)
            daily.wait(timeout=60)
        finally:
            if daily.poll() is None:
                daily.kill()
                daily.wait()
            smtp.stop()

    (warning,) = smtp.received
    assert warning.rcpt_tos == ["founder@acme.test"] and b"Your free trial ends in 7 days" in warning.content
    assert "Stopping: 1 email waiting for a retry given a last attempt: 1 sent, 0 given up" in log.read_text()


# The connection's reset without gunicorn: a real TCP connection on loopback.


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """(the server's end, the client's end) of a loopback connection: the client's window small,
    the server's send buffer large enough to hold a whole answer the client has not read yet."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, WINDOW)
        client.connect(listener.getsockname())
        server, _peer = listener.accept()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * sum(map(len, ANSWER)))
    server.settimeout(60)  # hang guards
    client.settimeout(60)
    return server, client


def read_all(client: socket.socket) -> tuple[bytes, OSError | None]:
    """What ``client`` reads until the end, and the error if the end was one."""
    received = []
    with client:
        try:
            while part := client.recv(65536):
                received.append(part)
        except OSError as exc:
            return b"".join(received), exc
    return b"".join(received), None


ANSWER = [b"x" * 16384] * 4  # 64 KB: far more than the client's window, well within the send buffer


def stream_over(server: socket.socket, parts: Iterator[bytes]) -> None:
    """Send ``parts`` as gunicorn's sync worker sends an answer, and close the connection as it does."""
    try:
        for part in worker._Beating(parts, lambda: None, worker._Connection(server)):
            server.sendall(part)
    finally:
        close_graceful(server)


def test_a_streamed_answer_that_fails_midway_resets_its_connection():
    """The database lost while the export reads: gunicorn then closes the connection as it closes a
    finished one, with a FIN, which an HTTP/1.0 client reading along takes for the end of the file;
    the connection is reset before, and the client is told."""

    def failing() -> Iterator[bytes]:
        yield from ANSWER
        raise RuntimeError("the database went away")

    server, client = tcp_pair()
    with ThreadPoolExecutor(1) as reader:
        read = reader.submit(read_all, client)  # reading along, as fast as it comes
        with pytest.raises(RuntimeError):
            stream_over(server, failing())
        data, error = read.result(timeout=60)
    assert isinstance(error, ConnectionResetError), (len(data), error)


def test_a_streamed_answer_that_ends_is_closed_as_usual_and_arrives_whole():
    """Once the last part is sent the ordinary close is back: what the kernel had not sent yet when
    the connection closed — here all but a window, the client reading only afterwards — arrives,
    then the end (an abortive close would drop it)."""
    server, client = tcp_pair()
    stream_over(server, iter(ANSWER))
    assert read_all(client) == (b"".join(ANSWER), None)
