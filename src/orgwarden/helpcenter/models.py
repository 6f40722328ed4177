"""Help centers of Jira Service Management sites, their portal-only customers and customer IdP.

A ``HelpCenter`` belongs to one product site whose product has ``help_center=True`` in the
catalogue; its row is created by the first service that writes to it (until then the defaults
apply: password sign-in on, SSO off). ``Customer`` rows are NOT accounts: the same email may be a
customer of two help centers, customers are never billed and no authentication policy applies to
them. The customer IdP (entity ID, SSO URL, up to two certificates) is validated by the same
``sso.processors.response.ResponseProcessor`` as the org's own IdPs; its one-time state (outstanding
AuthnRequests, seen assertion IDs) lives in the sibling tables below.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgwarden.accounts.ids import new_public_id


class HelpCenter(models.Model):
    site = models.OneToOneField("orgs.ProductSite", on_delete=models.CASCADE, related_name="help_center")
    password_enabled = models.BooleanField(default=True)
    sso_enabled = models.BooleanField(default=False)
    idp_entity_id = models.CharField(max_length=1024, blank=True, default="")
    idp_sso_url = models.URLField(max_length=1024, blank=True, default="")
    allow_idp_initiated = models.BooleanField(default=True)
    allow_sha1 = models.BooleanField(default=False)
    # Set by a passing "Test single sign-on"; cleared by any change of the IdP configuration.
    sso_tested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.site.name

    @property
    def is_configured(self) -> bool:
        return bool(self.idp_entity_id and self.idp_sso_url)


class HelpCenterCertificate(models.Model):
    """A signing certificate of the customer IdP (at most two, for rollover)."""

    help_center = models.ForeignKey(HelpCenter, on_delete=models.CASCADE, related_name="certificates")
    certificate_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    pem = models.TextField()
    fingerprint_sha256 = models.CharField(max_length=64)
    subject = models.CharField(max_length=500, blank=True, default="")
    not_after = models.DateTimeField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["help_center", "fingerprint_sha256"], name="helpcenter_certificate_unique"
            )
        ]


class Customer(models.Model):
    """A portal-only customer of one help center (not an account)."""

    help_center = models.ForeignKey(HelpCenter, on_delete=models.CASCADE, related_name="customers")
    customer_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    email = models.EmailField(max_length=254)
    display_name = models.CharField(max_length=200, blank=True, default="")
    password = models.CharField(max_length=256, blank=True, default="")  # "" = no password (SSO only)
    # Whether the customer proved the email: a reset link followed, or an SSO sign-in. A password
    # sign-up does not, so its password is cleared at the first SSO sign-in (``customer_sso_signin``).
    email_verified = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_signin_at = models.DateTimeField(null=True, blank=True)
    # A password reset link: SHA-256 of its high-entropy token, valid until the expiry, used once.
    reset_token_hash = models.CharField(max_length=64, blank=True, default="")
    reset_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["help_center", "email"], name="helpcenter_customer_email_unique")
        ]
        indexes = [models.Index(fields=["help_center", "email"], name="helpcenter_customer_email")]

    def __str__(self) -> str:
        return self.email


class HelpCenterSamlRequest(models.Model):
    """An AuthnRequest sent to the customer IdP: its ID may come back once, within 10 minutes."""

    request_id = models.CharField(max_length=64, primary_key=True)
    help_center = models.ForeignKey(HelpCenter, on_delete=models.CASCADE, related_name="saml_requests")
    created_at = models.DateTimeField()
    relay_state = models.CharField(max_length=2000, blank=True, default="")
    test_mode = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="helpcenter_request_created")]


class HelpCenterAssertionSeen(models.Model):
    """The customer IdP's replay cache: an assertion ID is accepted once."""

    help_center = models.ForeignKey(HelpCenter, on_delete=models.CASCADE, related_name="+")
    assertion_id = models.CharField(max_length=256)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["help_center", "assertion_id"], name="helpcenter_assertion_seen_unique"
            )
        ]
        indexes = [models.Index(fields=["expires_at"], name="helpcenter_assertion_expiry")]
