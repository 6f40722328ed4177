"""Product sign-in: a site's OpenID Connect client, and the RS256 keys that sign ID tokens."""

from __future__ import annotations

from django.db import models
from oauth2_provider.settings import oauth2_settings


class SiteClient(models.Model):
    """Links a product site to its django-oauth-toolkit ``Application`` (client id = the site's id)."""

    site = models.OneToOneField("orgs.ProductSite", on_delete=models.CASCADE, related_name="oidc_client")
    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="site_client"
    )
    created_at = models.DateTimeField(auto_now_add=True)


class SigningKey(models.Model):
    """An RS256 private key (PEM, encrypted at rest). The newest unretired key signs; retired keys
    stay in the JWKS until ``retired_at`` + overlap so tokens they signed still verify."""

    kid = models.CharField(max_length=64, unique=True)
    private_pem = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class ExchangedCode(models.Model):
    """An authorization code already exchanged for tokens: its SHA-256 (django-oauth-toolkit deletes
    the code's grant) and the family of refresh tokens the exchange began. A second exchange of the
    code is refused, and revokes that family (RFC 6749 §4.1.2): whoever sent the code twice, one of
    the two was not the product. Kept while a refresh token of its family is: the family outlives
    the exchange for as long as the product refreshes (``services.product_tokens_prune``)."""

    code_hash = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey("oauth2_provider.Application", on_delete=models.CASCADE, related_name="+")
    token_family = models.UUIDField()
    exchanged_at = models.DateTimeField(db_index=True)


class SignInTime(models.Model):
    """When the person signed in, in the orgwarden session a product sign-in came from: the
    ``auth_time`` of the ID tokens that sign-in leads to (OIDC Core §2), and the instant the
    authorize step judges ``max_age`` by (``accounts.signin.session_signed_in_at``) — not the account's
    ``last_login``, which a sign-in on any other device moves.

    Written at the authorize step for the code's ``grant``. The code's exchange hands it to the
    ``token_family`` the exchange begins (django-oauth-toolkit deletes the grant then), so the ID
    tokens that refreshes of the family issue name the same sign-in. Kept as long as a refresh
    token of the family is (``services.product_tokens_prune``); a grant's row goes with its grant.
    """

    grant = models.OneToOneField(
        oauth2_settings.GRANT_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )
    token_family = models.UUIDField(null=True, unique=True)
    auth_time = models.DateTimeField()
