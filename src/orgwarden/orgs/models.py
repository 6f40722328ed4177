"""Organizations and their admins (the Directory issue adds domains, groups, product sites …)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgwarden.accounts.ids import new_public_id


class Organization(models.Model):
    org_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class OrgAdmin(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="admins")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="org_admin_roles"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "account"], name="org_admin_unique")]


class AdminInvitation(models.Model):
    """An invitation to become an org admin: pending until accepted, revoked or expired."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="admin_invitations")
    invitation_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    email = models.EmailField(max_length=254)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["org", "email"], name="invitation_org_email")]

    @property
    def is_pending(self) -> bool:
        from django.utils import timezone

        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()
