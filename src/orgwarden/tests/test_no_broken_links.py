"""No page links to a page that is not there: every link of every page, followed.

The pages are those of the hostile-input walk (``test_hostile_input``: every route, opened by whoever
uses it, with the objects of one org). Every ``<a href>`` to this installation on each page — the
sidebar, breadcrumbs, tables' rows, "next page", empty states' calls to action — is followed by the
same person, and must answer what a link promises: a page (200), a redirect or a file, never 404,
405 (a link to an action only a form can take) or 500. Links leaving the installation (a product
site, documentation) and fragments within a page are not followed.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
from django.test import Client

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.tests.test_hostile_input import FUZZED_ELSEWHERE, fill, reverse_route, routes_by_namespace
from orgwarden.tests.test_hostile_input import alpha as alpha
from orgwarden.tests.test_hostile_input import certificate_pem as certificate_pem
from orgwarden.tests.test_hostile_input import no_dns_outside as no_dns_outside
from orgwarden.tests.test_tenant_isolation import CAPABILITIES, send, signed_in

pytestmark = pytest.mark.django_db


def links_of(html: bytes, page: str) -> set[str]:
    """The addresses (path and query) of this installation a page links to."""
    found = set()
    for href in lxml.html.fromstring(html).xpath("//a/@href"):
        address = urlsplit(urljoin(f"http://testserver{page}", href))
        if address.netloc == "testserver" and address.scheme in ("http", "https"):
            found.add(address.path + (f"?{address.query}" if address.query else ""))
    return found


def test_every_link_of_every_page_leads_somewhere(alpha):
    t = alpha
    staff = AccountFactory(email="operator@staff.test", is_staff=True)
    admin, operator, anonymous = signed_in(t.admin), signed_in(staff), Client(raise_request_exception=False)
    visitors = {"console": [admin], "support": [operator], "accounts": [admin, anonymous]}
    linked: dict[tuple[int, str], str] = {}  # (whose client, address) -> a page that links to it
    clients = {}
    for namespace, routes in routes_by_namespace().items():
        if namespace in FUZZED_ELSEWHERE:
            continue
        for route in routes:
            values = fill(route, t)
            if values is None or set(route.params) & set(CAPABILITIES):
                continue
            url = reverse_route(route, values)
            for client in visitors.get(namespace, [anonymous]):
                page = send(client, "GET", url)
                if page.status_code != 200 or not page.get("Content-Type", "").startswith("text/html"):
                    continue
                clients[id(client)] = client
                for address in links_of(page.content, url):
                    linked.setdefault((id(client), address), url)
    problems = []
    for (whose, address), page in sorted(linked.items(), key=lambda item: item[0][1]):
        answer = send(clients[whose], "GET", address)
        if answer.status_code in (404, 405) or answer.status_code >= 500:
            problems.append(f"{page} links to {address}: {answer.status_code}")
    assert len(linked) > 100, len(linked)
    assert not problems, "\n".join(problems)
