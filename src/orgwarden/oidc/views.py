"""Product sign-in endpoints: django-oauth-toolkit's views, with orgwarden's checks at authorize.

Every OIDC view first loads the signing keys (``keys.install``). The authorize step runs for a
signed-in person (others go to ``/login`` and come back); before DOT issues a code it checks
``sign_in_refusal``: a refused person sees "you don't have access to <site>; ask your admin" (or
the reason) and the refusal is audited. A session whose sign-in skipped the SSO its policy now
enforces goes through the identity provider first and comes back to the same authorize request
(``sso_connection_to_prove``). A code issued is a product sign-in: activity is recorded.
"""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from oauth2_provider import views as dot

from orgwarden.accounts.signin import session_proofs
from orgwarden.oidc import keys, services
from orgwarden.oidc.checks import REASONS, sign_in_refusal, sso_connection_to_prove
from orgwarden.oidc.models import SiteClient
from orgwarden.tokens.introspection import activity_record


def with_keys(view):
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        keys.install()
        return view(request, *args, **kwargs)

    for attribute in ("csrf_exempt",):
        if hasattr(view, attribute):
            setattr(wrapper, attribute, getattr(view, attribute))
    return wrapper


class AuthorizeView(dot.AuthorizationView):
    # GET only: every site skips the consent form, so a POST (DOT's form handler) could only be a
    # forged one, and it would issue a code past every check below (and 500 on an unknown client).
    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        client_id = str(request.GET.get("client_id", ""))[:100]
        client = (
            SiteClient.objects.select_related("site__org").filter(application__client_id=client_id).first()
        )
        if client is None:
            return super().get(request, *args, **kwargs)  # DOT's own error answer
        site, account = client.site, request.user
        reason = sign_in_refusal(account=account, site=site)
        if reason is not None:
            services.product_access_denied_record(account=account, site=site, reason=reason)
            return render(
                request,
                "oidc/denied.html",
                {"site": site, "reason": reason, "message": REASONS[reason]},
                status=403,
            )
        connection = sso_connection_to_prove(account=account, proofs=session_proofs(request))
        if connection is not None:
            return _through_sso_page(request, connection, site)
        response = super().get(request, *args, **kwargs)
        if response.status_code == 302 and "code=" in response.get("Location", ""):
            activity_record(site=site, account=account, kind="signin")
            if request.headers.get("Sec-Fetch-Site") == "same-origin":
                return _continue_page(request, site, response["Location"])
        return response


def _through_sso_page(request: HttpRequest, connection, site) -> HttpResponse:
    """Send the browser to the SSO start, which brings it back to this very authorize request.

    A page that moves on at once (as the sign-in's ``sso`` step does) rather than a redirect: the
    IdP's origin would otherwise end a redirect chain that a CSP ``form-action 'self'`` may guard.
    """
    start = reverse("sso:login", args=[connection.connection_id])
    return render(
        request,
        "sso/redirect.html",
        {
            "url": f"{start}?{urlencode({'next': request.get_full_path()})}",
            "title": f"Sign in with {connection.directory.name}",
            "message": (
                f"{connection.org.name} requires you to sign in through its identity provider "
                f"before you open {site.name}. Taking you there…"
            ),
            "idp_name": connection.directory.name,
        },
    )


def _continue_page(request: HttpRequest, site, location: str) -> HttpResponse:
    """Hand the browser to the product with a navigation rather than a redirect.

    When this request ends the redirect chain of our own sign-in form's POST, the browser checks the
    product's address against that page's CSP ``form-action 'self'`` and blocks a redirect to it.
    A meta refresh (with a link for browsers that ignore it) is a new navigation: no such check.
    """
    response = render(request, "oidc/continue.html", {"site": site, "location": location})
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
