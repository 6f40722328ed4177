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

from orgwarden.tests.test_hostile_input import alpha as alpha
from orgwarden.tests.test_hostile_input import certificate_pem as certificate_pem
from orgwarden.tests.test_hostile_input import no_dns_outside as no_dns_outside
from orgwarden.tests.test_hostile_input import pages
from orgwarden.tests.test_tenant_isolation import send

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
    linked: dict[tuple[int, str], str] = {}  # (whose client, address) -> a page that links to it
    clients = {}
    for visit in pages(alpha):
        page = send(visit.client, "GET", visit.url)
        if page.status_code != 200 or not page.get("Content-Type", "").startswith("text/html"):
            continue
        clients[id(visit.client)] = visit.client
        for address in links_of(page.content, visit.url):
            linked.setdefault((id(visit.client), address), visit.url)
    problems = []
    for (whose, address), page in sorted(linked.items(), key=lambda item: item[0][1]):
        answer = send(clients[whose], "GET", address)
        if answer.status_code in (404, 405) or answer.status_code >= 500:
            problems.append(f"{page} links to {address}: {answer.status_code}")
    assert len(linked) > 100, len(linked)
    assert not problems, "\n".join(problems)
