"""Writes of product sign-in: a site's OIDC client (its secret and redirect URIs), refusals, and
the tokens a replayed code or refresh token revokes.

A site has ONE client secret for both product sign-in and token introspection: the secret created
by ``tokens.introspection.site_credential_create`` is also set on the site's django-oauth-toolkit
``Application`` (hashed by DOT) through the ``credential_created`` hook registered in ``apps``.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant, IDToken, RefreshToken
from oauth2_provider.settings import oauth2_settings

from orgwarden.accounts.ids import public_id_lookup
from orgwarden.accounts.models import Account
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.oidc.checks import REASONS
from orgwarden.oidc.models import ExchangedCode, SignInTime, SiteClient
from orgwarden.orgs.exceptions import InvalidInput, NotFound
from orgwarden.orgs.models import Organization, ProductSite
from orgwarden.orgs.services.actors import OrgActor, org_actor

MAX_REDIRECT_URIS = 10
LOOPBACK = {"localhost", "127.0.0.1", "[::1]"}


def application_secret_set(site: ProductSite, secret: str) -> None:
    """Hook of ``site_credential_create`` (same transaction): the site's OIDC client gets the secret."""
    client = SiteClient.objects.select_related("application").filter(site=site).first()
    if client is None:
        application = Application(
            client_id=site.site_id,
            name=site.name[:255],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            algorithm=Application.RS256_ALGORITHM,
            skip_authorization=True,
            redirect_uris="",
            post_logout_redirect_uris="",
            client_secret=secret,
        )
        application.save()
        SiteClient.objects.create(site=site, application=application)
    else:
        client.application.client_secret = secret
        client.application.save(update_fields=["client_secret", "updated"])


def clean_redirect_uris(text: str) -> list[str]:
    """Absolute https URIs, one per line (http only on loopback); raises ``InvalidInput``."""
    uris = str(text).replace(",", " ").split()
    if len(uris) > MAX_REDIRECT_URIS:
        raise InvalidInput(f"Enter at most {MAX_REDIRECT_URIS} addresses.")
    for uri in uris:
        if any(ch < " " or ch == "\x7f" for ch in uri):  # a NUL would also fail PostgreSQL's insert
            raise InvalidInput("Enter the addresses as text: one of them holds a control character.")
        try:
            parts = urlsplit(uri)
        except ValueError:  # an unclosed "[" of an IPv6 host
            raise InvalidInput(f"“{uri[:80]}” is not an absolute address.") from None
        loopback = parts.hostname in LOOPBACK or parts.netloc.split(":")[0] in LOOPBACK
        if len(uri) > 500 or not parts.netloc or parts.fragment:
            raise InvalidInput(f"“{uri[:80]}” is not an absolute address.")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise InvalidInput(f"“{uri[:80]}” must use https (http only on localhost).")
    return list(dict.fromkeys(uris))


@transaction.atomic
def site_redirect_uris_set(
    *, org: Organization, actor: OrgActor, site_id: str, redirect_uris: str, logout_uris: str = ""
) -> SiteClient:
    """Set where the site may receive sign-ins and land after sign-out. Raises ``NotFound`` or
    ``InvalidInput`` (bad address, or no client secret yet: create one first)."""
    who = org_actor(org=org, actor=actor)
    uris, logout = clean_redirect_uris(redirect_uris), clean_redirect_uris(logout_uris)
    site = ProductSite.objects.filter(org=org, site_id=public_id_lookup(site_id)).first()
    if site is None:
        raise NotFound()
    client = SiteClient.objects.select_related("application").select_for_update().filter(site=site).first()
    if client is None:
        raise InvalidInput("Create the site's client secret first.")
    application = client.application
    if application.redirect_uris == " ".join(uris) and application.post_logout_redirect_uris == " ".join(
        logout
    ):
        return client  # nothing changed: no event (a form sent twice records one change)
    application.redirect_uris = " ".join(uris)
    application.post_logout_redirect_uris = " ".join(logout)
    application.save(update_fields=["redirect_uris", "post_logout_redirect_uris", "updated"])
    event_record(
        action="org:site:redirect_uris_changed",
        actor=who,
        org_id=org.org_id,
        targets=[Target("site", site.site_id, site.name)],
        details={"redirect_uris": uris, "post_logout_redirect_uris": logout},
    )
    return client


