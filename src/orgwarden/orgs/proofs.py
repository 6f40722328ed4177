"""Looking up a domain's proofs of ownership: a DNS TXT record, or a file served over HTTPS.

These are the only two places orgwarden reaches out to the network for domains, kept behind two
small functions so tests point them at a real DNS server and a real HTTPS server on loopback
(``ORGWARDEN_DNS_NAMESERVERS``, ``ORGWARDEN_DOMAIN_HTTPS_PORT``, ``ORGWARDEN_HTTPS_CA_BUNDLE``).

The HTTPS fetch resolves the name with the same resolver as the TXT lookup, connects to that
address, and checks the certificate against the domain (SNI). It refuses addresses on private,
loopback and link-local networks — a domain's owner controls its DNS, and must not be able to make
orgwarden fetch from inside the operator's network — unless the operator allows it
(``ORGWARDEN_DOMAIN_PROOF_ALLOW_PRIVATE``, which the tests set). It follows no redirects and reads
at most a few kilobytes.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass

import dns.exception
import dns.resolver
import httpx
from django.conf import settings

TXT_PREFIX = "orgwarden-domain-verification="
HTTPS_PATH = "/orgwarden-domain-verification.html"
MAX_FILE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class ProofResult:
    found: bool
    reason: str = ""  # why not, in words an admin can act on


def _resolver() -> dns.resolver.Resolver:
    servers = settings.DNS_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [host for host, _ in servers]
        resolver.nameserver_ports = {host: port for host, port in servers}
    resolver.lifetime = settings.DNS_TIMEOUT
    resolver.timeout = settings.DNS_TIMEOUT
    return resolver


def txt_records(domain: str) -> list[str]:
    """The TXT strings at ``domain``'s apex; empty when there are none or the lookup failed."""
    try:
        answer = _resolver().resolve(domain, "TXT")
    except (dns.exception.DNSException, OSError):
        return []
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def check_dns(domain: str, token: str) -> ProofResult:
    records = txt_records(domain)
    if any(record.strip() == TXT_PREFIX + token for record in records):
        return ProofResult(True)
    if not records:
        return ProofResult(False, f"No TXT record was found at {domain}.")
    return ProofResult(False, f"The TXT records at {domain} do not include {TXT_PREFIX}{token}.")


def _addresses(domain: str) -> list[str]:
    resolver = _resolver()
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            found += [record.address for record in resolver.resolve(domain, rdtype)]
        except (dns.exception.DNSException, OSError):
            continue
    return found


# IPv6 forms that carry an IPv4 address a gateway may reach: NAT64 (RFC 6052's well-known prefix and
# RFC 8215's local-use one), where ``is_global`` says nothing of the address inside
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _allowed(address: str) -> bool:
    """Whether the proof may be fetched from ``address``: a global address, and — for an IPv6 one
    that embeds an IPv4 address (IPv4-mapped, 6to4, NAT64, the old IPv4-compatible form) — a global
    IPv4 address inside, so ``64:ff9b::a9fe:a9fe`` is the cloud metadata service it stands for."""
    ip = ipaddress.ip_address(address)
    if settings.DOMAIN_PROOF_ALLOW_PRIVATE:
        return True
    if not ip.is_global:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and any(ip in network for network in _NAT64):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is None and int(ip) >> 32 == 0:  # ::a.b.c.d (deprecated IPv4-compatible)
            embedded = ipaddress.IPv4Address(int(ip))
        if embedded is not None:
            return embedded.is_global
        if ip in ipaddress.ip_network("fec0::/10"):  # site-local (deprecated), not global
            return False
    return True


def check_https(domain: str, token: str) -> ProofResult:
    addresses = _addresses(domain)
    if not addresses:
        return ProofResult(
            False, f"{domain} has no address, so https://{domain}{HTTPS_PATH} can't be fetched."
        )
    address = next((a for a in addresses if _allowed(a)), None)
    if address is None:
        return ProofResult(
            False, f"{domain} points to a private network address; use the DNS record instead."
        )
    host = f"[{address}]" if ":" in address else address
    url = f"https://{host}:{settings.DOMAIN_HTTPS_PORT}{HTTPS_PATH}"
    # An SSL context rather than a path: httpx deprecates verify=<path>.
    verify = ssl.create_default_context(cafile=settings.HTTPS_CA_BUNDLE or None)
    try:
        client = httpx.Client(verify=verify, timeout=settings.DNS_TIMEOUT + 3, follow_redirects=False)
        with (
            client,
            client.stream(
                "GET", url, headers={"Host": domain}, extensions={"sni_hostname": domain}
            ) as response,
        ):
            if response.status_code != 200:
                return ProofResult(
                    False, f"https://{domain}{HTTPS_PATH} answered HTTP {response.status_code}."
                )
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_FILE_BYTES:
                    return ProofResult(
                        False, f"https://{domain}{HTTPS_PATH} is larger than {MAX_FILE_BYTES} bytes."
                    )
    except httpx.HTTPError as exc:
        return ProofResult(
            False, f"https://{domain}{HTTPS_PATH} could not be fetched ({type(exc).__name__})."
        )
    if body.decode("utf-8", "replace").strip() == token:
        return ProofResult(True)
    return ProofResult(False, f"https://{domain}{HTTPS_PATH} does not hold the verification token.")
