"""The audit log: one immutable row per thing that happened.

``AuditEvent`` deliberately has no foreign keys. It names its org, actor and targets by their
public ids and keeps a snapshot of their names, so an event stays readable after the account is
renamed, anonymised or deleted, and the ``audit`` app depends on no other app. Rows are written
only by ``audit.services.event_record`` and are never updated or deleted by the app: the model
refuses it, and database triggers (see the migrations) refuse it too. The one exception is the
retention job, ``audit.services.events_prune``, which deletes events older than
``ORGWARDEN_AUDIT_RETENTION_DAYS`` with its own SQL, through the triggers' narrow gap (migrations
0005 and 0006).
"""

from __future__ import annotations

from django.db import models

from orgwarden.audit.catalogue import BY_KEY
from orgwarden.audit.ids import new_ulid


class ImmutableEventError(RuntimeError):
    """Raised on any attempt to update or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[override]
        raise ImmutableEventError("audit events are never updated")

    def delete(self):  # type: ignore[override]
        raise ImmutableEventError("audit events are never deleted")


class AuditEvent(models.Model):
    class ActorType(models.TextChoices):
        ACCOUNT = "account", "Account"
        SYSTEM = "system", "System"
        DIRECTORY = "directory", "Identity-provider directory"
        API_KEY = "api_key", "Org API key"
        ANONYMOUS = "anonymous", "Anonymous"

    id = models.CharField(primary_key=True, max_length=26, default=new_ulid, editable=False)
    org_id = models.CharField(max_length=40, blank=True, default="")
    occurred_at = models.DateTimeField()
    action = models.CharField(max_length=80)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_name = models.CharField(max_length=200, blank=True, default="")
    actor_email = models.CharField(max_length=254, blank=True, default="")
    targets = models.JSONField(default=list)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    details = models.JSONField(default=dict)
    # Lower-cased names and emails of actor and targets, for the console's free-text filter.
    search_text = models.TextField(blank=True, default="")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["org_id", "-id"], name="audit_org_id_desc"),
            models.Index(fields=["org_id", "action", "-id"], name="audit_org_action"),
            models.Index(fields=["actor_id", "-id"], name="audit_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ImmutableEventError("audit events are never updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise ImmutableEventError("audit events are never deleted")

    @property
    def display_name(self) -> str:
        action = BY_KEY.get(self.action)
        return action.name if action else self.action

    @property
    def category(self) -> str:
        action = BY_KEY.get(self.action)
        return action.category if action else ""
