"""The person's API tokens page (``/account/api-tokens/``) and token introspection for product sites.

The value of a new token is rendered in the answer to the POST that created it and nowhere else
(not in the session, not in a message): it cannot be shown again.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.tokens import introspection, selectors, user_services
from orgwarden.tokens.exceptions import TokenNotFound, TokenRevokedAlready, TokensError
from orgwarden.tokens.oauth import client_credentials, json_answer, oauth_error, unreadable_form

LIFETIMES = (1, 7, 30, 90, 180, 365)
_NOT_ALLOWED = "Your organization's authentication policy does not allow API tokens."


class TokenForm(forms.Form):
    label = forms.CharField(
        label="Label",
        max_length=100,
        help_text="What uses it, e.g. “Jira CLI on my laptop”.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "aria-describedby": "id_label_help"}),
    )
    expires_in_days = forms.TypedChoiceField(label="Expires after", coerce=int)

    def __init__(self, *args, longest: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        days = [d for d in LIFETIMES if d <= longest] or [longest]
        if longest not in days:
            days.append(longest)
        self.fields["expires_in_days"].choices = [(d, f"{d} day{'s' if d > 1 else ''}") for d in days]
        self.fields["expires_in_days"].initial = max(days)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def account_tokens(request: HttpRequest) -> HttpResponse:
    account = request.user
    longest = user_services.max_lifetime_days(account)
    form = TokenForm(request.POST or None, longest=max(longest, 1))
    created = None
    status = 200
    if request.method == "POST":
        if longest == 0:
            form.is_valid()
            form.add_error(None, _NOT_ALLOWED)
        elif form.is_valid():
            try:
                token, value = user_services.user_token_create(
                    account=account,
                    label=form.cleaned_data["label"],
                    expires_in_days=form.cleaned_data["expires_in_days"],
                )
            except TokensError as exc:
                form.add_error("label" if "label" in exc.message else None, exc.message)
            else:
                created = {"token": token, "value": value}
                form = TokenForm(longest=longest)
        if form.errors:
            status = 400
    return render(
        request,
        "tokens/account_tokens.html",
        {
            "form": form,
            "created": created,
            "tokens": selectors.user_tokens_of(account=account),
            "allowed": longest > 0,
            "longest": longest,
            "now": timezone.now(),
            "section": "api_tokens",
        },
        status=status,
    )


@login_required
@require_POST
def account_token_revoke(request: HttpRequest, token_id: str) -> HttpResponse:
    if "\x00" in token_id:
        raise Http404()
    try:
        token = user_services.user_token_revoke(account=request.user, token_id=token_id)
    except TokenRevokedAlready as exc:
        messages.info(request, exc.message)
        return redirect("tokens:account_tokens")
    except TokenNotFound as exc:
        raise Http404() from exc
    messages.success(request, f"API token “{token.label}” revoked. Anything using it stops working now.")
    return redirect("tokens:account_tokens")


# --- introspection (RFC 7662) ---------------------------------------------------------------------


@csrf_exempt
def introspect(request: HttpRequest) -> HttpResponse:
    """``POST /oauth2/introspect``: client-authenticated as a product site; ``token`` in the form.

    Served by ``orgwarden.wsgi``'s short middleware chain (it needs no session, cookie or CSRF).
    """
    if request.method != "POST":
        response = oauth_error("invalid_request", "Use POST.", 405)
        response["Allow"] = "POST"
        return response
    unreadable = unreadable_form(request)
    if unreadable is not None:
        return unreadable
    client_id, client_secret = client_credentials(request)
    token = request.POST.get("token", "")
    answer = introspection.introspect(client_id=client_id, client_secret=client_secret, token=token)
    if answer is None:
        return oauth_error("invalid_client", "Unknown client or wrong secret.", 401)
    if not token:
        return oauth_error("invalid_request", "The token parameter is missing.", 400)
    return json_answer(answer)
