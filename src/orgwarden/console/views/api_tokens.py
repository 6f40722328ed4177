"""Security → User API tokens: every live token of the org's managed accounts; revoke them.

Filters: start of the account's email, expiring within 30 days, unused for 90 days. Revoke one,
a selection, or every token of a policy's members. Also: a product site's client secret for
token introspection (shown once), from the site's page.

Revoking cannot be undone and stops whatever uses the token at once, so every revoke asks first:
one token's "Revoke…" is a link to its confirmation (GET), a selection or a policy's members are
posted to a confirmation that names or counts the tokens, whose button posts them back with
``confirm``. Replacing a site's client secret asks first too (the old one stops at once).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgwarden.console.views.base import back_in_org, org_admin_view, removed_already
from orgwarden.console.views.confirm import CONFIRMED, Confirm, confirm_page, confirmed
from orgwarden.humanize import plural, time_ago
from orgwarden.idn import idn_unicode
from orgwarden.oidc import services as oidc_services
from orgwarden.orgs.exceptions import InvalidInput, NotFound
from orgwarden.policies.selectors import directories_with_policies, policy_get
from orgwarden.tokens import introspection, selectors, user_services
from orgwarden.tokens.exceptions import SecretReplaced, TokenNotFound, TokenRevokedAlready

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


def _last_used(token) -> str:
    if token.last_used_at is None:
        return "It has never been used."
    return f"It was last used {time_ago(token.last_used_at, timezone.now())}."


@org_admin_view
@require_http_methods(["GET", "POST"])
def api_token_revoke(request: HttpRequest, token_id: str) -> HttpResponse:
    """Revoke one managed account's token, after a confirmation (GET) naming it and its owner.

    ``next`` (a page of this org's console: the person's page it was opened from) is where Cancel
    and the revoke go back to. Revoked already (sent twice, a stale page) says so; a token that is
    not one of the org's managed accounts' is a 404.
    """
    if "\x00" in token_id:
        raise Http404()
    nxt = back_in_org(request, request.POST.get("next", "") or request.GET.get("next", ""))
    if request.method == "GET":
        chosen = selectors.org_user_tokens_chosen(org=request.org, token_ids=[token_id])
        if not chosen:
            raise Http404()
        token = chosen[0]
        if token.revoked_at is not None:
            messages.info(request, TokenRevokedAlready.message)
            return redirect(nxt) if nxt else _back(request)
        email = idn_unicode(token.account.email)
        confirm = Confirm(
            title=f"Revoke the API token “{token.label}” of {email}?",
            subtitle=f"{token.prefix}…",
            lines=[
                "Whatever uses it — a script, an integration — is refused from now on: products check "
                "it at every call.",
                _last_used(token),
                f"A revoked token can't be restored; {token.account.display_name} can create a new one.",
            ],
            button="Revoke token",
            back_url=nxt or reverse("console:api_tokens", args=[request.org.org_id]),
            back_label=token.account.display_name if nxt else "User API tokens",
            fields=[("next", nxt)] if nxt else [],
        )
        return confirm_page(request, confirm, nav_active="api-tokens")
    try:
        token = user_services.org_user_token_revoke(org=request.org, actor=request.user, token_id=token_id)
    except TokenRevokedAlready as exc:
        messages.info(request, exc.message)
        return redirect(nxt) if nxt else _back(request)
    except TokenNotFound as exc:
        raise Http404() from exc
    messages.success(request, f"API token “{token.label}” of {idn_unicode(token.account.email)} revoked.")
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
    _selection_said(request, token_ids, revoked)


def _selection_said(request: HttpRequest, token_ids: list[str], revoked: list) -> None:
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


def _selection_confirm(request: HttpRequest, token_ids: list[str]) -> HttpResponse:
    chosen = selectors.org_user_tokens_chosen(org=request.org, token_ids=token_ids)
    live = [t for t in chosen if t.revoked_at is None]
    if not live:  # a stale list: every one went meanwhile (or was never the org's); say which
        _selection_said(request, token_ids, revoked=[])
        return _back(request)
    owners = len({t.account_id for t in live})
    confirm = Confirm(
        title=f"Revoke {plural(len(live), 'API token')}?",
        lines=[
            f"Whatever uses them is refused from now on: {_named(live)}.",
            f"A revoked token can't be restored; {'its owner' if owners == 1 else 'their owners'} can create "
            f"new ones.",
        ],
        button=f"Revoke {plural(len(live), 'token')}",
        back_url=reverse("console:api_tokens", args=[request.org.org_id]),
        back_label="User API tokens",
        action=reverse("console:api_tokens_revoke", args=[request.org.org_id]),
        fields=[(CONFIRMED, "1"), *(("token", t.token_id) for t in live)],
    )
    return confirm_page(request, confirm, nav_active="api-tokens")


def _policy_confirm(request: HttpRequest, policy) -> HttpResponse:
    tokens = selectors.org_policy_live_tokens(org=request.org, policy=policy)
    count, owners = tokens.count(), tokens.values("account_id").distinct().count()
    people = "1 person" if owners == 1 else f"{owners} people"
    if not count:
        messages.info(
            request, f"No member of policy “{policy.name}” has a live API token: nothing to revoke."
        )
        return _back(request)
    confirm = Confirm(
        title=f"Revoke every API token of the members of “{policy.name}”?",
        lines=[
            f"{plural(count, 'live API token')} of {people} {'stops' if count == 1 else 'stop'} working "
            "at once: whatever uses them is refused from now on. A token made before you confirm goes too.",
            "Revoked tokens can't be restored; their owners can create new ones (if the policy lets them).",
        ],
        button=f"Revoke {plural(count, 'token')}",
        back_url=reverse("console:api_tokens", args=[request.org.org_id]),
        back_label="User API tokens",
        action=reverse("console:api_tokens_revoke", args=[request.org.org_id]),
        fields=[(CONFIRMED, "1"), ("policy", policy.policy_id)],
    )
    return confirm_page(request, confirm, nav_active="api-tokens")


@org_admin_view
@require_POST
def api_tokens_revoke(request: HttpRequest) -> HttpResponse:
    """Revoke the checked tokens, or (``policy``) every live token of a policy's members.

    The list posts here without ``confirm``: that shows the confirmation (naming the live tokens
    selected, or counting the policy's), which changes nothing and posts them back with ``confirm``.
    """
    ids = request.POST.getlist("token")
    policy_id = request.POST.get("policy", "")
    if policy_id:
        if "\x00" in policy_id:
            raise Http404()
        try:
            if not confirmed(request):
                return _policy_confirm(request, policy_get(org=request.org, policy_id=policy_id))
            count = user_services.org_policy_tokens_revoke(
                org=request.org, actor=request.user, policy_id=policy_id
            )
        except NotFound:  # deleted meanwhile (a second tab): say so; 404 if it never was ours
            (gone,) = removed_already(request, action="org:policy:deleted", target_ids=[policy_id])
            messages.info(request, f"Policy “{gone['name']}” was deleted already. Nothing was revoked.")
            return _back(request)
        messages.success(request, f"{count} API token{'s' if count != 1 else ''} revoked.")
    elif ids and not confirmed(request):
        return _selection_confirm(request, ids)
    elif ids:
        _selection_revoke(request, ids)
    else:
        messages.error(request, "Select the tokens to revoke.")
    return _back(request)


def _secret_confirm(request: HttpRequest, site_id: str) -> HttpResponse:
    try:
        site, credential = selectors.site_credential(org=request.org, site_id=site_id)
    except NotFound as exc:
        raise Http404() from exc
    site_url = reverse("console:product_site", args=[request.org.org_id, site.site_id])
    if credential is None:  # nothing to replace: the site's page creates the first
        return redirect(site_url)
    confirm = Confirm(
        title=f"Replace the client secret of {site.name}?",
        subtitle=site.url,
        lines=[
            f"The current secret stops working at once: {site.name} can't sign anyone in through "
            f"{request.org.name}, or check API tokens, until its configuration has the new one.",
            "The new secret is shown once, on the next page: copy it from there.",
        ],
        button="Replace client secret",
        back_url=site_url,
        back_label=site.name,
        fields=[("replaces", introspection.credential_version(credential))],
    )
    return confirm_page(request, confirm, nav_active="products")


@org_admin_view
@never_cache
@require_http_methods(["GET", "POST"])
def site_credential_create(request: HttpRequest, site_id: str) -> HttpResponse:
    """Create or replace the site's client secret; the answer is the only place it is shown.

    Replacing breaks the site's sign-in and token checks until its configuration has the new
    secret, so it asks first: "Replace client secret…" GETs this URL's confirmation, and only its
    button POSTs. The first secret breaks nothing and is created at one click. Either POST names the
    secret it replaces (``replaces``, "" for none); one that changed meanwhile (a confirmation sent
    twice, a reload of the page that showed the new secret) is refused with a message.
    """
    if "\x00" in site_id:
        raise Http404()
    if request.method == "GET":
        return _secret_confirm(request, site_id)
    try:
        credential, secret = introspection.site_credential_create(
            org=request.org, actor=request.user, site_id=site_id, replaces=request.POST.get("replaces", "")
        )
    except NotFound as exc:
        raise Http404() from exc
    except SecretReplaced as exc:
        messages.error(request, exc.message)
        return redirect("console:product_site", org_id=request.org.org_id, site_id=site_id)
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
