"""Token introspection for product sites (RFC 7662), their client credentials, and activity.

A product site authenticates with its client credentials (client id = the site's public id, a
secret shown once and stored as SHA-256) and asks about a user API token. The answer is
``{"active": false}`` for anything that does not work now — unknown, revoked, expired, blocked
by the account's policy, deactivated account, or an ``email:token`` pair whose email is not the
token's account's — and, for a working token, its account, email, expiry and whether the account
may use the calling site. The hot path is one SHA-256 and three indexed lookups in plain SQL
(see "the hot path's reads" below), and no write.

Every successful introspection is activity: one ``Activity`` row per account × site × UTC day,
upserted, and the account's ``OrgUser.last_active_at`` in the site's org; and a use of the token.
Those writes go behind, in batches (``tokens.usage``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from django.db import connection, transaction
from django.utils import timezone

from orgwarden.accounts.ids import new_secret, secret_hash, secret_matches
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.audit.services import Target, event_record
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Directory, GroupMember, Organization, OrgUser, ProductSite, SiteAccess
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.policies.models import AuthenticationPolicy, PolicyMember
from orgwarden.tokens import usage
from orgwarden.tokens.models import SiteCredential, UserApiToken
from orgwarden.tokens.processors.presented import parse_presented
from orgwarden.tokens.user_services import LAST_USED_GRANULARITY, TOKEN_PREFIX

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
    """The product site with these client credentials, or ``None`` (compared in constant time).

    The site comes back with only ``id``, ``site_id``, ``org_id`` and ``name`` loaded (one raw
    query on the hot path); any other field loads on first access.
    """
    if not client_id or not client_secret or len(client_id) > 40 or len(client_secret) > 200:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_SITE_SQL, [client_id])
        row = cursor.fetchone()
    if row is None:
        secret_hash(client_secret)  # same work either way: no timing hint that the id exists
        return None
    if not secret_matches(client_secret, row[-1]):
        return None
    return ProductSite.from_db(connection.alias, _SITE_FIELDS, row[:-1])  # the other fields are deferred


def activity_record(*, site: ProductSite, account: Account, kind: Literal["signin", "api_call"]) -> None:
    """Count one sign-in or API call of ``account`` on ``site`` (see ``tokens.usage``).

    A sign-in is written at once; API calls are written behind, in batches.
    """
    usage.activity_noted(
        org_pk=site.org_id,
        site_pk=site.pk,
        account_pk=account.pk,
        kind=kind,
        at=timezone.now(),
        at_once=kind == "signin",
    )


def token_introspect(*, site: ProductSite, token: str) -> dict[str, Any]:
    """RFC 7662 answer about ``token`` for ``site`` (see the module docstring)."""
    presented = parse_presented(token, prefix=TOKEN_PREFIX)
    if presented is None or len(presented.token) > 100:
        return dict(INACTIVE)
    now = timezone.now()
    found = _token_lookup(value=presented.token, now=now, site_pk=site.pk)
    if found is None or not found.works:
        return dict(INACTIVE)
    if presented.email is not None and normalize_email(presented.email) != found.email:
        return dict(INACTIVE)
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_GRANULARITY:
        usage.token_used(token_pk=found.token_pk, at=now)
    usage.activity_noted(
        org_pk=site.org_id, site_pk=site.pk, account_pk=found.account_pk, kind="api_call", at=now
    )
    return {
        "active": True,
        "token_type": "api_token",
        "client_id": site.site_id,
        "sub": found.account_id,
        "account_id": found.account_id,
        "email": found.email,
        "username": found.email,
        "name": found.display_name,
        "exp": int(found.expires_at.timestamp()),
        "iat": int(found.created_at.timestamp()),
        "site_access": found.role is not None,
        "site_role": found.role,
    }


# --- the hot path's reads ---------------------------------------------------------------------------
#
# Introspection runs on every API call a product receives, so its reads are three statements of
# plain SQL instead of the ORM's five to seven compiled queries (the compiling, not the database,
# was most of the time). They answer what the ORM's definitions answer — the account is active,
# ``policies.selectors.policy_for`` allows API tokens, ``orgs.selectors.access.site_role_of`` gives
# the role — and tests/test_introspection.py checks that they agree case by case, so a change to
# one of those rules that is not made here fails there.


@dataclass(frozen=True, slots=True)
class _Found:
    token_pk: int
    expires_at: datetime
    created_at: datetime
    last_used_at: datetime | None
    account_pk: int
    account_id: str
    email: str
    display_name: str
    works: bool  # the account is active and its policy allows API tokens
    role: str | None  # on the calling site: "admin", "user" or None


def _table(model) -> str:
    return model._meta.db_table


# In the model's field order, as ``Model.from_db`` wants them.
_SITE_FIELDS = [
    f.attname for f in ProductSite._meta.concrete_fields if f.attname in {"id", "site_id", "org_id", "name"}
]
_SITE_SQL = (
    f"SELECT {', '.join('s.' + name for name in _SITE_FIELDS)}, c.secret_hash "  # noqa: S608
    f"FROM {_table(SiteCredential)} c JOIN {_table(ProductSite)} s ON s.id = c.site_id "
    "WHERE c.client_id = %s"
)

# The token with its account and, when the account is managed, the org and directory that manage it
# (``policies.selectors._managing_org_user``: the first managed OrgUser).
_TOKEN_SQL = (
    "SELECT t.id, t.expires_at, t.created_at, t.last_used_at, "  # noqa: S608
    "a.id, a.account_id, a.email, a.display_name, a.status, ou.org_id, ou.directory_id "
    f"FROM {_table(UserApiToken)} t "
    f"JOIN {_table(Account)} a ON a.id = t.account_id "
    f"LEFT JOIN {_table(OrgUser)} ou ON ou.id = (SELECT MIN(m.id) FROM {_table(OrgUser)} m "
    "WHERE m.account_id = a.id AND m.is_managed = %s) "
    "WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s"
)

# A managed account without a directory is in its org's local directory.
_LOCAL_DIRECTORY_SQL = (
    f"SELECT id FROM {_table(Directory)} WHERE org_id = %s AND kind = %s ORDER BY id LIMIT 1"  # noqa: S608
)

# The account's role on the site through its groups: 0 = admin, 1 = user, NULL = no access.
_ROLE_SUBQUERY = (
    "(SELECT MIN(CASE WHEN sa.role = %s THEN 0 ELSE 1 END) "  # noqa: S608
    f"FROM {_table(SiteAccess)} sa JOIN {_table(GroupMember)} gm ON gm.group_id = sa.group_id "
    "WHERE sa.site_id = %s AND gm.account_id = %s)"
)
_ROLE_SQL = f"SELECT {_ROLE_SUBQUERY}"

# The account's policy's ``api_tokens_allowed`` (its PolicyMember's policy in that org and directory,
# else the directory's default policy; NULL when neither exists) and its role on the site. Each
# subquery starts from a unique or indexed key.
_POLICY_AND_ROLE_SQL = (
    f"SELECT COALESCE((SELECT p.api_tokens_allowed FROM {_table(AuthenticationPolicy)} p "  # noqa: S608
    f"WHERE p.id = (SELECT m.policy_id FROM {_table(PolicyMember)} m WHERE m.account_id = %s) "
    "AND p.org_id = %s AND p.directory_id = %s), "
    f"(SELECT p.api_tokens_allowed FROM {_table(AuthenticationPolicy)} p "
    f"WHERE p.directory_id = %s AND p.is_default = %s ORDER BY p.id LIMIT 1)), {_ROLE_SUBQUERY}"
)


def _aware(value: datetime | str | None) -> datetime | None:
    """A datetime column read with plain SQL (SQLite gives naive UTC or text) as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _token_lookup(*, value: str, now: datetime, site_pk: int) -> _Found | None:
    """The live token with this value, what decides whether it works, and the role on the site."""
    with connection.cursor() as cursor:
        cursor.execute(
            _TOKEN_SQL,
            [
                True,
                secret_hash(value),
                connection.ops.adapt_datetimefield_value(now),
            ],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        token_pk, expires_at, created_at, last_used_at, account_pk, account_id, email, name, status = row[:9]
        org_pk, directory_pk = row[9], row[10]
        if org_pk is not None and directory_pk is None:
            cursor.execute(_LOCAL_DIRECTORY_SQL, [org_pk, Directory.Kind.LOCAL])
            directory_pk = (cursor.fetchone() or (None,))[0]
        if org_pk is None:  # not managed: no policy
            cursor.execute(_ROLE_SQL, [SiteAccess.Role.ADMIN, site_pk, account_pk])
            allowed, (role,) = None, cursor.fetchone()
        else:
            cursor.execute(
                _POLICY_AND_ROLE_SQL,
                [
                    account_pk,
                    org_pk,
                    directory_pk,
                    directory_pk,
                    True,
                    SiteAccess.Role.ADMIN,
                    site_pk,
                    account_pk,
                ],
            )
            allowed, role = cursor.fetchone()
    return _Found(
        token_pk=token_pk,
        expires_at=_aware(expires_at),
        created_at=_aware(created_at),
        last_used_at=_aware(last_used_at),
        account_pk=account_pk,
        account_id=account_id,
        email=email,
        display_name=name,
        works=status == Account.Status.ACTIVE and (allowed is None or bool(allowed)),
        role=None if role is None else (SiteAccess.Role.ADMIN if role == 0 else SiteAccess.Role.USER),
    )
