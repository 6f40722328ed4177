"""Recording audit events. ``event_record`` is the only writer of ``AuditEvent``."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orgwarden.audit import catalogue, context
from orgwarden.audit.ids import new_ulid, ulid_floor
from orgwarden.audit.models import AuditEvent
from orgwarden.config import AUDIT_RETENTION_MINIMUM_DAYS
from orgwarden.db import prepared_cursor
from orgwarden.idn import labels_read


class AuditError(RuntimeError):
    """``event_record`` was called wrongly (unknown action, outside a transaction)."""


class AccountLike(Protocol):
    account_id: str
    email: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: an account, the system, an identity-provider directory, or nobody known."""

    type: str
    id: str = ""
    name: str = ""
    email: str = ""

    @classmethod
    def account(cls, account: AccountLike) -> Actor:
        return cls(AuditEvent.ActorType.ACCOUNT, account.account_id, account.display_name, account.email)

    @classmethod
    def system(cls, name: str = "orgwarden") -> Actor:
        return cls(AuditEvent.ActorType.SYSTEM, "", name)

    @classmethod
    def api_key(cls, key_id: str, name: str) -> Actor:
        return cls(AuditEvent.ActorType.API_KEY, key_id, name)

    @classmethod
    def anonymous(cls, email: str = "") -> Actor:
        """An unauthenticated caller, with the email it typed when there is one."""
        return cls(AuditEvent.ActorType.ANONYMOUS, "", "", email[:254])


@dataclass(frozen=True, slots=True)
class Target:
    """What it was done to: a typed reference with a display snapshot."""

    type: str
    id: str
    name: str = ""
    email: str = ""

    @classmethod
    def account(cls, account: AccountLike) -> Target:
        return cls("account", account.account_id, account.display_name, account.email)

    def as_json(self) -> dict[str, str]:
        data = {"type": self.type, "id": self.id, "name": self.name}
        if self.email:
            data["email"] = self.email
        return data


# Apps above ``audit`` may say which org an account-level event belongs to (the org that manages
# the account), so that org's log finds it by its indexed ``org_id``. Registered in AppConfig.ready().
org_resolvers: list[Callable[[Actor, Sequence[Target]], str | None]] = []


def event_record(
    *,
    action: str,
    actor: Actor,
    org_id: str = "",
    targets: Sequence[Target] = (),
    details: Mapping[str, Any] | None = None,
    request_context: context.RequestContext | None = None,
) -> AuditEvent:
    """Record one audit event inside the caller's transaction and return it.

    Raises ``AuditError`` for an action missing from the catalogue, or when called outside an atomic
    block: an event must commit or roll back together with the change it describes.
    """
    if action not in catalogue.BY_KEY:
        raise AuditError(f"unknown audit action {action!r}; add it to audit/catalogue.py")
    if not transaction.get_connection().in_atomic_block:
        raise AuditError("event_record must run inside the transaction of the change it records")
    if not org_id:
        for resolve in org_resolvers:
            org_id = resolve(actor, targets) or ""
            if org_id:
                break
    ctx = request_context or context.current()
    now = timezone.now()
    words = [actor.name, actor.email] + [w for t in targets for w in (t.name, t.email)]
    search_text = " ".join(word.lower() for word in words if word)
    if "xn--" in search_text:  # internationalised labels in Unicode too, found by any part of them
        search_text = f"{search_text} {labels_read(search_text)}"
    event = AuditEvent(
        id=new_ulid(now),
        org_id=org_id,
        occurred_at=now,
        action=action,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name[:200],
        actor_email=actor.email[:254],
        targets=[target.as_json() for target in targets],
        ip=ctx.ip,
        user_agent=ctx.user_agent[:512],
        details=dict(details or {}),
        search_text=search_text,
    )
    _insert(event)
    return event


# Every change of state writes an event, so its INSERT is written once here rather than built by the
# ORM each time (that costs several times the statement itself). It is what ``AuditEvent.save()``
# would send for a new row: every column, each value prepared by its field; there are no signals
# on the model and no database default to read back (the id is a ULID made here).
_FIELDS = AuditEvent._meta.concrete_fields
_INSERT_SQL = "INSERT INTO {table} ({columns}) VALUES ({values})"


def _insert(event: AuditEvent) -> None:
    db = transaction.get_connection()
    sql = _INSERT_SQL.format(
        table=db.ops.quote_name(AuditEvent._meta.db_table),
        columns=", ".join(db.ops.quote_name(f.column) for f in _FIELDS),
        values=", ".join(["%s"] * len(_FIELDS)),
    )
    params = [f.get_db_prep_save(getattr(event, f.attname), db) for f in _FIELDS]
    with prepared_cursor(db.alias) as cursor:
        cursor.execute(sql, params)
    event._state.adding = False
    event._state.db = db.alias


@transaction.atomic
def audit_export_record(*, org_id: str, actor: Actor, filters: Mapping[str, str]) -> AuditEvent:
    """Record that ``actor`` exported the audit log of ``org_id`` with ``filters``; returns the event.

    Called before the CSV starts streaming, so an export that was served is always on record.
    """
    return event_record(
        action="org:audit:exported",
        actor=actor,
        org_id=org_id,
        targets=[Target("org", org_id)],
        details={"filters": dict(filters), "format": "csv"},
    )


