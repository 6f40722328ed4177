"""Security → Audit log tells the admin how long this installation keeps its events, and shows the
retention job's own events (``orgwarden audit prune``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse

from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor, event_record, events_prune

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def page_text(client, org) -> str:
    response = client.get(reverse("console:audit_log", args=[org.org_id]))
    assert response.status_code == 200
    return response.content.decode()


def test_kept_indefinitely_by_default(admin_client, org, settings):
    settings.AUDIT_RETENTION_DAYS = None
    text = page_text(admin_client, org)
    assert "Events are kept indefinitely." in text
    assert "kept for" not in text


def test_the_retention_and_how_far_back_the_log_goes(admin_client, org, settings):
    settings.AUDIT_RETENTION_DAYS = 365
    with time_machine.travel(NOW, tick=False):
        text = page_text(admin_client, org)
    assert "Events are kept for 365 days: the log goes back to 15 Jun 2025." in text


def test_a_bad_filter_page_still_says_the_retention(admin_client, org, settings):
    settings.AUDIT_RETENTION_DAYS = 90
    response = admin_client.get(reverse("console:audit_log", args=[org.org_id]), {"date_from": "nope"})
    assert response.status_code == 400
    assert "Events are kept for 90 days" in response.content.decode()


def test_the_pruning_event_is_in_the_orgs_log(admin_client, org, settings):
    settings.AUDIT_RETENTION_DAYS = 365
    with time_machine.travel(datetime.now(UTC) - timedelta(days=400), tick=False), transaction.atomic():
        old = event_record(action="org:renamed", actor=Actor.system(), org_id=org.org_id)
    result = events_prune()
    assert result.deleted[org.org_id] == 1
    assert not AuditEvent.objects.filter(id=old.id).exists()
    assert "Audit events older than the retention period deleted" in page_text(admin_client, org)
