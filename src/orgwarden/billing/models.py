"""The org's security subscription (a 30-day trial, then paid or lapsed) and daily billable counts."""

from __future__ import annotations

from django.db import models

from orgwarden.orgs.models import Organization


class Subscription(models.Model):
    """Absent row: the org never started the trial."""

    class Status(models.TextChoices):
        TRIAL = "trial", "Free trial"
        PAID = "paid", "Paid"
        LAPSED = "lapsed", "Lapsed"

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="subscription")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.TRIAL)
    trial_started_at = models.DateTimeField()
    trial_ends_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    lapsed_at = models.DateTimeField(null=True, blank=True)
    warned_7_days_at = models.DateTimeField(null=True, blank=True)
    warned_1_day_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "trial_ends_at"])]


class BillableSnapshot(models.Model):
    """The org's billable count on one UTC day, taken by the daily job."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="billable_snapshots")
    day = models.DateField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "day"], name="billable_snapshot_one_per_day")]
        ordering = ["day"]
