from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from orgwarden.accounts.ids import public_id_lookup
from orgwarden.accounts.models import normalize_email
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Organization, OrgUser, ProductSite
from orgwarden.policies.models import AuthenticationPolicy
from orgwarden.policies.selectors import _members_of
from orgwarden.tokens.models import OrgApiKey, SiteCredential, UserApiToken


def api_keys_of(*, org: Organization, include_revoked: bool = False) -> QuerySet[OrgApiKey]:
    keys = OrgApiKey.objects.filter(org=org).select_related("created_by").order_by("-created_at", "-id")
    return keys if include_revoked else keys.filter(revoked_at__isnull=True)


def org_user_tokens_chosen(*, org: Organization, token_ids: list[str]) -> list[UserApiToken]:
    """Those of ``token_ids`` that are tokens of ``org``'s managed accounts, live or revoked, with
    their accounts: what a bulk revoke tells the admin about afterwards. Another org's token, or
    one of an account the org no longer manages, is not among them."""
    ids = [i for i in dict.fromkeys(map(public_id_lookup, token_ids)) if i]
    managed = OrgUser.objects.filter(org=org, is_managed=True).values("account_id")
    tokens = UserApiToken.objects.filter(token_id__in=ids, account_id__in=managed).select_related("account")
    return list(tokens.order_by("id"))


def org_policy_live_tokens(*, org: Organization, policy: AuthenticationPolicy) -> QuerySet[UserApiToken]:
    """The live tokens of the members of ``org``'s ``policy`` (one ``policy_get`` found): what
    revoking every token of a policy's members takes away, for its confirmation to count."""
    members = _members_of(org=org, policy=policy).values("account_id")
    return UserApiToken.objects.filter(account_id__in=members, revoked_at__isnull=True)


def site_credential(*, org: Organization, site_id: str) -> tuple[ProductSite, SiteCredential | None]:
    """``org``'s site ``site_id`` and its client credentials (None before the first secret);
    ``NotFound`` for another org's site or an unknown id."""
    site = ProductSite.objects.filter(org=org, site_id=public_id_lookup(site_id)).first()
    if site is None:
        raise NotFound()
    return site, SiteCredential.objects.filter(site=site).first()


def user_tokens_of(*, account) -> QuerySet[UserApiToken]:
    """``account``'s live (unrevoked) tokens, newest first; expired ones included, marked by the page."""
    tokens = UserApiToken.objects.filter(account=account, revoked_at__isnull=True)
    return tokens.order_by("-created_at", "-id")


def org_user_tokens(
    *,
    org: Organization,
    account_id: str | None = None,
    q: str | None = None,
    expiring: bool = False,
    unused: bool = False,
    after: str | None = None,
    limit: int = 500,
) -> list[UserApiToken]:
    """Live, unexpired tokens of ``org``'s managed accounts, soonest expiry first (then by id).

    ``q`` is an email prefix; ``expiring``: expires within 30 days; ``unused``: not used for 90 days
    (never-used tokens count from their creation). ``after``: the ``token_id`` of the last token of
    the previous page, for the next ``limit``; one that is not a token of the org's managed accounts
    is ignored (the first page).
    """
    now = timezone.now()
    managed = OrgUser.objects.filter(org=org, is_managed=True)
    if account_id is not None:
        managed = managed.filter(account__account_id=public_id_lookup(account_id))
    if q:
        managed = managed.filter(email__startswith=normalize_email(q)[:254])
    live = UserApiToken.objects.filter(revoked_at__isnull=True, expires_at__gt=now)
    if account_id is None and not q:
        # Every token of the org: walk the live tokens by expiry (``user_token_live_expiry``) and keep
        # those of its managed accounts until ``limit`` are found. Reading every managed account's
        # tokens to sort them all cost the org's size (50,000 people) on each view.
        tokens = live.filter(Exists(managed.filter(account_id=OuterRef("account_id"))))
    else:  # one account, or the few an email prefix names: their tokens, then sorted
        tokens = live.filter(account_id__in=managed.values("account_id"))
    tokens = tokens.select_related("account")
    if expiring:
        tokens = tokens.filter(expires_at__lte=now + timedelta(days=30))
    if unused:
        stale = now - timedelta(days=90)
        tokens = tokens.filter(Q(last_used_at__lt=stale) | Q(last_used_at__isnull=True, created_at__lt=stale))
    if after:
        cursor = (
            UserApiToken.objects.filter(token_id=public_id_lookup(after))
            .filter(account_id__in=OrgUser.objects.filter(org=org, is_managed=True).values("account_id"))
            .values("expires_at", "id")
            .first()
        )
        if cursor is not None:
            tokens = tokens.filter(
                Q(expires_at__gt=cursor["expires_at"])
                | Q(expires_at=cursor["expires_at"], id__gt=cursor["id"])
            )
    return list(tokens.order_by("expires_at", "id")[:limit])
