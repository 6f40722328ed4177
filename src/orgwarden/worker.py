"""gunicorn's sync worker, answering what gunicorn itself refuses in the caller's own format.

gunicorn refuses some requests before Django sees them: a request line longer than
``limit_request_line`` (414), too many or too large header fields (431), a request line or header
that is not HTTP (400). gunicorn answers those with an HTML page, which an identity provider's SCIM
client, a REST API client or an OAuth client cannot read. This worker answers them as the rest of
orgwarden answers that caller (``console.views.errors.machine_error``): SCIM's error schema under
``/scim/``, the API's ``{"code", "message"}`` under ``/api/``, OAuth's error for the OAuth
endpoints machines call. People's pages keep gunicorn's answer, as does every other error.

The path is known only if the request line was read, and for a request line that is too long it is
not; so before gunicorn parses a request the worker peeks (``MSG_PEEK``, nothing consumed) at the
first bytes the client sent, which hold the method and the start of the path.

It also keeps a response that is still streaming alive. gunicorn's arbiter kills a worker whose
heartbeat is older than ``timeout`` seconds (``ORGWARDEN_WORKER_TIMEOUT``: SIGABRT, then SIGKILL),
and the sync worker beats only between requests: an answer that takes longer than the timeout to
send is cut off mid-way, whatever it is doing. For a page computed in one go that is the point (a
worker stuck on a lost database or a hung peer comes back), but the audit log's CSV export streams
for as long as the log is long — minutes for a large org — and the client got a truncated file
with nothing to say so. A longer timeout would only move the size at which that happens, and keep
every genuinely stuck worker out of service as long; so the worker beats again each time the
response hands gunicorn a part to send (at most once a second: the beat is a file-time syscall).
The timeout then bounds how long a request may go without sending anything — before its first
byte, or between two parts of a stream (a client that stops reading stops the beats too) — not
how long a download lasts. Files sent whole (``wsgi.file_wrapper``: the static files) are left
to gunicorn, which sends them with ``sendfile``.

A streamed answer that does not end whole is an error for its client, never a short file that
looks complete. A worker killed mid-way (the stop's deadline, below; ``WORKER TIMEOUT``) or whose
answer failed mid-way (the database lost while the export reads) closed the connection as it
closes a finished one, with a FIN. An HTTP/1.1 client, reading chunks, missed the last one and said
so; but an HTTP/1.0 client — and a proxy speaking HTTP/1.0 to the server, as nginx does unless told
otherwise — reads an answer without ``Content-Length`` up to the close, and got a CSV cut at a row
boundary that looked whole. So while a streamed answer is sent its connection is set to close
abortively (``SO_LINGER`` 0 s): should the worker die or the answer fail, the kernel resets the
connection (TCP RST), which every client reports as an error; once its last part is sent, the
ordinary close is back (an abortive one would drop what the kernel has not sent yet).

Stopping. On SIGTERM (systemd, docker, ``kill``) gunicorn's arbiter stops accepting, tells each
worker to finish the request it is serving, and kills those still at it ``graceful_timeout``
seconds later (``ORGWARDEN_GRACEFUL_TIMEOUT``, ``cli.py``). Meanwhile, beside that request, the
worker gives each email waiting for a retry one last attempt
(``accounts.emails.retries_last_attempt``), ending ``STOP_MARGIN_SECONDS`` before that deadline so
that what it gives up is logged before any kill. A worker leaving after ``max_requests`` does the
same; SIGINT and SIGQUIT (Ctrl-C) are gunicorn's quick stop, with no wait and no last attempt.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from gunicorn.http import errors
from gunicorn.workers.sync import SyncWorker

PEEK_BYTES = 512  # enough for the method and the path's prefix; the request line may be longer
BEAT_SECONDS = 1.0  # at most one heartbeat a second while a response streams; the timeout is >= 2 s
# Before the arbiter's kill, for logging what the stop gives up and exiting (graceful timeout >= 5 s).
STOP_MARGIN_SECONDS = 2.0
_LINGER_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: a close, or a death, resets the connection
_LINGER_NONE = struct.pack("ii", 0, 0)  # the ordinary close: what is still unsent is sent, then FIN


def _errors(*names: str) -> tuple[type[BaseException], ...]:
    """gunicorn's error classes of these names that this gunicorn has (they vary by version)."""
    return tuple(getattr(errors, name) for name in names if hasattr(errors, name))


