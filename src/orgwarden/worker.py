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
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterable, Iterator

from gunicorn.http import errors
from gunicorn.workers.sync import SyncWorker

PEEK_BYTES = 512  # enough for the method and the path's prefix; the request line may be longer
BEAT_SECONDS = 1.0  # at most one heartbeat a second while a response streams; the timeout is >= 2 s


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


class _Beating:
    """A WSGI response iterable that calls ``beat`` as it hands out its parts, at most once every
    ``BEAT_SECONDS``; closing it closes the response it wraps (WSGI's ``close``, which Django's
    ``request_finished`` hangs on)."""

    def __init__(self, response: Iterable[bytes], beat: Callable[[], None]) -> None:
        self._response = response
        self._beat = beat

    def __iter__(self) -> Iterator[bytes]:
        last = time.monotonic()
        for part in self._response:
            now = time.monotonic()
            if now - last >= BEAT_SECONDS:
                self._beat()
                last = now
            yield part

    def close(self) -> None:
        close = getattr(self._response, "close", None)
        if close is not None:
            close()


def beating(application: Callable, beat: Callable[[], None]) -> Callable:
    """``application`` whose responses call ``beat`` while they stream (see the module's docstring)."""

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        response = application(environ, start_response)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if file_wrapper is not None and isinstance(response, file_wrapper):
            return response  # gunicorn sends it with sendfile: it must see its own wrapper
        return _Beating(response, beat)

    return app


class Worker(SyncWorker):
    """``orgwarden serve``'s worker class (``orgwarden.worker.Worker``)."""

    request_start = b""

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = beating(self.wsgi, self.notify)

    def handle(self, listener, client, addr):
        self.request_start = b""
        if not self.cfg.is_ssl:
            with contextlib.suppress(OSError):  # gunicorn's own read meets it again, and handles it
                self.request_start = client.recv(PEEK_BYTES, socket.MSG_PEEK)
        super().handle(listener, client, addr)

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
