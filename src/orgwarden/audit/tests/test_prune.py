"""Audit log retention: ``orgwarden audit prune`` (a daily job) deletes the events older than
``ORGWARDEN_AUDIT_RETENTION_DAYS``, in batches, records that it did in each org's log, and is the
only way an event goes: the database still refuses every other UPDATE and DELETE."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from orgwarden import config, jobs
from orgwarden.audit import services
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor, AuditError, Target, event_record, events_prune
from orgwarden.testing.serve import clean_env

pytestmark = pytest.mark.django_db
START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def record(at: datetime, org_id: str = "", action: str = "org:renamed") -> AuditEvent:
    with time_machine.travel(at, tick=False), transaction.atomic():
        return event_record(
            action=action,
            actor=Actor.system(),
            org_id=org_id,
            targets=[Target("org", org_id)] if org_id else [],
        )


def prune(at: datetime) -> str:
    out = io.StringIO()
    with time_machine.travel(at, tick=False):
        call_command("audit", "prune", stdout=out)
    return out.getvalue()


def pruned_events() -> dict[str, dict]:
    return {e.org_id: e.details for e in AuditEvent.objects.filter(action="audit:events:pruned")}


def test_prune_deletes_exactly_the_events_older_than_the_retention_and_records_it(settings):
    settings.AUDIT_RETENTION_DAYS = 365
    now = START + timedelta(days=400)
    cutoff = now - timedelta(days=365)
    old_acme = [record(START, "org_acme"), record(cutoff - timedelta(seconds=1), "org_acme")]
    old_globex = record(START + timedelta(days=10), "org_globex")
    old_installation = record(START, "")
    kept = [
        record(cutoff, "org_acme"),  # exactly at the cutoff: kept
        record(cutoff + timedelta(days=1), "org_globex"),
        record(now - timedelta(hours=1), "org_initech"),
    ]

    said = prune(now)

    assert set(AuditEvent.objects.exclude(action="audit:events:pruned").values_list("id", flat=True)) == {
        e.id for e in kept
    }
    before = cutoff.isoformat()
    assert pruned_events() == {
        "org_acme": {"before": before, "retention_days": 365, "deleted": 2},
        "org_globex": {"before": before, "retention_days": 365, "deleted": 1},
        "": {"before": before, "retention_days": 365, "deleted": 1},
    }
    event = AuditEvent.objects.get(action="audit:events:pruned", org_id="org_acme")
    assert (event.actor_type, event.actor_name, event.occurred_at) == ("system", "orgwarden audit prune", now)
    assert event.targets == [{"type": "org", "id": "org_acme", "name": ""}]
    assert "4 audit events older than 2024-04-05 09:00 UTC (365 days) deleted, of 2 orgs" in said
    assert not AuditEvent.objects.filter(id__in=[e.id for e in [*old_acme, old_globex, old_installation]])

    # A second run finds nothing, and records nothing.
    assert "0 audit events" in prune(now)
    assert AuditEvent.objects.filter(action="audit:events:pruned").count() == 3

    # The pruning events are themselves pruned once they are old enough.
    prune(now + timedelta(days=366))
    assert pruned_events() == {
        "org_acme": {"before": (now + timedelta(days=1)).isoformat(), "retention_days": 365, "deleted": 2},
        "org_globex": {"before": (now + timedelta(days=1)).isoformat(), "retention_days": 365, "deleted": 2},
        "org_initech": {"before": (now + timedelta(days=1)).isoformat(), "retention_days": 365, "deleted": 1},
        "": {"before": (now + timedelta(days=1)).isoformat(), "retention_days": 365, "deleted": 1},
    }


def test_without_a_retention_nothing_is_deleted(settings):
    settings.AUDIT_RETENTION_DAYS = None
    event = record(START, "org_acme")
    said = prune(START + timedelta(days=3650))
    assert "not set: audit events are kept indefinitely, none deleted" in said
    assert list(AuditEvent.objects.values_list("id", flat=True)) == [event.id]


def test_prune_deletes_in_batches_each_its_own_transaction(settings, monkeypatch):
    """A first prune may meet millions of rows: it deletes them a batch at a time, each in its own
    transaction, and a run that fails part-way keeps (and records) the batches it finished."""
    settings.AUDIT_RETENTION_DAYS = 90
    monkeypatch.setattr(services, "PRUNE_BATCH", 2)
    old = [record(START + timedelta(minutes=i), "org_acme") for i in range(5)]
    batches: list[int] = []
    real_batch = services._prune_batch

    def spy(**kwargs) -> int:
        batches.append(real_batch(**kwargs))
        return batches[-1]

    monkeypatch.setattr(services, "_prune_batch", spy)
    result = events_prune(now=START + timedelta(days=100))
    assert batches == [2, 2, 1]
    assert result.deleted == {"org_acme": 5}
    assert not AuditEvent.objects.filter(id__in=[e.id for e in old]).exists()

    # Oldest first; a failure in the second batch keeps the first, and records it.
    newer = [record(START + timedelta(days=10, minutes=i), "org_acme") for i in range(4)]
    calls = []

    def failing(**kwargs) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise DatabaseError("connection lost")
        return real_batch(**kwargs)

    monkeypatch.setattr(services, "_prune_batch", failing)
    with pytest.raises(DatabaseError, match="connection lost"):
        events_prune(now=START + timedelta(days=110))
    left = set(AuditEvent.objects.filter(action="org:renamed").values_list("id", flat=True))
    assert left == {e.id for e in newer[2:]}
    assert AuditEvent.objects.filter(action="audit:events:pruned", details__deleted=2).exists()


def test_a_retention_under_the_minimum_is_refused():
    record(START, "org_acme")
    with pytest.raises(AuditError, match="at least 90 days"):
        events_prune(retention_days=30, now=START + timedelta(days=60))
    assert AuditEvent.objects.count() == 1


def test_the_daily_jobs_prune_the_audit_log(settings):
    from django.core.cache import cache

    assert ("audit", "prune") in jobs.DAILY_COMMANDS
    settings.AUDIT_RETENTION_DAYS = 180
    cache.clear()
    old = record(START, "org_acme")
    recent = record(START + timedelta(days=300), "org_acme")
    with time_machine.travel(START + timedelta(days=365), tick=False):
        call_command("daily", force=True)
    cache.clear()
    assert not AuditEvent.objects.filter(id=old.id).exists()
    assert AuditEvent.objects.filter(id=recent.id).exists()
    assert pruned_events()["org_acme"]["deleted"] == 1


# --- The database still refuses every other change --------------------------------------------


def raw(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def gate_closed() -> None:
    """On SQLite the suite's test database keeps the DELETE trigger's gate open (conftest.py): close
    it inside this test's transaction, as it is in every real database."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_prune_gate")


