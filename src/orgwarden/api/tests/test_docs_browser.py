"""The API docs page in a real browser: Swagger UI renders from this installation, offline, under the CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

# The browser fixtures live with the console's browser tests; they fail a test on any CSP violation.
from orgwarden.console.tests.conftest import browser, new_page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_docs_render_every_operation_without_csp_violations(new_page, live_server):  # noqa: F811
    page = new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto("/api/docs")
    expect(page.get_by_text("orgwarden API").first).to_be_visible()
    expect(
        page.locator(".opblock-summary-path", has_text="/api/admin/v1/orgs/{orgId}/events-stream")
    ).to_be_visible()
    expect(
        page.locator(".opblock-summary-path", has_text="/api/users/{accountId}/manage/lifecycle/disable")
    ).to_be_visible()
    assert [url for url in outside if not url.startswith("data:")] == []
