"""Token introspection for product sites (RFC 7662), their client credentials, and activity.

A product site authenticates with its client credentials (client id = the site's public id, a
secret shown once and stored as SHA-256) and asks about a user API token. The answer is
``{"active": false}`` for anything that does not work now — unknown, revoked, expired, blocked
by the account's policy, deactivated account, or an ``email:token`` pair whose email is not the
token's account's — and, for a working token, its account, email, expiry and whether the account
may use the calling site. The hot path is one SHA-256 and indexed lookups.

Every successful introspection is activity: one ``Activity`` row per account × site × UTC day,
upserted, and the account's ``OrgUser.last_active_at`` in the site's org.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from orgwarden.accounts.ids import new_secret, secret_hash, secret_matches
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.audit.services import Target, event_record
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Activity, Organization, OrgUser, ProductSite
from orgwarden.orgs.selectors.access import site_role_of
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.tokens.models import SiteCredential
from orgwarden.tokens.processors.presented import parse_presented
from orgwarden.tokens.user_services import TOKEN_PREFIX, user_token_authenticate

SECRET_PREFIX = "owcs_"  # noqa: S105 — a public prefix, not a secret
INACTIVE: dict[str, Any] = {"active": False}
# Called with the site and its new secret inside ``site_credential_create``'s transaction: product
# sign-in (the ``oidc`` app, above this one) gives the site's OIDC client the same secret.
credential_created: list[Callable[[ProductSite, str], None]] = []


@transaction.atomic
def site_credential_create(*, org: Organization, actor: OrgActor, site_id: str) -> tuple[SiteCredential, str]:
    """Create (or replace) the client secret of ``org``'s site ``site_id``; returns it and the secret.

    The secret is never shown again; an earlier one stops working at once. Raises ``NotFound``.
    """
    who = org_actor(org=org, actor=actor)
    site = ProductSite.objects.select_for_update().filter(org=org, site_id=str(site_id)[:24]).first()
    if site is None:
        raise NotFound()
    secret = new_secret(SECRET_PREFIX)
    credential = SiteCredential.objects.filter(site=site).first()
    replaced = credential is not None
    if credential is None:
        credential = SiteCredential(site=site, client_id=site.site_id)
    else:
        credential.rotated_at = timezone.now()
    credential.secret_hash = secret_hash(secret)
    credential.save()
    for hook in credential_created:
        hook(site, secret)
    event_record(
        action="org:site:credential_created",
        actor=who,
        org_id=org.org_id,
        targets=[Target("site", site.site_id, site.name)],
        details={"client_id": credential.client_id, "replaced": replaced},
    )
    return credential, secret


def site_authenticate(*, client_id: str, client_secret: str) -> ProductSite | None:
    """The product site with these client credentials, or ``None`` (compared in constant time)."""
    if not client_id or not client_secret or len(client_id) > 40 or len(client_secret) > 200:
        return None
    credential = SiteCredential.objects.select_related("site__org").filter(client_id=client_id).first()
    if credential is None:
        secret_hash(client_secret)  # same work either way: no timing hint that the id exists
        return None
    if not secret_matches(client_secret, credential.secret_hash):
        return None
    return credential.site


def activity_record(*, site: ProductSite, account: Account, kind: Literal["signin", "api_call"]) -> None:
    """Count one sign-in or API call of ``account`` on ``site`` today (UTC), and its last activity.

    Bookkeeping, not a change anyone made: no audit event. Safe against concurrent first calls of
    the day (the unique row is created once; the loser of the race updates it).
    """
    now = timezone.now()
    day = now.date()
    counter = "signins" if kind == "signin" else "api_calls"
    rows = Activity.objects.filter(account=account, site=site, day=day)
    with transaction.atomic():
        if not rows.update(**{counter: F(counter) + 1}, last_at=now):
            try:
                with transaction.atomic():
                    Activity.objects.create(
                        org_id=site.org_id, site=site, account=account, day=day, last_at=now, **{counter: 1}
                    )
            except IntegrityError:
                rows.update(**{counter: F(counter) + 1}, last_at=now)
        OrgUser.objects.filter(org_id=site.org_id, account=account).update(last_active_at=now)


def token_introspect(*, site: ProductSite, token: str) -> dict[str, Any]:
    """RFC 7662 answer about ``token`` for ``site`` (see the module docstring)."""
    presented = parse_presented(token, prefix=TOKEN_PREFIX)
    if presented is None:
        return dict(INACTIVE)
    found = user_token_authenticate(value=presented.token)
    if found is None:
        return dict(INACTIVE)
    account = found.account
    if presented.email is not None and normalize_email(presented.email) != account.email:
        return dict(INACTIVE)
    role = site_role_of(site=site, account=account)
    activity_record(site=site, account=account, kind="api_call")
    return {
        "active": True,
        "token_type": "api_token",
        "client_id": site.site_id,
        "sub": account.account_id,
        "account_id": account.account_id,
        "email": account.email,
        "username": account.email,
        "name": account.display_name,
        "exp": int(found.expires_at.timestamp()),
        "iat": int(found.created_at.timestamp()),
        "site_access": role is not None,
        "site_role": role,
    }
