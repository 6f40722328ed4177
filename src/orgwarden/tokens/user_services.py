"""User API tokens: create (value shown once) and revoke (by the person or an admin).

A token's value is ``owt_`` + 43 URL-safe characters (256 bits): the prefix lets secret scanners
recognise a leaked one. Only its SHA-256 is stored, in a unique column, so checking a presented
token (``introspection.introspect``) is one SHA-256 and one indexed equality lookup — never a
slow hash on the hot path.

The account's authentication policy governs tokens (``policy_for``): with ``api_tokens_allowed``
off no token can be created and existing ones stop working (they are not deleted, so switching
the policy back on revives the ones that have not expired); ``api_token_max_days`` caps the
lifetime of new tokens. Unmanaged accounts may have tokens of up to 365 days.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from orgwarden.accounts.ids import new_secret, public_id_lookup, secret_hash
from orgwarden.accounts.models import Account
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs.models import Organization, OrgUser
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.policies.models import AuthenticationPolicy
from orgwarden.policies.selectors import _members_of, policy_for, policy_get
from orgwarden.tokens.exceptions import (
    InvalidKeyRequest,
    TokenNotFound,
    TokenRevokedAlready,
    TokensNotAllowed,
)
from orgwarden.tokens.models import UserApiToken

TOKEN_PREFIX = "owt_"  # noqa: S105 — a public prefix, not a secret
DEFAULT_LIFETIME_DAYS = 365
MAX_LIFETIME_DAYS = 365
LAST_USED_GRANULARITY = timedelta(minutes=1)


def token_target(token: UserApiToken) -> Target:
    return Target("api_token", token.token_id, token.label)


def max_lifetime_days(account: Account, policy: AuthenticationPolicy | None = None) -> int:
    """The longest lifetime ``account`` may give a new token (0 when its policy forbids tokens)."""
    policy = policy or policy_for(account)
    if policy is None:
        return MAX_LIFETIME_DAYS
    if not policy.api_tokens_allowed:
        return 0
    return min(MAX_LIFETIME_DAYS, policy.api_token_max_days)


@transaction.atomic
def user_token_create(
    *, account: Account, label: str, expires_in_days: int = DEFAULT_LIFETIME_DAYS
) -> tuple[UserApiToken, str]:
    """Create a token for ``account``; returns it and its value, which is never shown again.

    Raises ``TokensNotAllowed`` when the account's policy forbids tokens, ``InvalidKeyRequest`` for
    an empty label or a lifetime outside 1 day to the policy's maximum.
    """
    label = " ".join(str(label).split())
    if not 1 <= len(label) <= 100:
        raise InvalidKeyRequest("Enter a label of 1 to 100 characters.")
    longest = max_lifetime_days(account)
    if longest == 0:
        raise TokensNotAllowed()
    if not isinstance(expires_in_days, int) or not 1 <= expires_in_days <= longest:
        raise InvalidKeyRequest(f"A token expires after 1 to {longest} days.")
    value = new_secret(TOKEN_PREFIX)
    token = UserApiToken.objects.create(
        account=account,
        label=label,
        prefix=value[: len(TOKEN_PREFIX) + 6],
        token_hash=secret_hash(value),
        expires_at=timezone.now() + timedelta(days=expires_in_days),
    )
    event_record(
        action="account:api_token:created",
        actor=Actor.account(account),
        targets=[Target.account(account), token_target(token)],
        details={"expires_at": token.expires_at.isoformat(), "prefix": token.prefix},
    )
    return token, value


@transaction.atomic
def user_token_revoke(*, account: Account, token_id: str) -> UserApiToken:
    """Revoke one of ``account``'s own live tokens. Raises ``TokenNotFound`` for anyone else's, or
    its ``TokenRevokedAlready`` for one revoked before (a revoke sent twice)."""
    token = (
        UserApiToken.objects.select_for_update()
        .filter(account=account, token_id=public_id_lookup(token_id))
        .first()
    )
    if token is None:
        raise TokenNotFound()
    if token.revoked_at is not None:
        raise TokenRevokedAlready()
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    event_record(
        action="account:api_token:revoked",
        actor=Actor.account(account),
        targets=[Target.account(account), token_target(token)],
    )
    return token


def unverified_account_tokens_revoke(account: Account) -> int:
    """``accounts.hooks.unverified_credentials_revoke``: revoke every live token of ``account``, whose
    email was never verified, as an org takes it over (``accounts.services.account_unverified_take_over``
    records the one event, with this count). Returns how many were revoked."""
    return UserApiToken.objects.filter(account=account, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


# --- by an org admin (console or REST) ---------------------------------------------------------------


def _managed_tokens(org: Organization):
    managed = OrgUser.objects.filter(org=org, is_managed=True).values("account_id")
    return UserApiToken.objects.filter(account_id__in=managed)


def _managed_live_tokens(org: Organization):
    return _managed_tokens(org).select_for_update().filter(revoked_at__isnull=True)


def _admin_revoke(*, org: Organization, who: Actor, tokens: list[UserApiToken]) -> int:
    now = timezone.now()
    accounts = {a.pk: a for a in Account.objects.filter(pk__in={t.account_id for t in tokens})}
    UserApiToken.objects.filter(pk__in=[t.pk for t in tokens]).update(revoked_at=now)
    for token in tokens:
        event_record(
            action="org:api_token:revoked",
            actor=who,
            org_id=org.org_id,
            targets=[Target.account(accounts[token.account_id]), token_target(token)],
        )
    return len(tokens)


@transaction.atomic
def org_user_token_revoke(
    *, org: Organization, actor: OrgActor, token_id: str, account_id: str | None = None
) -> UserApiToken:
    """Revoke a live token of one of ``org``'s managed accounts (of ``account_id`` when given).

    Raises ``NotFound`` for an actor who may not act on ``org``, ``TokenNotFound`` for a token that
    is not a live token of a managed account of ``org`` (another org's token included), or its
    ``TokenRevokedAlready`` for one revoked before (a revoke sent twice).
    """
    who = org_actor(org=org, actor=actor)
    tokens = _managed_live_tokens(org).filter(token_id=public_id_lookup(token_id))
    if account_id is not None:
        tokens = tokens.filter(account__account_id=public_id_lookup(account_id))
    token = tokens.first()
    if token is None:
        revoked = _managed_tokens(org).filter(token_id=public_id_lookup(token_id), revoked_at__isnull=False)
        if account_id is not None:
            revoked = revoked.filter(account__account_id=public_id_lookup(account_id))
        raise TokenRevokedAlready() if revoked.exists() else TokenNotFound()
    _admin_revoke(org=org, who=who, tokens=[token])
    token.revoked_at = timezone.now()
    return token


@transaction.atomic
def org_user_tokens_revoke(*, org: Organization, actor: OrgActor, token_ids: list[str]) -> list[UserApiToken]:
    """Revoke the selected live tokens of ``org``'s managed accounts; returns those it revoked
    (as read before the revoke).

    Ids that are not such tokens are ignored (the selection came from a list that may be stale),
    and so is any beyond the first 1000. The tokens are returned rather than counted so that a
    revoke sent twice can say which were revoked already: they are read under lock, so a token a
    concurrent call revoked is not live any more and not among them.
    One audit event per revoked token, so each shows under its account in the audit log.
    """
    who = org_actor(org=org, actor=actor)
    ids = [public_id_lookup(token_id) for token_id in token_ids][:1000]
    tokens = list(_managed_live_tokens(org).filter(token_id__in=ids))
    _admin_revoke(org=org, who=who, tokens=tokens)
    return tokens


@transaction.atomic
def org_policy_tokens_revoke(*, org: Organization, actor: OrgActor, policy_id: str) -> int:
    """Revoke every live token of the members of ``org``'s policy ``policy_id``; returns how many.

    Raises ``NotFound`` for an unknown policy or an actor who may not act on ``org``.
    """
    who = org_actor(org=org, actor=actor)
    policy = policy_get(org=org, policy_id=policy_id)
    members = _members_of(org=org, policy=policy).values("account_id")
    return _admin_revoke(
        org=org, who=who, tokens=list(_managed_live_tokens(org).filter(account_id__in=members))
    )
