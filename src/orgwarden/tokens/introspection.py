"""Token introspection for product sites (RFC 7662), their client credentials, and activity.

A product site authenticates with its client credentials (client id = the site's public id, a
secret shown once and stored as SHA-256) and asks about a user API token. The answer is
``{"active": false}`` for anything that does not work now — unknown, revoked, expired, blocked
by the account's policy, deactivated account, or an ``email:token`` pair whose email is not the
token's account's — and for a token of someone who is not a user of the calling site's org; for
a working token of a user of that org, its account, email, expiry and whether the account may use
the calling site.

Who is "a user of the site's org": an ``OrgUser`` of it, managed or external, whatever its status
(the people on the org's Users page, ``orgs.selectors.users.users_of``), or anyone with access to
the site through its groups. RFC 7662 §4 lets the answer depend on the resource server that asks:
a site of one org never learns the email, name and account id of another org's people from a
token that reached it, while a user of its own org without access still gets ``site_access:
false``, for the product to say "ask your admin".

The hot path is two SHA-256 and one statement of indexed lookups in plain SQL (see "the hot
path's read" below), and no write; ``orgwarden.wsgi`` serves it without the middleware that
exists for other surfaces.

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

from orgwarden.accounts.ids import new_secret, public_id_lookup, secret_hash, secret_matches
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.audit.services import Target, event_record
from orgwarden.db import prepared_cursor
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Directory, GroupMember, Organization, OrgUser, ProductSite, SiteAccess
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.policies.models import AuthenticationPolicy, PolicyMember
from orgwarden.tokens import usage
from orgwarden.tokens.exceptions import SecretReplaced
from orgwarden.tokens.models import SiteCredential, UserApiToken
from orgwarden.tokens.processors.presented import parse_presented
from orgwarden.tokens.user_services import LAST_USED_GRANULARITY, TOKEN_PREFIX

SECRET_PREFIX = "owcs_"  # noqa: S105 — a public prefix, not a secret
INACTIVE: dict[str, Any] = {"active": False}
# Called with the site and its new secret inside ``site_credential_create``'s transaction: product
# sign-in (the ``oidc`` app, above this one) gives the site's OIDC client the same secret.
credential_created: list[Callable[[ProductSite, str], None]] = []


def credential_version(credential: SiteCredential | None) -> str:
    """Which secret ``credential`` holds, in words a form can carry ("" for none): when it was set.
    ``site_credential_create(replaces=…)`` compares it, so a stale page cannot replace a newer one."""
    if credential is None:
        return ""
    return (credential.rotated_at or credential.created_at).isoformat()


@transaction.atomic
def site_credential_create(
    *, org: Organization, actor: OrgActor, site_id: str, replaces: str | None = None
) -> tuple[SiteCredential, str]:
    """Create (or replace) the client secret of ``org``'s site ``site_id``; returns it and the secret.

    The secret is never shown again; an earlier one stops working at once (sign-in and
    introspection both). ``replaces`` is the ``credential_version`` of the secret the caller means
    to replace ("" for none); given, a site whose secret is another is refused with
    ``SecretReplaced`` and keeps it — a confirmation sent twice cannot replace the secret just
    shown. Checked under the site's row lock. Raises ``NotFound``.
    """
    who = org_actor(org=org, actor=actor)
    site = ProductSite.objects.select_for_update().filter(org=org, site_id=public_id_lookup(site_id)).first()
    if site is None:
        raise NotFound()
    credential = SiteCredential.objects.filter(site=site).first()
    if replaces is not None and credential_version(credential) != replaces:
        raise SecretReplaced(
            f"The client secret of {site.name} changed since that page was shown: nothing changed."
            if credential
            else f"{site.name} has no client secret any more: nothing changed."
        )
    secret = new_secret(SECRET_PREFIX)
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


def introspect(*, client_id: str, client_secret: str, token: str) -> dict[str, Any] | None:
    """The RFC 7662 answer about ``token`` for the product site with these client credentials.

    ``None`` when the client credentials are wrong (the secret compared in constant time); else the
    answer (see the module docstring). One statement reads the site's credential, the token and
    everything that decides the answer.
    """
    if not client_id or not client_secret or len(client_id) > 40 or len(client_secret) > 200:
        return None
    if "\x00" in client_id:  # no id holds one, and PostgreSQL refuses it in text
        return None
    presented = parse_presented(token, prefix=TOKEN_PREFIX)
    if presented is not None and len(presented.token) > 100:
        presented = None
    now = timezone.now()
    # No token hash is empty: with nothing to look up, the statement still authenticates the site.
    token_hash = secret_hash(presented.token) if presented else ""
    found = _lookup(client_id=client_id, token_hash=token_hash, now=now)
    if found is None:
        secret_hash(client_secret)  # same work either way: no timing hint that the id exists
        return None
    if not secret_matches(client_secret, found.secret_hash):
        return None
    if presented is None or found.token_pk is None or not found.works:
        return dict(INACTIVE)
    if presented.email is not None and normalize_email(presented.email) != found.email:
        return dict(INACTIVE)
    if not found.in_site_org:  # another org's person: nothing about them, nothing counted
        return dict(INACTIVE)
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_GRANULARITY:
        usage.token_used(token_pk=found.token_pk, at=now)
    usage.activity_noted(
        org_pk=found.site_org_pk, site_pk=found.site_pk, account_pk=found.account_pk, kind="api_call", at=now
    )
    return {
        "active": True,
        "token_type": "api_token",
        "client_id": found.site_id,
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


# --- the hot path's read ----------------------------------------------------------------------------
#
# Introspection runs on every API call a product receives, so its read is ONE statement of plain
# SQL instead of the ORM's five to seven compiled queries (the compiling, not the database, was most
# of the time; on PostgreSQL each statement is also a round trip). It answers what the ORM's
# definitions answer — the account is active, ``policies.selectors.policy_for`` allows API tokens,
# ``orgs.selectors.access.site_role_of`` gives the role, ``orgs.selectors.users.users_of`` says who
# is a user of the site's org (see the module docstring) — and tests/test_introspection.py checks
# that they agree case by case, so a change to one of those rules that is not made here fails there.
#
# The token part is read even when the secret then turns out wrong (the answer is then 401 and
# nothing of it is used): token values are 256-bit random, so the time of an index lookup tells
# nothing worth knowing.


@dataclass(frozen=True, slots=True)
class _Found:
    site_pk: int
    site_id: str
    site_org_pk: int
    secret_hash: str
    token_pk: int | None  # None: no live token with that value
    expires_at: datetime | None
    created_at: datetime | None
    last_used_at: datetime | None
    account_pk: int | None
    account_id: str | None
    email: str | None
    display_name: str | None
    works: bool  # the account is active and its policy allows API tokens
    role: str | None  # on the calling site: "admin", "user" or None
    in_site_org: bool  # a user of the calling site's org, or one with access to the site


def _table(model) -> str:
    return model._meta.db_table


# The policy's ``api_tokens_allowed`` for an account managed in an org and directory: its
# PolicyMember's policy there, else the directory's default policy; NULL when neither exists.
_POLICY = (
    "COALESCE("  # noqa: S608 — table names from the models
    f"(SELECT p.api_tokens_allowed FROM {_table(AuthenticationPolicy)} p "
    f"WHERE p.id = (SELECT pm.policy_id FROM {_table(PolicyMember)} pm WHERE pm.account_id = {{account}}) "
    "AND p.org_id = {org} AND p.directory_id = {directory}), "
    f"(SELECT p.api_tokens_allowed FROM {_table(AuthenticationPolicy)} p "
    "WHERE p.directory_id = {directory} AND p.is_default = %s ORDER BY p.id LIMIT 1))"
)

# Inner query: the site's credential and, when a live token has that value, the token, its account
# and, when the account is managed, the org and directory that manage it
# (``policies.selectors._managing_org_user``: the first managed OrgUser). Outer query: that
# account's policy (NULL when it is not managed, or its OrgUser has no directory — see
# ``_lookup``), its role on the site through its groups (0 = admin, 1 = user, NULL = no
# access), and whether it is a user of the site's org (its OrgUser there, on the unique
# (org, account) index). Each lookup starts from a unique or indexed key.
_INTROSPECT_SQL = (
    f"SELECT x.*, {_POLICY.format(account='x.account_pk', org='x.org_pk', directory='x.directory_pk')}, "  # noqa: S608
    "(SELECT MIN(CASE WHEN sa.role = %s THEN 0 ELSE 1 END) "
    f"FROM {_table(SiteAccess)} sa JOIN {_table(GroupMember)} gm ON gm.group_id = sa.group_id "
    "WHERE sa.site_id = x.site_pk AND gm.account_id = x.account_pk), "
    f"CASE WHEN EXISTS (SELECT 1 FROM {_table(OrgUser)} su "
    "WHERE su.org_id = x.site_org_pk AND su.account_id = x.account_pk) THEN 1 ELSE 0 END "
    "FROM (SELECT s.id AS site_pk, s.site_id, s.org_id AS site_org_pk, c.secret_hash, "
    "t.id AS token_pk, t.expires_at, t.created_at, t.last_used_at, "
    "a.id AS account_pk, a.account_id, a.email, a.display_name, a.status, "
    "ou.org_id AS org_pk, ou.directory_id AS directory_pk "
    f"FROM {_table(SiteCredential)} c JOIN {_table(ProductSite)} s ON s.id = c.site_id "
    f"LEFT JOIN {_table(UserApiToken)} t "
    "ON t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s "
    f"LEFT JOIN {_table(Account)} a ON a.id = t.account_id "
    f"LEFT JOIN {_table(OrgUser)} ou ON ou.id = (SELECT MIN(m.id) FROM {_table(OrgUser)} m "
    "WHERE m.account_id = a.id AND m.is_managed = %s) "
    "WHERE c.client_id = %s) x"
)

# A managed account whose OrgUser has no directory is in its org's local directory; rare, so it
# costs two more statements rather than a subquery on every call.
_LOCAL_DIRECTORY_SQL = (
    f"SELECT id FROM {_table(Directory)} WHERE org_id = %s AND kind = %s ORDER BY id LIMIT 1"  # noqa: S608
)
_POLICY_SQL = "SELECT " + _POLICY.format(account="%s", org="%s", directory="%s")


def _aware(value: datetime | str | None) -> datetime | None:
    """A datetime column read with plain SQL (SQLite gives naive UTC or text) as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _lookup(*, client_id: str, token_hash: str, now: datetime) -> _Found | None:
    """The site with this client id and what decides the answer about the token with this hash."""
    params = [
        True,
        SiteAccess.Role.ADMIN,
        token_hash,
        connection.ops.adapt_datetimefield_value(now),
        True,
        client_id,
    ]
    with prepared_cursor() as cursor:
        cursor.execute(_INTROSPECT_SQL, params)
        row = cursor.fetchone()
        if row is None:
            return None
        (site_pk, site_id, site_org_pk, stored_hash, token_pk, expires_at, created_at, last_used_at) = row[:8]
        (account_pk, account_id, email, name, status, org_pk, directory_pk) = row[8:15]
        (allowed, role, user_of_org) = row[15:]
        if org_pk is not None and directory_pk is None:
            cursor.execute(_LOCAL_DIRECTORY_SQL, [org_pk, Directory.Kind.LOCAL])
            directory_pk = (cursor.fetchone() or (None,))[0]
            cursor.execute(_POLICY_SQL, [account_pk, org_pk, directory_pk, directory_pk, True])
            (allowed,) = cursor.fetchone()
    return _Found(
        site_pk=site_pk,
        site_id=site_id,
        site_org_pk=site_org_pk,
        secret_hash=stored_hash,
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
        in_site_org=user_of_org == 1 or role is not None,
    )
