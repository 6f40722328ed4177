"""Writes of product sign-in: a site's OIDC client (its secret and redirect URIs), refusals.

A site has ONE client secret for both product sign-in and token introspection: the secret created
by ``tokens.introspection.site_credential_create`` is also set on the site's django-oauth-toolkit
``Application`` (hashed by DOT) through the ``credential_created`` hook registered in ``apps``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db import transaction
from oauth2_provider.models import Application

from orgwarden.accounts.ids import public_id_lookup
from orgwarden.accounts.models import Account
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.oidc.checks import REASONS
from orgwarden.oidc.models import SiteClient
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
