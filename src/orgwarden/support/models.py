"""Support requests an org admin raises with the operators of this installation, and their conversation."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgwarden.accounts.ids import new_public_id
from orgwarden.orgs.models import Organization


class SupportRequest(models.Model):
    class Severity(models.TextChoices):
        L1 = "L1", "L1 — production application down"
        L2 = "L2", "L2 — serious degradation"
        L3 = "L3", "L3 — moderate impact"
        L4 = "L4", "L4 — limited impact"

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for support"
        ANSWERED = "answered", "Answered"
        RESOLVED = "resolved", "Resolved"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="support_requests")
    request_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    severity = models.CharField(max_length=2, choices=Severity.choices)
    summary = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    response_due_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["org", "-created_at"]),
            models.Index(fields=["status", "response_due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.summary}"


class SupportMessage(models.Model):
    request = models.ForeignKey(SupportRequest, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_support = models.BooleanField(default=False)
    body = models.TextField(max_length=10_000)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
