"""Accounts (a person's identity), their server-side sessions, and one-time sign-in links."""

from __future__ import annotations

import hashlib

import idna
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models

from orgwarden.accounts.ids import new_public_id
from orgwarden.idn import idn_ascii

EMAIL_MAX = 254  # characters: RFC 5321's limit on a forward path, less its angle brackets


def normalize_email(email: str) -> str:
    """An email as it is stored and compared: lower case, and an internationalized domain in its
    ASCII form (IDNA A-labels: ``anna@müller.de`` is ``anna@xn--mller-kva.de``), the form domains
    are verified and stored in. One person, one account, however the address was typed; and an
    address on a verified domain is on it whichever form an IdP or a person sends. A domain IDNA
    refuses, or an address whose ASCII form is longer than any address can be (254 characters: it
    could not be delivered to), is left as typed, for the caller's validation to refuse."""
    email = email.strip().lower()
    _local, at, domain = email.rpartition("@")
    if at and not domain.isascii():
        try:
            ascii_form = idn_ascii(email)
        except idna.IDNAError:
            return email
        return ascii_form if len(ascii_form) <= EMAIL_MAX else email
    return email


class AccountManager(BaseUserManager["Account"]):
    def get_by_natural_key(self, email: str) -> Account:
        return self.get(email=normalize_email(email))


class Account(AbstractBaseUser):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DEACTIVATED = "deactivated", "Deactivated"
        CLOSED = "closed", "Closed"

    account_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    display_name = models.CharField(max_length=150)
    job_title = models.CharField(max_length=150, blank=True, default="")
    department = models.CharField(max_length=150, blank=True, default="")
    organization = models.CharField(max_length=150, blank=True, default="")
    location = models.CharField(max_length=150, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    email_verified = models.BooleanField(default=False)
    # Operators of this installation (support staff); not org admins.
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    # Two-step verification (TOTP). "Has 2SV" is derived from totp_enabled_at, never a stored flag.
    totp_secret = models.TextField(blank=True, default="")  # Fernet-encrypted base32 secret
    totp_last_step = models.BigIntegerField(null=True, blank=True)  # last accepted step: no replays
    totp_enabled_at = models.DateTimeField(null=True, blank=True)

    objects = AccountManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=models.functions.Lower("email")),
                name="account_email_lowercase",
            )
        ]
        # The accounts that are not active now, usually a few: the readers that leave them out of
        # counts over a whole org (insights, billing) read this list instead of every account row.
        indexes = [
            models.Index(fields=["id"], condition=~models.Q(status="active"), name="account_not_active")
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:  # what django.contrib.auth checks before signing in
        return self.status == self.Status.ACTIVE

    @property
    def has_two_step(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[-1]


def stored_session_key(session_key: str) -> str:
    """What the database keeps of a session key (the cookie's value): the first 40 hex digits (the
    column's width, 160 bits) of its SHA-256. A copy of the table — a backup, a read replica, a
    leaked dump — holds no key that signs anyone in, and the stored form can name a session on a
    page (``Session.session_key``, in the "End session" form) without handing out its cookie."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:40]


class Session(AbstractBaseSession):
    """A server-side session that knows whose it is, when it began, and where it is used from.

    The session engine (``accounts.session_store``) fills ``account`` from the signed-in user, and
    ``SessionActivityMiddleware`` keeps ``last_seen_at``/``ip``/``user_agent`` current. Ending a
    session deletes its row, so its cookie stops working everywhere at once. ``session_key`` holds
    ``stored_session_key`` of the cookie's key, never the key itself.
    """

    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="sessions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["account", "-last_seen_at"], name="session_account_seen")]

    @classmethod
    def get_session_store_class(cls):
        from orgwarden.accounts.session_store import SessionStore

        return SessionStore


class SignInLink(models.Model):
    """A one-time link that signs a person in without a password (first admin, bootstrap)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="signin_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class RecoveryCode(models.Model):
    """A single-use two-step recovery code: SHA-256 of a 60-bit random value, burned on use."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    burned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "code_hash"], name="recovery_code_lookup")]
