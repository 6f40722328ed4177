"""Settings → API keys: create an org API key (its value shown once), list the live ones, revoke.

The value of a new key is rendered in the answer to the POST that created it and nowhere else:
it is not put in the session or a message, so it cannot be shown again (only its hash is stored).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.console.views.base import org_admin_view
from orgwarden.tokens import selectors, services
from orgwarden.tokens.exceptions import KeyNotFound, KeyRevokedAlready, TokensError

LIFETIMES = (1, 7, 30, 90, 180, 365)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What uses it, e.g. “User offboarding script”.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "aria-describedby": "id_name_help"}),
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires after",
        choices=[(days, f"{days} day{'s' if days > 1 else ''}") for days in LIFETIMES],
        coerce=int,
        initial=services.DEFAULT_LIFETIME_DAYS,
    )


@org_admin_view
@never_cache
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    org = request.org
    form = ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            key, value = services.api_key_create(
                org=org,
                actor=request.user,
                name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
        except TokensError as exc:
            form.add_error("name", exc.message)
        else:
            created = {"key": key, "value": value}
            form = ApiKeyForm()
    return render(
        request,
        "console/api_keys/list.html",
        {
            "form": form,
            "created": created,
            "keys": selectors.api_keys_of(org=org),
            "now": timezone.now(),
            "nav_active": "api-keys",
        },
        status=400 if form.errors else 200,
    )


@org_admin_view
@require_POST
def api_key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    if "\x00" in key_id:  # from a URL; PostgreSQL refuses NUL in a query
        raise Http404()
    try:
        key = services.api_key_revoke(org=request.org, actor=request.user, key_id=key_id)
    except KeyRevokedAlready as exc:
        messages.info(request, exc.message)
        return redirect("console:api_keys", org_id=request.org.org_id)
    except KeyNotFound as exc:
        raise Http404() from exc
    messages.success(request, f"API key “{key.name}” revoked. Scripts using it stop working now.")
    return redirect("console:api_keys", org_id=request.org.org_id)
