"""The peer of ``bench/scim.py``: scim2-server's in-memory SCIM server as a WSGI application.

Built as the ``scim2-server`` command builds it (RFC 7643 schemas and resource types, its default
ServiceProviderConfig, a static bearer token), but served by gunicorn instead of the command's
``wsgiref`` server, so both servers of the benchmark sit behind the same production HTTP server.
Its resources live in one process's memory: it runs as ONE gunicorn worker (gthread, so
concurrent clients are served by threads; its storage serializes them with a lock).

``gunicorn '_scim2_server_app:application()'`` with ``BENCH_PEER_TOKEN`` set.
"""

from __future__ import annotations

import os

from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)


def application() -> BearerTokenApplication:
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )
    return BearerTokenApplication(
        InMemoryStorage(),
        provider,
        service=ScimService(provider),
        bearer_tokens=[os.environ["BENCH_PEER_TOKEN"]],
    )
