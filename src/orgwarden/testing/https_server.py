"""A real HTTPS server on loopback with a certificate from a throw-away CA (trustme).

Serves ``/orgwarden-domain-verification.html`` for whichever hosts the test configures:
``server.files["acme.test"] = "token"``. The CA's PEM file is what orgwarden trusts in tests.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme


class HTTPSFileServer:
    def __init__(self, hostnames: list[str]) -> None:
        self.files: dict[str, str] = {}
        self.ca = trustme.CA()
        certificate = self.ca.issue_cert(*hostnames)
        self.ca_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False)  # noqa: SIM115
        self.ca.cert_pem.write_to_path(self.ca_file.name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(context)
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                body = files.get(host)
                if self.path != "/orgwarden-domain-verification.html" or body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> HTTPSFileServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