def test_the_database_refuses_a_delete_outside_the_pruner_and_the_pruner_still_prunes(settings, gate_closed):
    old = record(START, "org_acme")
    older = record(START - timedelta(days=1), "org_acme")
    with pytest.raises(DatabaseError, match="immutable"):
        raw("DELETE FROM audit_auditevent WHERE id = %s", [old.id])
    assert AuditEvent.objects.filter(id=old.id).exists()
    # The pruner opens the gate for its own transaction only, and only for rows older than its cutoff.
    events_prune(retention_days=90, now=START - timedelta(days=1) + timedelta(days=90, seconds=1))
    assert not AuditEvent.objects.filter(id=older.id).exists()
    with pytest.raises(DatabaseError, match="immutable"):
        raw("DELETE FROM audit_auditevent WHERE id = %s", [old.id])
    assert AuditEvent.objects.filter(id=old.id).exists()


def open_gap(cursor, before: datetime) -> None:
    """Open the trigger's gap for rows older than ``before`` in this transaction, as the pruner does."""
    if connection.vendor == "postgresql":
        cursor.execute("SELECT set_config('orgwarden.audit_prune_before', %s, true)", [before.isoformat()])
    else:
        cursor.execute(
            "INSERT INTO audit_prune_gate (before) VALUES (%s)", [before.strftime("%Y-%m-%d %H:%M:%S")]
        )


