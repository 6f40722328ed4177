"""Fixtures for the accounts tests: audit-event assertions and signing in through the real flow."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from orgwarden.audit.models import AuditEvent

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) orgwarden-tests"
IP = "203.0.113.7"


@pytest.fixture
def one_event() -> Callable[..., AuditEvent]:
    """Assert exactly one event with ``action`` exists and return it."""

    def check(action: str) -> AuditEvent:
        events = list(AuditEvent.objects.filter(action=action))
        assert len(events) == 1, f"expected one {action} event, found {len(events)}"
        return events[0]

    return check


@pytest.fixture
def browser() -> Client:
    """A test client that sends a fixed user agent and address, like a real browser would."""
    return Client(HTTP_USER_AGENT=USER_AGENT, REMOTE_ADDR=IP)


@pytest.fixture
def sign_in(password) -> Callable[..., object]:
    """Sign ``client`` in as ``email`` through the email step and the password step."""

    def run(client: Client, email: str, secret: str | None = None, next_url: str = ""):
        data = {"email": email}
        if next_url:
            data["next"] = next_url
        first = client.post("/login", data)
        assert first.status_code == 302 and first["Location"] == "/login/step/password"
        return client.post("/login/step/password", {"password": secret or password})

    return run
