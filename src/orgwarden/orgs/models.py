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


class Directory(models.Model):
    """Where an org's members come from: its one local directory, or an identity provider's."""

    class Kind(models.TextChoices):
        LOCAL = "local", "Local directory"
        IDP = "idp", "Identity provider"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="directories")
    directory_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org"], condition=models.Q(kind="local"), name="directory_one_local_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Domain(models.Model):
    """An email domain an org claims to own, and the proof it published."""

    class Status(models.TextChoices):
        UNVERIFIED = "unverified", "Unverified"
        VERIFIED = "verified", "Verified"

    class Method(models.TextChoices):
        DNS = "dns", "DNS TXT record"
        HTTPS = "https", "HTTPS file"

    class Claim(models.TextChoices):
        MANUAL = "manual", "Manual"
        AUTOMATIC = "automatic", "Automatic"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    domain_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=253)
    # Published in DNS or on a web server, so not a secret; random so it proves this org's control.
    token = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UNVERIFIED)
    method = models.CharField(max_length=8, choices=Method.choices, blank=True, default="")
    claim = models.CharField(max_length=10, choices=Claim.choices, default=Claim.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_error = models.CharField(max_length=500, blank=True, default="")
    # Set when a re-check of a verified domain fails; after the grace period the domain is unverified.
    proof_missing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="domain_unique_per_org"),
            # A domain may be verified by several orgs, but only one may claim it automatically.
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(claim="automatic"), name="domain_one_automatic_claim"
            ),
        ]
        indexes = [models.Index(fields=["name", "status"], name="domain_name_status")]

    def __str__(self) -> str:
        return self.name


class OrgUser(models.Model):
    """An account as a user of an org: a managed account, or an external user with product access.

    ``email`` is a copy of ``account.email``: the sort and prefix-search key of the user lists, so
    page 50 costs what page 1 costs on one index. Every service that changes an account's email
    updates it in the same transaction. An account is managed by at most one org.
    """

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="users")
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="org_users")
    email = models.EmailField(max_length=254)
    is_managed = models.BooleanField(default=False)
    directory = models.ForeignKey(
        Directory, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    domain = models.ForeignKey(Domain, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    managed_notice_seen_at = models.DateTimeField(null=True, blank=True)
    deactivation_message = models.CharField(max_length=500, blank=True, default="")
    deletion_scheduled_for = models.DateTimeField(null=True, blank=True)
    last_active_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "account"], name="org_user_unique"),
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(is_managed=True), name="org_user_managed_by_one_org"
            ),
        ]
        indexes = [
            models.Index(fields=["org", "email"], name="org_user_email"),
            # The account last: counts over an org's users (insights, billing) read this index alone.
            models.Index(fields=["org", "is_managed", "email", "account"], name="org_user_managed_email"),
            models.Index(fields=["org", "last_active_at"], name="org_user_last_active"),
        ]

    def __str__(self) -> str:
        return self.email


class Group(models.Model):
    """A named set of accounts; product access is granted to groups. Synced groups have a directory."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="groups")
    group_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=255)
    description = models.CharField(max_length=500, blank=True, default="")
    directory = models.ForeignKey(
        Directory, null=True, blank=True, on_delete=models.CASCADE, related_name="groups"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(models.functions.Lower("name"), "org", name="group_name_unique_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class GroupMember(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "account"], name="group_member_unique")]
        indexes = [models.Index(fields=["account", "group"], name="group_member_account")]


class ProductSite(models.Model):
    """One instance of a product the org uses (product key from ``orgs.products``)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sites")
    site_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    product = models.CharField(max_length=40)
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    # Groups that people invited to this site join.
    default_groups = models.ManyToManyField(Group, blank=True, related_name="default_for_sites")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "url"], name="site_url_unique_per_org")]

    def __str__(self) -> str:
        return self.name


class SiteAccess(models.Model):
    """A group's role on a product site (admin includes use)."""

    class Role(models.TextChoices):
        USER = "user", "User"
        ADMIN = "admin", "Admin"

    site = models.ForeignKey(ProductSite, on_delete=models.CASCADE, related_name="access")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="site_access")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.USER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "group"], name="site_access_unique")]


class Activity(models.Model):
    """One row per account × product site × day: a sign-in to or an API call against the site.

    Upserted, so volume stays bounded; the product sign-in issue records it, insights read it.
    """

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="activity")
    site = models.ForeignKey(ProductSite, on_delete=models.CASCADE, related_name="activity")
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="activity")
    day = models.DateField()
    signins = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    last_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "site", "day"], name="activity_unique_day")]
        indexes = [models.Index(fields=["org", "day"], name="activity_org_day")]
