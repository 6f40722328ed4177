"""``/api/users/{accountId}/manage/api-tokens``: an org's scripts list and revoke a managed account's
user API tokens (org API key as Bearer). Any account the org does not manage, and any token that
is not that account's live token, is a 404. Revocations are audited with the key as the actor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Path, Router, Schema

from orgwarden.orgs.api.schemas import AccountId, Error
from orgwarden.policies.selectors import managed_account
from orgwarden.tokens import selectors, user_services
from orgwarden.tokens.auth import OrgApiKeyAuth

router = Router(auth=OrgApiKeyAuth(), tags=["user API tokens"])

TokenId = Annotated[str, Path(alias="tokenId", description="The token's id")]


class ApiToken(Schema):
    id: str
    label: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None


class ApiTokenList(Schema):
    account_id: str
    tokens: list[ApiToken]


def _token(token) -> dict[str, Any]:
    return {
        "id": token.token_id,
        "label": token.label,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
    }


@router.get(
    "/users/{accountId}/manage/api-tokens",
    response={200: ApiTokenList, frozenset({401, 404, 429}): Error},
)
def api_tokens_list(request: HttpRequest, account_id: AccountId):
    """The managed account's live (unrevoked, unexpired) API tokens, soonest expiry first."""
    account = managed_account(org=request.org, account_id=account_id)
    tokens = selectors.org_user_tokens(org=request.org, account_id=account.account_id)
    return {"account_id": account.account_id, "tokens": [_token(t) for t in tokens]}


@router.delete(
    "/users/{accountId}/manage/api-tokens/{tokenId}",
    response={204: None, frozenset({401, 404, 413, 429}): Error},
)
def api_token_revoke(request: HttpRequest, account_id: AccountId, token_id: TokenId):
    """Revoke one of the managed account's tokens; it stops working at once."""
    user_services.org_user_token_revoke(
        org=request.org, actor=request.api_key, token_id=token_id, account_id=account_id
    )
    return HttpResponse(status=204)
