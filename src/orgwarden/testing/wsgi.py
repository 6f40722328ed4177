"""Real WSGI calls for the tests of ``orgwarden.wsgi``'s short lane against Django's full stack."""

from __future__ import annotations

import io
import sys


def wsgi_call(
    app,
    path: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    query: str = "",
    content_type: str = "application/x-www-form-urlencoded",
    **meta: str,
) -> tuple[str, set[tuple[str, str]], bytes]:
    """``app``'s status, headers (without Date and Expires) and body for one request."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1:8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **meta,
    }
    started = []
    content = b"".join(app(environ, lambda status, headers, exc_info=None: started.append((status, headers))))
    status, headers = started[0]
    return status, {(name, value) for name, value in headers if name not in {"Date", "Expires"}}, content