# The app's own faults (a header it tried to send), answered 500 by gunicorn: not the client's.
_APP_FAULTS = _errors("InvalidResponseHeader", "InvalidResponseHeaderName")
_UNSUPPORTED_CODING = _errors("UnsupportedTransferCoding")  # 501
_EXPECTATION_FAILED = _errors("ExpectationFailed")  # 417
# What is not HTTP: gunicorn answers 400.
_NOT_HTTP = _errors(
    "InvalidRequestLine",
    "InvalidRequestMethod",
    "InvalidHTTPVersion",
    "InvalidHeader",
    "InvalidHeaderName",
    "ObsoleteFolding",
    "InvalidChunkSize",
    "ChunkMissingTerminator",
    "InvalidChunkExtension",
    "InvalidProxyLine",
    "InvalidProxyHeader",
    "InvalidSchemeHeaders",
    "InvalidH2CPreface",
)


def _refusal(exc: BaseException, cfg) -> tuple[int, str, str, str] | None:
    """``(status, reason, code, message)`` for what gunicorn refuses as the client's fault."""
    if isinstance(exc, _APP_FAULTS):
        return None
    if isinstance(exc, errors.LimitRequestLine):
        return (
            414,
            "URI Too Long",
            "uri_too_long",
            f"The request line is longer than {cfg.limit_request_line} bytes, the most this server "
            "reads. Shorten the URL; for a long SCIM filter, POST it to .search instead.",
        )
    if isinstance(exc, errors.LimitRequestHeaders):
        return (
            431,
            "Request Header Fields Too Large",
            "headers_too_large",
            f"The request's header fields are too many or too large (at most {cfg.limit_request_fields} "
            f"fields of {cfg.limit_request_field_size} bytes each).",
        )
    if isinstance(exc, _UNSUPPORTED_CODING):
        return 501, "Not Implemented", "not_implemented", "The request's Transfer-Encoding is not supported."
    if isinstance(exc, _EXPECTATION_FAILED):
        return (
            417,
            "Expectation Failed",
            "expectation_failed",
            "The request's Expect header is not supported.",
        )
    if isinstance(exc, _NOT_HTTP):
        return 400, "Bad Request", "bad_request", "The request is not valid HTTP/1.1 and could not be read."
    return None  # gunicorn's own answer: its configuration, a forbidden proxy, TLS


def _path_of(start: bytes) -> str:
    """The path of a request line's first bytes (``GET /scim/… HTTP/1.1``), or ``""``."""
    line = start.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) < 2:
        return ""
    target = parts[1].decode("latin-1")
    if target.startswith(("http://", "https://")):  # absolute-form: drop the scheme and authority
        authority_and_path = target.split("//", 1)[1]
        target = "/" + authority_and_path.split("/", 1)[1] if "/" in authority_and_path else "/"
    return target


class _Connection:
    """The connection a worker answers on, and whether a streamed answer is under way on it: from
    its first part until its last has been sent, the connection closes abortively, and ``reset``
    (the answer failed, the worker is ending) closes it at once (see the module's docstring)."""

    def __init__(self, sock: socket.socket | None = None) -> None:
        self.sock = sock
        self.streaming = False

    def stream_begins(self) -> None:
        self._linger(_LINGER_ABORT)
        self.streaming = True

    def stream_ends(self) -> None:
        self.streaming = False
        self._linger(_LINGER_NONE)  # the ordinary close, which delivers what is still in flight

    def reset(self) -> None:
        """Close a connection whose streamed answer is under way with a reset, before gunicorn
        closes it as it closes a finished one (with a FIN that an HTTP/1.0 reader takes for the
        end). Signal-safe: no lock."""
        if self.streaming and self.sock is not None:
            self.streaming = False
            self.sock.close()

    def _linger(self, linger: bytes) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):  # already closed: the client went away
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)


class _Beating:
    """A WSGI response iterable that calls ``beat`` as it hands out its parts, at most once every
    ``BEAT_SECONDS``; closing it closes the response it wraps (WSGI's ``close``, which Django's
    ``request_finished`` hangs on). With a ``connection`` (a streamed answer's), an answer that
    does not end whole resets it (``_Connection``)."""

    def __init__(
        self, response: Iterable[bytes], beat: Callable[[], None], connection: _Connection | None = None
    ) -> None:
        self._response = response
        self._beat = beat
        self._connection = connection

    def __iter__(self) -> Iterator[bytes]:
        last = time.monotonic()
        connection = self._connection
        try:
            for part in self._response:
                now = time.monotonic()
                if now - last >= BEAT_SECONDS:
                    self._beat()
                    last = now
                if connection is not None and not connection.streaming:
                    connection.stream_begins()  # with the first part: a failure before it is a 500
                yield part
        except BaseException:  # failed, aborted, or the client gone
            if connection is not None:
                connection.reset()
            raise
        if connection is not None:
            connection.stream_ends()

    def close(self) -> None:
        close = getattr(self._response, "close", None)
        if close is not None:
            close()


