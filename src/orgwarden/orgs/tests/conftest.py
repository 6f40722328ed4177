"""Real peers for domain proofs: a DNS server and an HTTPS server on loopback, started once per run.

``proof_peers`` points the settings at them and starts each test with an empty zone and no files.
``publish_txt``/``publish_file`` are what a domain owner would do at their DNS host and web server.

``run`` calls a service as a request would: its emails leave when its transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from orgwarden.orgs import proofs
from orgwarden.testing.dns_server import LoopbackDNS
from orgwarden.testing.https_server import HTTPSFileServer

HTTPS_HOSTS = ["acme.test", "beta.test", "www.acme.test"]


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """``run(service, **kwargs)``: the service's answer; its emails are in the outbox after it."""

    def call(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return call


@pytest.fixture(scope="session")
def dns_server():
    server = LoopbackDNS().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def https_server():
    server = HTTPSFileServer(HTTPS_HOSTS).start()
    yield server
    server.stop()


@dataclass
class ProofPeers:
    dns: LoopbackDNS
    web: HTTPSFileServer

    def publish_txt(self, name: str, token: str, *others: str) -> None:
        self.dns.zone.set(name, "TXT", [*others, proofs.TXT_PREFIX + token])

    def remove_txt(self, name: str) -> None:
        self.dns.zone.set(name, "TXT", [])

    def publish_file(self, name: str, token: str, address: str = "127.0.0.1") -> None:
        self.dns.zone.set(name, "A", [address])
        self.web.files[name] = token


@pytest.fixture
def proof_peers(dns_server, https_server, settings) -> ProofPeers:
    dns_server.zone.clear()
    https_server.files.clear()
    settings.DNS_NAMESERVERS = [dns_server.address]
    settings.DNS_TIMEOUT = 2
    settings.DOMAIN_HTTPS_PORT = https_server.port
    settings.HTTPS_CA_BUNDLE = https_server.ca_file.name
    settings.DOMAIN_PROOF_ALLOW_PRIVATE = True
    return ProofPeers(dns_server, https_server)
