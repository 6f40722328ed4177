"""``{% managed_account_api_tokens account %}``: a managed account's live API tokens on its console
page (Directory → Users → the account), with a revoke button per token."""

from __future__ import annotations

from django import template

from orgwarden.tokens import selectors

register = template.Library()


@register.inclusion_tag("tokens/_managed_account_tokens.html", takes_context=True)
def managed_account_api_tokens(context, account) -> dict:
    request = context["request"]
    tokens = selectors.org_user_tokens(org=request.org, account_id=account.account_id)
    return {"tokens": tokens, "account": account, "request": request, "csrf_token": context.get("csrf_token")}
