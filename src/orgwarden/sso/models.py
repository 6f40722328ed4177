"""SAML connections of identity-provider directories, and the SP's one-time state.

A ``SamlConnection`` belongs to exactly one IdP ``Directory``; its public ``connection_id`` names
the SP endpoints (``/saml/<connection_id>/…``). Outstanding AuthnRequests and seen assertion IDs
live in the database, so every app process shares them (no per-process memory).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgwarden.accounts.ids import new_public_id


class SamlConnection(models.Model):
    class Vendor(models.TextChoices):
        OKTA = "okta", "Okta"
        ENTRA = "entra", "Microsoft Entra ID"
        GOOGLE = "google", "Google Workspace"
        ADFS = "adfs", "AD FS"
        ONELOGIN = "onelogin", "OneLogin"
        PING = "ping", "Ping Identity"
        JUMPCLOUD = "jumpcloud", "JumpCloud"
        AUTH0 = "auth0", "Auth0"
        CYBERARK = "cyberark", "CyberArk"
        OTHER = "other", "Other SAML 2.0 identity provider"

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="saml_connections")
    directory = models.OneToOneField(
        "orgs.Directory", on_delete=models.CASCADE, related_name="saml_connection"
    )
    connection_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    vendor = models.CharField(max_length=16, choices=Vendor.choices, default=Vendor.OTHER)
    idp_entity_id = models.CharField(max_length=1024, blank=True, default="")
    idp_sso_url = models.URLField(max_length=1024, blank=True, default="")
    allow_idp_initiated = models.BooleanField(default=True)
    allow_sha1 = models.BooleanField(default=False)
    attr_first_name = models.CharField(max_length=255, blank=True, default="")
    attr_last_name = models.CharField(max_length=255, blank=True, default="")
    attr_user_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.directory.name

    @property
    def is_configured(self) -> bool:
        return bool(self.idp_entity_id and self.idp_sso_url)


class SamlCertificate(models.Model):
    """An IdP signing certificate (at most two per connection, for rollover)."""

    connection = models.ForeignKey(SamlConnection, on_delete=models.CASCADE, related_name="certificates")
    certificate_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    pem = models.TextField()
    fingerprint_sha256 = models.CharField(max_length=64)
    subject = models.CharField(max_length=500, blank=True, default="")
    not_after = models.DateTimeField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "fingerprint_sha256"], name="saml_certificate_unique"
            )
        ]


class SamlRequest(models.Model):
    """An AuthnRequest we sent: its ID may come back once as InResponseTo, within 10 minutes."""

    request_id = models.CharField(max_length=64, primary_key=True)
    connection = models.ForeignKey(SamlConnection, on_delete=models.CASCADE, related_name="requests")
    created_at = models.DateTimeField()
    relay_state = models.CharField(max_length=2000, blank=True, default="")
    test_mode = models.BooleanField(default=False)
    # The admin who started a "Test single sign-on" (the IdP's POST is cross-site: no session cookie).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="saml_request_created")]


class SamlAssertionSeen(models.Model):
    """The replay cache: an assertion ID is accepted once, remembered until it expires."""

    connection = models.ForeignKey(SamlConnection, on_delete=models.CASCADE, related_name="+")
    assertion_id = models.CharField(max_length=256)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "assertion_id"], name="saml_assertion_seen_unique")
        ]
        indexes = [models.Index(fields=["expires_at"], name="saml_assertion_expiry")]


class SamlIdentity(models.Model):
    """Links an IdP's stable user id to an account: matched first, so an email change at the IdP
    does not create a second account."""

    connection = models.ForeignKey(SamlConnection, on_delete=models.CASCADE, related_name="identities")
    stable_id = models.CharField(max_length=512)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    linked_at = models.DateTimeField(auto_now_add=True)
    last_signin_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "stable_id"], name="saml_identity_unique"),
            models.UniqueConstraint(fields=["connection", "account"], name="saml_identity_one_per_account"),
        ]


class SamlDomainLink(models.Model):
    """A verified domain signs in through this connection (a domain links to one IdP)."""

    connection = models.ForeignKey(SamlConnection, on_delete=models.CASCADE, related_name="domain_links")
    domain = models.OneToOneField("orgs.Domain", on_delete=models.CASCADE, related_name="saml_link")
    linked_at = models.DateTimeField(auto_now_add=True)