@transaction.atomic
def product_access_denied_record(*, account: Account, site: ProductSite, reason: str) -> None:
    """Record that ``account`` was refused sign-in to ``site`` (shown in the site's org's audit log)."""
    event_record(
        action="account:product:access_denied",
        actor=Actor.account(account),
        org_id=site.org.org_id,
        targets=[Target.account(account), Target("site", site.site_id, site.name)],
        details={"reason": reason, "message": REASONS.get(reason, reason)},
    )


def code_hash(code: str) -> str:
    """How an exchanged authorization code is kept: its SHA-256 (a code is 30 random characters)."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def code_exchanged_record(*, application: Application, code: str, token_family: uuid.UUID) -> None:
    """Remember that ``code`` was exchanged for the tokens of ``token_family`` (in the exchange's
    transaction), and forget the codes exchanged longer ago than a refresh token may live: their
    tokens are gone by then, so a replay of one has nothing left to revoke."""
    now = timezone.now()
    ExchangedCode.objects.filter(
        exchanged_at__lt=now - timedelta(seconds=oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS)
    ).delete()
    ExchangedCode.objects.create(
        code_hash=code_hash(code), application=application, token_family=token_family, exchanged_at=now
    )


def exchanged_code_family(*, application: Application, code: str) -> uuid.UUID | None:
    """The token family that ``code`` began if ``application`` already exchanged it, else ``None``."""
    return (
        ExchangedCode.objects.filter(code_hash=code_hash(code), application=application)
        .values_list("token_family", flat=True)
        .first()
    )


def sign_in_time_record(*, grant: Grant, auth_time: datetime) -> None:
    """Keep with the code's ``grant`` (in its transaction) when the session it was given to signed
    in: the ``auth_time`` of the ID tokens it leads to (``models.SignInTime``)."""
    SignInTime.objects.create(grant=grant, auth_time=auth_time)


def sign_in_time_of_code(*, application: Application, code: str) -> tuple[int, datetime] | None:
    """The row and time of the sign-in that ``code`` (a grant of ``application``) was given after;
    ``None`` for a code given before these were recorded."""
    return (
        SignInTime.objects.filter(grant__code=code, grant__application=application)
        .values_list("pk", "auth_time")
        .first()
    )


def sign_in_time_pass_to_family(*, sign_in_pk: int, token_family: uuid.UUID) -> None:
    """At a code's exchange, before its grant goes: its sign-in time now belongs to the token
    family the exchange begins, for the ID tokens its refreshes issue."""
    SignInTime.objects.filter(pk=sign_in_pk).update(grant=None, token_family=token_family)


def sign_in_time_of_family(*, token_family: uuid.UUID | None) -> datetime | None:
    """When the sign-in that began ``token_family`` happened; ``None`` for a family begun before
    these were recorded."""
    if token_family is None:
        return None
    return SignInTime.objects.filter(token_family=token_family).values_list("auth_time", flat=True).first()


@transaction.atomic
def product_tokens_revoke_replayed(
    *,
    application: Application,
    token_family: uuid.UUID,
    replayed: Literal["authorization_code", "refresh_token"],
) -> bool:
    """Revoke every token of ``token_family`` because a credential of it came back after its use: an
    authorization code exchanged a second time (RFC 6749 §4.1.2), or a refresh token after its
    rotation (RFC 9700 §4.14.2). One of the two senders is not the product, and nothing tells
    which: the product signs the person in again. Returns whether anything was still live; only
    then is the event recorded (a client retrying a dead token adds nothing to the audit log)."""
    family = RefreshToken.objects.filter(token_family=token_family, application=application)
    live = family.filter(revoked__isnull=True).select_related("user").first()
    holder = live or family.exclude(access_token__isnull=True).select_related("user").first()
    if holder is None:
        return False
    RefreshToken.revoke_family(token_family)  # and deletes the family's access tokens
    site = SiteClient.objects.select_related("site__org").get(application=application).site
    event_record(
        action="account:product:tokens_replay_revoked",
        actor=Actor.system(),
        org_id=site.org.org_id,
        targets=[Target.account(holder.user), Target("site", site.site_id, site.name)],
        details={"replayed": replayed},
    )
    return True


def _family_has_refresh_tokens() -> Exists:
    """Whether a refresh token of the row's ``token_family`` is left, revoked or not: while one is,
    what the row remembers of the family is still needed."""
    return Exists(RefreshToken.objects.filter(token_family=OuterRef("token_family")))


PRUNE_BATCH = 5000  # rows per statement and transaction: a first prune of months of rows never
# holds the tables (on SQLite, the one writer) for long, nor loads them all into memory


def _delete_in_batches(rows) -> int:
    """Delete ``rows`` (a query on one model) ``PRUNE_BATCH`` at a time, each batch committed on
    its own; returns how many went."""
    model, total = rows.model, 0
    while pks := list(rows.values_list("pk", flat=True)[:PRUNE_BATCH]):
        with transaction.atomic():
            deleted = model.objects.filter(pk__in=pks).delete()[1].get(model._meta.label, 0)
        if not deleted:  # gone meanwhile (another prune): what is left is another batch's
            break
        total += deleted
    return total


def product_tokens_prune(*, now=None) -> dict[str, int]:
    """Delete the product sign-in rows nobody can use any more; returns how many of each kind went.

    Every sign-in leaves a grant, an ID token and an access and refresh token, and every hourly
    refresh another pair: without this the tables only grow. What goes, daily (``orgwarden oidc
    prune``, one of ``orgwarden daily``'s jobs), in batches (``PRUNE_BATCH``):

    - grants (authorization codes) past their expiry, and access tokens past theirs that no live
      refresh token holds, with their ID tokens;
    - refresh tokens revoked (rotated, signed out, replayed) more than a refresh token's life ago
      (``REFRESH_TOKEN_EXPIRE_SECONDS``): until then a replay of one is still recognised and
      revokes its family (``processors.validator.validate_refresh_token``); and refresh tokens
      left unused that long, whose access token expired that long ago;
    - exchanged-code records (``code_exchanged_record``) once none of their family's refresh
      tokens is left, and at least a refresh token's life after the exchange. Not by age alone: a
      family outlives its code's exchange for as long as the product refreshes (each rotation
      starts a new life), and a replay of the code must still revoke it (RFC 6749 §4.1.2: "SHOULD
      revoke … all tokens previously issued based on that authorization code"). Pruned by age, a
      replay was refused all the same (its grant went at the exchange) but revoked nothing;
    - sign-in times of token families none of whose refresh tokens is left (a grant's goes with
      its grant).

    Housekeeping of expired credentials: no audit event (the sign-ins and revocations that made
    them have theirs). Not DOT's ``clear_expired``: it deletes revoked refresh tokens at once,
    which would forget the rotated ones a replay is recognised by.
    """
    now = now or timezone.now()
    life = now - timedelta(seconds=oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS)
    return {
        "grants": _delete_in_batches(Grant.objects.filter(expires__lt=now)),
        "refresh_tokens": _delete_in_batches(RefreshToken.objects.filter(revoked__lt=life))
        + _delete_in_batches(
            RefreshToken.objects.filter(revoked__isnull=True, access_token__expires__lt=life)
        ),
        "access_tokens": _delete_in_batches(
            AccessToken.objects.filter(expires__lt=now, refresh_token__isnull=True)
        ),
        "id_tokens": _delete_in_batches(IDToken.objects.filter(expires__lt=now, access_token__isnull=True)),
        # After the refresh tokens: a family whose last one went above goes here in the same run.
        "exchanged_codes": _delete_in_batches(
            ExchangedCode.objects.filter(exchanged_at__lt=life).exclude(_family_has_refresh_tokens())
        ),
        "sign_in_times": _delete_in_batches(
            SignInTime.objects.filter(grant__isnull=True).exclude(_family_has_refresh_tokens())
        ),
    }
