"""A real authoritative DNS server on loopback, built on dnslib's server, for domain-proof tests.

Records live in a dict the test changes while the server runs:
``zone.set("acme.test", "TXT", ["orgwarden-domain-verification=…"])``.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from dnslib import AAAA, QTYPE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class Zone(BaseResolver):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], list[str]] = defaultdict(list)

    def set(self, name: str, rdtype: str, values: list[str]) -> None:
        with self._lock:
            self._records[(name.lower().rstrip("."), rdtype)] = list(values)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname).lower().rstrip(".")
        qtype = QTYPE[request.q.qtype]
        with self._lock:
            values = list(self._records.get((qname, qtype), []))
        for value in values:
            rdata = {"TXT": lambda v: TXT(v), "A": lambda v: A(v), "AAAA": lambda v: AAAA(v)}[qtype](value)
            reply.add_answer(RR(request.q.qname, getattr(QTYPE, qtype), rdata=rdata, ttl=1))
        return reply


class LoopbackDNS:
    """Start with ``start()``; ``address`` is ``(host, port)``; stop with ``stop()``."""

    def __init__(self) -> None:
        self.zone = Zone()
        self.server = DNSServer(
            self.zone,
            address="127.0.0.1",
            port=0,
            tcp=False,
            logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False),
        )

    def start(self) -> LoopbackDNS:
        self.server.start_thread()
        return self

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server.server_address[:2]

    def stop(self) -> None:
        self.server.stop()
        self.server.server.server_close()