# --- Retention ----------------------------------------------------------------------------------

log = logging.getLogger("orgwarden.audit")

PRUNE_BATCH = 5000  # rows per statement and transaction: each batch's locks last a moment, not minutes
PRUNE_ACTOR = "orgwarden audit prune"
PRUNE_SETTING = "orgwarden.audit_prune_before"  # read by the PostgreSQL trigger (migration 0005)
PRUNE_GATE = "audit_prune_gate"  # read by the SQLite trigger (migration 0006)


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one ``events_prune`` run did: the cutoff and the events it deleted, per org id."""

    retention_days: int | None
    before: datetime | None
    deleted: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def events_prune(*, retention_days: int | None = None, now: datetime | None = None) -> PruneResult:
    """Delete the audit events older than the retention period (``ORGWARDEN_AUDIT_RETENTION_DAYS``);
    the retention job (``orgwarden audit prune``, one of ``orgwarden daily``'s jobs).

    Without a retention period (the default) it deletes nothing: the log is kept indefinitely.
    Otherwise it deletes the events that occurred before ``now - retention_days``, oldest first,
    ``PRUNE_BATCH`` at a time, each batch in its own short transaction, so that a first prune of
    millions of rows never holds one transaction and its locks for minutes, and a run stopped
    part-way keeps the batches it finished. Each batch finds its rows by the primary key (ids are
    ULIDs, ordered by time: ``id < ulid_floor(cutoff)``), so it reads no row it does not delete.

    Then it records one ``audit:events:pruned`` event per org it deleted events of (and one for
    the installation's own events, without an org), with the cutoff and the count, in one
    transaction after the last batch: an admin reading the log sees when and why its oldest events
    went. Those events are themselves pruned like any other once they are old enough. A run that
    fails part-way still records what it deleted before it failed.

    Audit events are immutable in the database (migrations 0002 and 0006); each batch opens a
    narrow gap in that, for rows older than its cutoff and its own transaction only (0005 on
    PostgreSQL, 0006 on SQLite).
    """
    days = settings.AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    if days is None:
        return PruneResult(None, None, {})
    if days < AUDIT_RETENTION_MINIMUM_DAYS:
        raise AuditError(f"the audit log is kept at least {AUDIT_RETENTION_MINIMUM_DAYS} days, not {days}")
    before = (now or timezone.now()) - timedelta(days=days)
    deleted: Counter[str] = Counter()
    try:
        while _prune_batch(before=before, deleted=deleted) == PRUNE_BATCH:
            pass
    finally:
        if deleted:
            _pruned_record(before=before, days=days, deleted=deleted)
    return PruneResult(days, before, dict(deleted))


# The oldest rows first, found by the primary key (the ULID's time); ``occurred_at`` as well, which
# is what the PostgreSQL trigger checks. RETURNING counts what was really deleted, per org.
_PRUNE_SQL = (
    "DELETE FROM {table} WHERE id IN "
    "(SELECT id FROM {table} WHERE id < %s AND occurred_at < %s ORDER BY id LIMIT %s) RETURNING org_id"
)


@transaction.atomic
def _prune_batch(*, before: datetime, deleted: Counter[str]) -> int:
    """Delete the oldest ``PRUNE_BATCH`` events that occurred before ``before``; returns how many,
    counted into ``deleted`` by org id."""
    db = transaction.get_connection()
    table = db.ops.quote_name(AuditEvent._meta.db_table)
    occurred = AuditEvent._meta.get_field("occurred_at").get_db_prep_value(before, db)
    with db.cursor() as cursor:
        # The database's immutability trigger lets this transaction, and it only, delete rows older
        # than the cutoff: PostgreSQL reads a transaction-local setting (migration 0005), SQLite a
        # row of its control table that is gone again before the transaction commits (0006).
        gate = None
        if db.vendor == "postgresql":
            cursor.execute("SELECT set_config(%s, %s, true)", [PRUNE_SETTING, before.isoformat()])
        elif db.vendor == "sqlite":
            cursor.execute(f"INSERT INTO {PRUNE_GATE} (before) VALUES (%s)", [occurred])  # noqa: S608
            gate = cursor.lastrowid
        cursor.execute(_PRUNE_SQL.format(table=table), [ulid_floor(before), occurred, PRUNE_BATCH])
        orgs = [row[0] for row in cursor.fetchall()]
        if gate is not None:
            cursor.execute(f"DELETE FROM {PRUNE_GATE} WHERE rowid = %s", [gate])  # noqa: S608
    deleted.update(orgs)
    return len(orgs)


@transaction.atomic
def _pruned_record(*, before: datetime, days: int, deleted: Mapping[str, int]) -> None:
    for org_id, count in sorted(deleted.items()):
        event_record(
            action="audit:events:pruned",
            actor=Actor.system(PRUNE_ACTOR),
            org_id=org_id,
            targets=[Target("org", org_id)] if org_id else [],
            details={"before": before.isoformat(), "retention_days": days, "deleted": count},
        )
    log.info("deleted %d audit events older than %s", sum(deleted.values()), before.isoformat())
