"""The ceiling of ``bench/scim_ceiling.py``: a WSGI application that does no work.

It reads the request body and answers 201 with a SCIM User carrying a fresh id, as a create would,
but stores nothing and checks nothing. Served by gunicorn exactly as ``orgwarden serve`` serves
orgwarden (two sync workers), its rate is the most any application — orgwarden or another — could
create through that HTTP server on this machine with the benchmark's client.
"""

from __future__ import annotations

import json
import uuid


def application(environ, start_response):
    environ["wsgi.input"].read()
    body = json.dumps(
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": uuid.uuid4().hex}
    ).encode()
    start_response(
        "201 Created",
        [("Content-Type", "application/scim+json"), ("Content-Length", str(len(body)))],
    )
    return [body]
