"""Authentication policies: the rules for a set of managed accounts, one default per directory.

Policies apply to managed accounts only. An account's effective policy is its ``PolicyMember``
row's policy, or else the default policy of the directory its managed ``OrgUser`` belongs to
(``policies.selectors.policy_for``). Break-glass admins are exempt from SSO enforcement and always
need two-step verification.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgwarden.accounts.ids import new_public_id

MINUTE = 1
DAY = 24 * 60


class AuthenticationPolicy(models.Model):
    class TwoStep(models.TextChoices):
        OPTIONAL = "optional", "Optional"
        MANDATORY = "mandatory", "Mandatory"

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="policies")
    directory = models.ForeignKey("orgs.Directory", on_delete=models.CASCADE, related_name="policies")
    policy_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False)
    two_step = models.CharField(max_length=10, choices=TwoStep.choices, default=TwoStep.OPTIONAL)
    password_min_length = models.PositiveSmallIntegerField(default=8)  # 8–100
    password_min_strength = models.PositiveSmallIntegerField(default=0)  # zxcvbn score 0–4
    password_expiry_days = models.PositiveSmallIntegerField(default=0)  # 0 = never; 30/60/90/180/365
    idle_session_minutes = models.PositiveIntegerField(default=30 * DAY)  # 15 minutes – 30 days
    absolute_session_minutes = models.PositiveIntegerField(default=30 * DAY)  # up to 90 days
    api_tokens_allowed = models.BooleanField(default=True)
    api_token_max_days = models.PositiveSmallIntegerField(default=365)  # 1–365
    billable = models.BooleanField(default=True)
    enforce_sso = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["directory"],
                condition=models.Q(is_default=True),
                name="policy_one_default_per_directory",
            ),
            models.UniqueConstraint(models.functions.Lower("name"), "org", name="policy_name_unique_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class PolicyMember(models.Model):
    """An account placed in a non-default policy (absent: the directory's default applies)."""

    policy = models.ForeignKey(AuthenticationPolicy, on_delete=models.CASCADE, related_name="members")
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_member"
    )
    added_at = models.DateTimeField(auto_now_add=True)


class BreakGlassAdmin(models.Model):
    """An org admin exempt from SSO enforcement (at most three per org), always held to 2SV."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="break_glass_admins")
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "account"], name="break_glass_unique")]
