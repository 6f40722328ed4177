"""Dates and times read the same on every page and in every email: the four forms of
``orgwarden.humanize`` (``day``, ``moment``, ``moment_seconds``, ``moment_in_full``), each on a
representative page, in UTC and saying so; and no template formats a date for people by itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.template import Context, Template
from django.template.loader import render_to_string
from django.urls import reverse

import orgwarden
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.services import Actor, event_record
from orgwarden.orgs.services.claims import account_claim
from orgwarden.orgs.services.users import user_deletion_schedule
from orgwarden.tokens.models import OrgApiKey
from orgwarden.tokens.services import api_key_create

WHEN = datetime(2026, 11, 27, 14, 3, 9, tzinfo=UTC)  # a Friday
PARIS = ZoneInfo("Europe/Paris")
SOURCE = Path(orgwarden.__file__).parent


def test_no_template_formats_a_date_by_itself():
    """``|date:"…"`` and ``|time:"…"`` are how nine formats crept in: every template uses the
    ``console`` library's four filters instead."""
    own = [
        f"{path.relative_to(SOURCE)}:{number}"
        for path in sorted(SOURCE.glob("*/templates/**/*"))
        if path.is_file()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"\|\s*(date|time)\b", line)
    ]
    assert own == []


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("{{ when|day }}", "27 Nov 2026"),
        ("{{ when|moment }}", "27 Nov 2026, 14:03 UTC"),
        ("{{ when|moment_seconds }}", "27 Nov 2026, 14:03:09 UTC"),
        ("{{ when|moment_in_full }}", "Friday 27 November 2026, 14:03 UTC"),
        ("{{ paris|moment }}", "27 Nov 2026, 14:03 UTC"),  # a value in another zone is shown in UTC
        ("{{ nothing|moment|default:'Never' }}", "Never"),  # nothing to show, as Django's |date
        ("{{ empty|day|default:'—' }}", "—"),
    ],
)
def test_the_filters(source, shown):
    context = Context({"when": WHEN, "paris": WHEN.astimezone(PARIS), "nothing": None, "empty": ""})
    assert Template("{% load console %}" + source).render(context) == shown


def test_a_list_shows_days_and_moments(admin_client, org, org_admin):
    """API keys: created and expires are days; last used is a moment, in UTC."""
    key, _ = api_key_create(org=org, actor=org_admin.account, name="Backup script")
    OrgApiKey.objects.filter(pk=key.pk).update(
        created_at=WHEN,
        expires_at=datetime(2099, 3, 5, 23, 30, tzinfo=UTC),
        last_used_at=datetime(2026, 12, 1, 9, 5, tzinfo=PARIS),
    )
    body = admin_client.get(reverse("console:api_keys", args=[org.org_id])).content.decode()
    assert "<td>27 Nov 2026</td>" in body
    assert "<td>5 Mar 2099</td>" in body
    assert "<td>1 Dec 2026, 08:05 UTC</td>" in body  # 09:05 in Paris


def test_the_audit_log_shows_moments_to_the_second(admin_client, org):
    with time_machine.travel(WHEN, tick=False), transaction.atomic():
        event = event_record(action="org:renamed", actor=Actor.system(), org_id=org.org_id)
    log = reverse("console:audit_log", args=[org.org_id])
    body = admin_client.get(log, {"date_from": "2026-11-01", "event": event.id}).content.decode()
    assert ">27 Nov 2026, 14:03:09 UTC</a></td>" in body  # the row
    assert "<dt>Time</dt><dd>27 Nov 2026, 14:03:09 UTC</dd>" in body  # the event's details


def test_a_deadline_reads_in_full_where_a_sentence_says_it(admin_client, org, org_admin):
    """A scheduled deletion: in full in the user's page notice and in what the person is told at
    sign-in; as a day in the list's badge."""
    pat = AccountFactory(email="pat@acme.test", display_name="Pat Doe")
    account_claim(org=org, account=pat, domain=None, actor=Actor.system("test"))
    with time_machine.travel(WHEN, tick=False):
        user_deletion_schedule(org=org, actor=org_admin.account, account_id=pat.account_id)
    users = reverse("console:users", args=[org.org_id])
    detail = admin_client.get(f"{users}{pat.account_id}/").content.decode()
    assert "Deletion scheduled for Friday 11 December 2026, 14:03 UTC. Until then" in detail
    listing = admin_client.get(users).content.decode()
    assert "Deletion scheduled for 11 Dec 2026</span>" in listing


@pytest.mark.parametrize(
    ("template", "context", "shown"),
    [
        (
            "sso/email/certificate_expiring.txt",
            {"not_after": WHEN, "expired": False},
            "expires on Friday 27 November 2026, 14:03 UTC.",
        ),
        (
            "policies/email/break_glass_signin.txt",
            {"at": WHEN.astimezone(PARIS), "ip": "203.0.113.5"},
            "on 27 Nov 2026, 14:03 UTC from 203.0.113.5.",
        ),
    ],
)
def test_emails_say_dates_as_the_pages_do(template, context, shown):
    names = {"org_name": "Acme", "name": "Ann", "email": "ann@acme.test"}
    assert shown in render_to_string(template, {**names, **context})
