"""Security → User API tokens: every live token of the org's managed accounts; revoke them.

Filters: start of the account's email, expiring within 30 days, unused for 90 days. Revoke one,
a selection, or every token of a policy's members. Also: a product site's client secret for
token introspection (shown once), from the site's page.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from orgwarden.console.views.base import back_in_org, org_admin_view, removed_already
from orgwarden.idn import idn_unicode
from orgwarden.oidc import services as oidc_services
from orgwarden.orgs.exceptions import InvalidInput, NotFound
from orgwarden.policies.selectors import directories_with_policies
from orgwarden.tokens import introspection, selectors, user_services
from orgwarden.tokens.exceptions import TokenNotFound, TokenRevokedAlready

PAGE = 50


class TokenFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=254)
    expiring = forms.BooleanField(required=False)
    unused = forms.BooleanField(required=False)


@org_admin_view
@require_GET
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = TokenFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    after = request.GET.get("after", "")[:64].replace("\x00", "")
    tokens = selectors.org_user_tokens(
        org=request.org,
        q=filters.get("q") or None,
        expiring=bool(filters.get("expiring")),
        unused=bool(filters.get("unused")),
        after=after or None,
        limit=PAGE + 1,
    )
    return render(
        request,
        "console/api_tokens/list.html",
        {
            "form": form,
            "tokens": tokens[:PAGE],
            "after": after,
            "next_after": tokens[PAGE - 1].token_id if len(tokens) > PAGE else None,
            "filtered": any(filters.values()) if filters else False,
            "directories": directories_with_policies(org=request.org),
            "nav_active": "api-tokens",
        },
        status=200 if form.is_valid() else 400,
    )


def _back(request: HttpRequest) -> HttpResponse:
    return redirect("console:api_tokens", org_id=request.org.org_id)


@org_admin_view
@require_POST
def api_token_revoke(request: HttpRequest, token_id: str) -> HttpResponse:
    if "\x00" in token_id:
        raise Http404()
    try:
        token = user_services.org_user_token_revoke(org=request.org, actor=request.user, token_id=token_id)
    except TokenRevokedAlready as exc:
        messages.info(request, exc.message)
        return _back(request)
    except TokenNotFound as exc:
        raise Http404() from exc
    messages.success(request, f"API token “{token.label}” of {idn_unicode(token.account.email)} revoked.")
    nxt = back_in_org(request, request.POST.get("next", ""))
    return redirect(nxt) if nxt else _back(request)


NAMED_MAX = 10  # a message names this many tokens, then counts the rest


def _named(tokens: list) -> str:
    named = [f"“{t.label}” of {idn_unicode(t.account.email)}" for t in tokens[:NAMED_MAX]]
    more = len(tokens) - len(named)
    return ", ".join(named) + (f" and {more} more" if more else "")


def _selection_revoke(request: HttpRequest, token_ids: list[str]) -> None:
    """Revoke the selected tokens, then say what became of each: revoked now, revoked already (a
    revoke sent twice, another admin), or not a token of the org's managed accounts (its account
    left or was released meanwhile — or another org's, or none: the same words, confirming nothing).
    """
    revoked = user_services.org_user_tokens_revoke(org=request.org, actor=request.user, token_ids=token_ids)
    now = {t.pk for t in revoked}
    position = {token_id: i for i, token_id in enumerate(dict.fromkeys(token_ids))}
    chosen = selectors.org_user_tokens_chosen(org=request.org, token_ids=token_ids)
    chosen.sort(key=lambda t: position[t.token_id])  # as they were listed
    already = [t for t in chosen if t.pk not in now and t.revoked_at is not None]
    unknown = len({i for i in token_ids if i}) - len(chosen)
    if revoked:
        messages.success(request, f"{len(revoked)} API token{'s' if len(revoked) != 1 else ''} revoked.")
    else:
        messages.info(request, "Nothing was revoked.")
    if already:
        messages.info(request, f"Revoked already: {_named(already)}.")
    if unknown > 0:
        messages.info(
            request,
            "1 selected token is not a token of your managed accounts."
            if unknown == 1
            else f"{unknown} selected tokens are not tokens of your managed accounts.",
        )


@org_admin_view
@require_POST
def api_tokens_revoke(request: HttpRequest) -> HttpResponse:
    """Revoke the checked tokens, or (``policy``) every live token of a policy's members."""
    ids = request.POST.getlist("token")
    policy_id = request.POST.get("policy", "")
    if policy_id:
        if "\x00" in policy_id:
            raise Http404()
        try:
            count = user_services.org_policy_tokens_revoke(
                org=request.org, actor=request.user, policy_id=policy_id
            )
        except NotFound:  # deleted meanwhile (a second tab): say so; 404 if it never was ours
            (gone,) = removed_already(request, action="org:policy:deleted", target_ids=[policy_id])
            messages.info(request, f"Policy “{gone['name']}” was deleted already. Nothing was revoked.")
            return _back(request)
        messages.success(request, f"{count} API token{'s' if count != 1 else ''} revoked.")
    elif ids:
        _selection_revoke(request, ids)
    else:
        messages.error(request, "Select the tokens to revoke.")
    return _back(request)


@org_admin_view
@never_cache
@require_POST
def site_credential_create(request: HttpRequest, site_id: str) -> HttpResponse:
    """Create or replace the site's client secret; the answer is the only place it is shown."""
    if "\x00" in site_id:
        raise Http404()
    try:
        credential, secret = introspection.site_credential_create(
            org=request.org, actor=request.user, site_id=site_id
        )
    except NotFound as exc:
        raise Http404() from exc
    return render(
        request,
        "console/api_tokens/site_credential.html",
        {"site": credential.site, "credential": credential, "secret": secret, "nav_active": "products"},
    )


@org_admin_view
@require_POST
def site_redirect_uris(request: HttpRequest, site_id: str) -> HttpResponse:
    """Set where the site's OIDC client may receive sign-ins and land after sign-out."""
    if "\x00" in site_id:
        raise Http404()
    try:
        oidc_services.site_redirect_uris_set(
            org=request.org,
            actor=request.user,
            site_id=site_id,
            redirect_uris=request.POST.get("redirect_uris", ""),
            logout_uris=request.POST.get("logout_uris", ""),
        )
    except NotFound as exc:
        raise Http404() from exc
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Sign-in addresses saved.")
    return redirect("console:product_site", org_id=request.org.org_id, site_id=site_id)
