"""What an identity provider provisioned into one of its org's IdP directories over SCIM 2.0.

The SCIM resources are kept as the IdP sent them (``ScimUser``, ``ScimGroup``, their emails and
members) and mirrored into the org: a ``ScimUser`` links to the ``Account`` it provisions, a
``ScimGroup`` to the synced org ``Group``. Keeping both lets a broken link (an email taken by another
account, a group name clashing with a local group) wait for an admin instead of failing the IdP.
Lower-cased copies (``user_name_key``, ``ScimEmail.value``) make case-insensitive ``eq`` one index hit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgwarden.accounts.ids import new_public_id


class ScimKey(models.Model):
    """A directory's SCIM bearer key. Only the SHA-256 of the value is kept; regenerating replaces it."""

    directory = models.OneToOneField("orgs.Directory", on_delete=models.CASCADE, related_name="scim_key")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)


class ScimUser(models.Model):
    directory = models.ForeignKey("orgs.Directory", on_delete=models.CASCADE, related_name="scim_users")
    scim_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="scim_users"
    )
    user_name = models.CharField(max_length=254)
    user_name_key = models.CharField(max_length=254)  # lower(user_name): case-insensitive uniqueness
    external_id = models.CharField(max_length=254, blank=True, default="")
    # None: the IdP removed ``active`` (treated as active; the account's status is left alone).
    active = models.BooleanField(null=True, default=True)
    display_name = models.CharField(max_length=150, blank=True, default="")
    given_name = models.CharField(max_length=150, blank=True, default="")
    family_name = models.CharField(max_length=150, blank=True, default="")
    formatted_name = models.CharField(max_length=300, blank=True, default="")
    title = models.CharField(max_length=150, blank=True, default="")
    department = models.CharField(max_length=150, blank=True, default="")
    organization = models.CharField(max_length=150, blank=True, default="")
    employee_number = models.CharField(max_length=100, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    preferred_language = models.CharField(max_length=64, blank=True, default="")
    locale = models.CharField(max_length=64, blank=True, default="")
    phone_numbers = models.JSONField(default=list)
    # Why the link to an account is broken (empty while linked): listed under "unlinked records".
    link_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Not stored: what a write wants its provisioning-log line to say beside its status (a change
    # the IdP asked for and was not made on the account, such as deactivating a break-glass admin).
    log_note = ""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["directory", "user_name_key"], name="scim_user_name_unique"),
        ]
        indexes = [
            models.Index(fields=["directory", "external_id"], name="scim_user_external_id"),
            models.Index(fields=["directory", "updated_at"], name="scim_user_updated"),
        ]


class ScimEmail(models.Model):
    user = models.ForeignKey(ScimUser, on_delete=models.CASCADE, related_name="emails")
    value = models.CharField(max_length=254)  # lower case
    type = models.CharField(max_length=64, blank=True, default="")
    primary = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["value"], name="scim_email_value")]


class ScimGroup(models.Model):
    directory = models.ForeignKey("orgs.Directory", on_delete=models.CASCADE, related_name="scim_groups")
    scim_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=254, blank=True, default="")
    # The synced org group; None while a name clash with ``clash_group`` waits for an admin.
    group = models.OneToOneField(
        "orgs.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="scim_group"
    )
    clash_group = models.ForeignKey(
        "orgs.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["directory", "display_name"], name="scim_group_name"),
            models.Index(fields=["directory", "external_id"], name="scim_group_external_id"),
        ]


class ScimGroupMember(models.Model):
    group = models.ForeignKey(ScimGroup, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(ScimUser, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="scim_member_unique")]
        indexes = [models.Index(fields=["user", "group"], name="scim_member_user")]


class ProvisioningLog(models.Model):
    """One SCIM request the directory answered: what the IdP asked, and how it went."""

    directory = models.ForeignKey("orgs.Directory", on_delete=models.CASCADE, related_name="provisioning_log")
    at = models.DateTimeField()
    method = models.CharField(max_length=8)
    resource = models.CharField(max_length=16)  # Users, Groups, …
    resource_id = models.CharField(max_length=64, blank=True, default="")
    operation = models.CharField(max_length=16)  # create, replace, patch, delete, read, list
    status = models.PositiveSmallIntegerField()
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["directory", "-at"], name="provisioning_log_at")]
