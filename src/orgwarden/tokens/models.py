"""Org API keys (Bearer keys for the Organizations REST API). User API tokens come later."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgwarden.accounts.ids import new_public_id


class OrgApiKey(models.Model):
    """An org's API key. Only the SHA-256 of the value is kept; ``prefix`` identifies it in lists."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="api_keys")
    key_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
