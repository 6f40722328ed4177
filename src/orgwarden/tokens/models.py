"""Org API keys (Bearer keys for the REST API), user API tokens, and product sites' client credentials."""

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


class UserApiToken(models.Model):
    """A person's API token for product APIs (checked by product sites through introspection).

    Only the SHA-256 of the value is kept, in a unique (so indexed) column: introspection finds a
    presented token with one equality lookup. ``prefix`` (``owt_`` + 6 characters) identifies it
    in lists without revealing it.
    """

    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    token_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    label = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["account", "revoked_at"], name="user_token_account_live"),
            # The console's list of every live token of an org, soonest expiry first: walked in
            # order, it stops at its page instead of reading and sorting every managed account's.
            models.Index(
                fields=["expires_at", "id"],
                condition=models.Q(revoked_at__isnull=True),
                name="user_token_live_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.prefix}…)"


class SiteCredential(models.Model):
    """The client credentials a product site authenticates with when it calls introspection.

    ``client_id`` is public; the secret is shown once and only its SHA-256 is stored (a high-entropy
    value, so a fast hash is enough and the hot path stays fast).
    """

    site = models.OneToOneField("orgs.ProductSite", on_delete=models.CASCADE, related_name="credential")
    client_id = models.CharField(max_length=40, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.client_id