def beating(
    application: Callable,
    beat: Callable[[], None],
    connection: Callable[[], _Connection | None] = lambda: None,
) -> Callable:
    """``application`` whose responses call ``beat`` while they stream, and whose streamed answers
    end in an error for the client unless whole (``connection()``: the connection being answered,
    or ``None``; see the module's docstring)."""

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        response = application(environ, start_response)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if file_wrapper is not None and isinstance(response, file_wrapper):
            return response  # gunicorn sends it with sendfile: it must see its own wrapper
        # Django's other answers carry Content-Length (CommonMiddleware): a short one shows.
        return _Beating(response, beat, connection() if getattr(response, "streaming", False) else None)

    return app


class Worker(SyncWorker):
    """``orgwarden serve``'s worker class (``orgwarden.worker.Worker``)."""

    request_start = b""
    connection: _Connection | None = None  # the one being answered (none under gunicorn's TLS)
    stop_deadline: float | None = None  # time.monotonic() by which the stop's last attempts end

    def init_process(self):
        # Written to by the SIGTERM handler, which runs between two bytecodes of whatever the main
        # thread is doing and so must take no lock: a pipe wakes the thread that acts on the stop.
        self._stop_read, self._stop_write = os.pipe()
        super().init_process()

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = beating(self.wsgi, self.notify, lambda: self.connection)

    def handle(self, listener, client, addr):
        self.request_start = b""
        self.connection = None
        if not self.cfg.is_ssl:
            self.connection = _Connection(client)
            with contextlib.suppress(OSError):  # gunicorn's own read meets it again, and handles it
                self.request_start = client.recv(PEEK_BYTES, socket.MSG_PEEK)
        super().handle(listener, client, addr)

    def run(self):
        watcher = threading.Thread(target=self._on_stop, name="orgwarden-stop", daemon=True)
        watcher.start()
        super().run()
        self._stop_begins()  # no signal when the loop ended by itself (max_requests, parent gone)
        # The watcher returns by the deadline; beat meanwhile (after max_requests the arbiter is
        # not stopping, and would end a silent worker at its timeout).
        while watcher.is_alive() and time.monotonic() < self.stop_deadline + STOP_MARGIN_SECONDS:
            self.notify()
            watcher.join(BEAT_SECONDS)

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)  # the request being served is finished, then the loop ends
        self._stop_begins()

    def handle_quit(self, sig, frame):  # SIGINT, SIGQUIT: gunicorn's quick stop
        self._reset_stream()
        super().handle_quit(sig, frame)

    def handle_abort(self, sig, frame):  # SIGABRT: the arbiter's WORKER TIMEOUT
        self._reset_stream()
        super().handle_abort(sig, frame)

    def _reset_stream(self) -> None:
        # The SystemExit gunicorn raises next may land in its own write, which closes with a FIN.
        if self.connection is not None:
            self.connection.reset()

    def _stop_begins(self) -> None:
        if self.stop_deadline is None:
            self.stop_deadline = time.monotonic() + self.cfg.graceful_timeout - STOP_MARGIN_SECONDS
            os.write(self._stop_write, b"1")

    def _on_stop(self) -> None:
        os.read(self._stop_read, 1)
        from orgwarden.accounts import emails

        emails.retries_last_attempt(until=self.stop_deadline)

    def handle_error(self, req, client, addr, exc):
        refusal = _refusal(exc, self.cfg)
        answer = None
        if refusal is not None:
            from orgwarden.console.views.errors import machine_error

            status, reason, code, message = refusal
            answer = machine_error(
                _path_of(self.request_start), status, message, code=code, oauth_code="invalid_request"
            )
        if answer is None:
            super().handle_error(req, client, addr, exc)
            return
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        headers = "".join(f"{name}: {value}\r\n" for name, value in answer.items())
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n{headers}"
            f"Content-Length: {len(answer.content)}\r\n\r\n"
        )
        try:
            client.sendall(head.encode("latin-1") + answer.content)
        except OSError:
            self.log.debug("Failed to send error message.")