def test_the_gap_lets_through_deletes_of_older_rows_only(gate_closed):
    old = record(START, "org_acme")
    newer = record(START + timedelta(days=2), "org_acme")
    bound = START + timedelta(days=1)
    with transaction.atomic(), connection.cursor() as cursor:
        open_gap(cursor, bound)
        with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
            cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [newer.id])
        with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
            cursor.execute("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [old.id])
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [old.id])
    assert list(AuditEvent.objects.values_list("id", flat=True)) == [newer.id]


@pytest.mark.django_db(transaction=True)  # real commits: the gap must end with its transaction
def test_the_gap_ends_with_its_transaction(settings):
    settings.AUDIT_RETENTION_DAYS = 90
    old = record(START, "org_acme")
    kept = record(START + timedelta(days=30), "org_acme")
    events_prune(now=START + timedelta(days=100))
    assert set(AuditEvent.objects.values_list("id", flat=True)) >= {kept.id}
    assert not AuditEvent.objects.filter(id=old.id).exists()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with transaction.atomic():
                open_gap(cursor, START + timedelta(days=60))
            with pytest.raises(DatabaseError, match="immutable"):
                raw("DELETE FROM audit_auditevent WHERE id = %s", [kept.id])
            cursor.execute("SELECT current_setting('orgwarden.audit_prune_before', true)")
            assert cursor.fetchone()[0] in (None, "")
        else:  # the pruner took its row out again: only the suite's own (conftest.py) is left
            cursor.execute("SELECT before FROM audit_prune_gate")
            assert cursor.fetchall() == [("9999-12-31",)]
    assert AuditEvent.objects.filter(id=kept.id).exists()


def test_the_app_still_cannot_update_or_delete_events():
    """On both databases: the model refuses, and the UPDATE trigger refuses raw SQL."""
    old = record(START, "org_acme")
    with pytest.raises(RuntimeError, match="never deleted"):
        AuditEvent.objects.filter(id=old.id).delete()
    with pytest.raises(DatabaseError, match="immutable"):
        raw("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [old.id])
    assert AuditEvent.objects.get(id=old.id).action == "org:renamed"


# --- The setting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("  ", None), ("90", 90), (" 365 ", 365), ("36500", 36500)],
)
def test_retention_setting_values(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("ORGWARDEN_AUDIT_RETENTION_DAYS", raising=False)
    else:
        monkeypatch.setenv("ORGWARDEN_AUDIT_RETENTION_DAYS", value)
    assert config.audit_retention_days() == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("7", "must be between 90 and 36500 days, or unset to keep the audit log indefinitely, not 7"),
        ("0", "must be between 90 and 36500 days"),
        ("-365", "must be between 90 and 36500 days"),
        ("1y", "must be a whole number of days, or unset to keep the audit log indefinitely, not '1y'"),
    ],
)
def test_bad_retention_settings_are_refused(monkeypatch, value, message):
    monkeypatch.setenv("ORGWARDEN_AUDIT_RETENTION_DAYS", value)
    with pytest.raises(config.ConfigError, match=f"ORGWARDEN_AUDIT_RETENTION_DAYS {message}"):
        config.audit_retention_days()


def test_a_bad_retention_stops_the_command_at_start_with_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "orgwarden.cli", "audit", "prune"],
        env=clean_env(tmp_path, ORGWARDEN_AUDIT_RETENTION_DAYS="30"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "orgwarden: configuration error: ORGWARDEN_AUDIT_RETENTION_DAYS must be between 90 and 36500 days, "
        "or unset to keep the audit log indefinitely, not 30"
    ]
