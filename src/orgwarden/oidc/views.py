"""Product sign-in endpoints: django-oauth-toolkit's views, with orgwarden's checks at authorize.

Every OIDC view first loads the signing keys (``keys.install``). The authorize step runs for a
signed-in person (others go to ``/login`` and come back); before DOT issues a code it checks
``sign_in_refusal``: a refused person sees "you don't have access to <site>; ask your admin" (or
the reason) and the refusal is audited. A session whose sign-in skipped the SSO its policy now
enforces goes through the identity provider first and comes back to the same authorize request
(``sso_connection_to_prove``). A code issued is a product sign-in: activity is recorded. A silent
request (``prompt=none``) is shown no page: a refusal goes back to the product's registered
redirect URI as ``access_denied`` (``interaction_required`` when the person must turn on two-step
verification), a needed IdP sign-in as ``login_required`` (OIDC Core §3.1.2.6). ``prompt=login``
and a ``max_age`` older than the session's sign-in make the person sign in again first, as does a
session whose sign-in did not go through the two-step verification the account has now
(``checks.two_step_to_prove``).
"""

from __future__ import annotations

import functools
import json
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from oauth2_provider import views as dot
from oauth2_provider.exceptions import InvalidOIDCClientError, OAuthToolkitError
from oauth2_provider.models import get_application_model, get_grant_model
from oauthlib.common import INVALID_HEX_PATTERN, add_params_to_uri

from orgwarden.accounts.signin import session_proofs, session_signed_in_at
from orgwarden.oidc import keys, services
from orgwarden.oidc.checks import REASONS, sign_in_refusal, sso_connection_to_prove, two_step_to_prove
from orgwarden.oidc.models import SiteClient
from orgwarden.oidc.processors.validator import auth_time_claim, oidc_issuer
from orgwarden.tokens.introspection import activity_record
from orgwarden.tokens.oauth import client_credentials, oauth_error, unreadable_form

_PERSON_CAN_ACT = frozenset({"two_step_required", "email_unverified"})
# Parameters DOT stores with the code, and its columns' sizes (RFC 7636 caps a code challenge at
# 128 characters too): PostgreSQL refuses a longer value (a 500), SQLite would store it.
_STORED_WITH_THE_CODE = ("code_challenge", "nonce")


def _oversized(request: HttpRequest) -> str | None:
    """The description of the first parameter too long for its column, else ``None``."""
    for name in _STORED_WITH_THE_CODE:
        limit = get_grant_model()._meta.get_field(name).max_length
        if any(len(value) > limit for value in request.GET.getlist(name)):
            return f"{name} is longer than {limit} characters."
    return None


def _holds_nul(request: HttpRequest) -> bool:
    """Whether a parameter or the client credentials hold a NUL character.

    No client id, code or token has one, and PostgreSQL refuses it in text: django-oauth-toolkit's
    look-ups catch Python's ValueError for it, not psycopg's DataError, so it was a 500 there.
    """
    values = [value for _, items in request.GET.lists() for value in items]
    if request.method == "POST":  # the form DOT reads: URL-encoded or multipart
        values += [value for _, items in request.POST.lists() for value in items]
    values.append(request.META.get("HTTP_AUTHORIZATION", ""))
    values += client_credentials(request)  # decoded: RFC 6749 §2.3.1 URL-encodes them
    return any("\x00" in value for value in values)


def _bad_escape_in_query(request: HttpRequest) -> bool:
    """Whether the query string holds a ``%`` that starts no ``%XX`` escape (``%zz``, ``%2p``).

    oauthlib parses the request's URI itself and raises ValueError on one (a 500) where Django reads
    past it; its own pattern decides, so the two cannot disagree.
    """
    return INVALID_HEX_PATTERN.search(request.META.get("QUERY_STRING", "")) is not None


def with_keys(view):
    """An OIDC endpoint: the signing keys loaded (``keys.install``), a request with a body that is
    no readable form, holding a NUL, or with a broken percent-escape in its query string refused as
    ``invalid_request``."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        unreadable = unreadable_form(request)
        if unreadable is not None:
            return unreadable
        if _holds_nul(request):
            return oauth_error("invalid_request", "A parameter holds a NUL character.")
        if _bad_escape_in_query(request):
            return oauth_error("invalid_request", "The query string holds a malformed %-escape.")
        keys.install()
        return view(request, *args, **kwargs)

    for attribute in ("csrf_exempt",):
        if hasattr(view, attribute):
            setattr(wrapper, attribute, getattr(view, attribute))
    return wrapper


class AuthorizeView(dot.AuthorizationView):
    http_method_names = ["get", "post", "head", "options"]
    # What DOT renders for an error it must not send to the client (an unknown client id, an
    # unregistered redirect URI: RFC 6749 §4.1.2.1): orgwarden's page, not DOT's unstyled one.
    template_name = "oidc/authorize_error.html"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """A POSTed authorization request (OIDC Core §3.1.2.1 allows a form POST) is answered with a
        303 to the GET of the same parameters, signed in or not, so one path runs every check.

        DOT's own POST handler is its consent form, which no site shows: it would issue a code past
        every check in ``get`` (and 500 on an unknown client). The POST changes nothing, so it needs
        no CSRF token (the view is exempt: a relying party's form comes from another site).
        """
        if request.method == "POST":
            query = urlencode([(key, value) for key, values in request.POST.lists() for value in values])
            response = HttpResponse(status=303)
            response["Location"] = f"{request.path}?{query}"
            return response
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        client_id = str(request.GET.get("client_id", ""))[:100]
        client = (
            SiteClient.objects.select_related("site__org").filter(application__client_id=client_id).first()
        )
        if client is None:
            return super().get(request, *args, **kwargs)  # DOT's own error answer
        oversized = _oversized(request)
        if oversized is not None:
            return self._error_to_client(request, client, "invalid_request", oversized) or oauth_error(
                "invalid_request", oversized
            )
        site, account = client.site, request.user
        reason = sign_in_refusal(account=account, site=site)
        if reason is not None:
            services.product_access_denied_record(account=account, site=site, reason=reason)
            # two-step verification to turn on is something the person can do: they must see a page
            # (as is verifying one's email)
            error = "interaction_required" if reason in _PERSON_CAN_ACT else "access_denied"
            silent = self._silent_error(request, client, error, REASONS[reason])
            if silent is not None:
                return silent
            return render(
                request,
                "oidc/denied.html",
                {"site": site, "reason": reason, "message": REASONS[reason]},
                status=403,
            )
        # After the refusals (no new sign-in gives access), before the IdP (a new sign-in goes
        # through it when SSO is enforced, and comes back without prompt=login).
        reauthentication = self._reauthentication(request, client)
        if reauthentication is not None:
            return reauthentication
        proofs = session_proofs(request)
        connection = sso_connection_to_prove(account=account, proofs=proofs)
        if connection is not None:
            silent = self._silent_error(
                request, client, "login_required", "Sign-in through the identity provider is required."
            )
            return silent or _through_sso_page(request, connection, site)
        if two_step_to_prove(account=account, proofs=proofs):
            description = "Sign in again with two-step verification."
            silent = self._silent_error(request, client, "login_required", description)
            again = silent or self._sign_in_again(request)
            if again is not None:
                return again
        response = super().get(request, *args, **kwargs)
        if response.status_code == 302 and "code=" in response.get("Location", ""):
            activity_record(site=site, account=account, kind="signin")
            if request.headers.get("Sec-Fetch-Site") == "same-origin":
                return _continue_page(request, site, response["Location"])
        return response

    def create_authorization_response(self, request: HttpRequest, scopes, credentials, allow):
        """DOT's, told when this session signed in: the code's grant keeps it as the ID token's
        ``auth_time`` (``models.SignInTime``) — the instant ``max_age`` is judged by here."""
        signed_in_at = self._signed_in_at(request)
        if signed_in_at is not None:  # always, past ``_reauthentication``
            credentials = {**credentials, "orgwarden_auth_time": signed_in_at}
        return super().create_authorization_response(request, scopes, credentials, allow)

    def _signed_in_at(self, request: HttpRequest) -> datetime | None:
        """When this session's sign-in happened, read once per request
        (``accounts.signin.session_signed_in_at``): ``max_age`` is judged by it and the code's
        ``auth_time`` is it, in every configuration — session limits on or off, a policy or none, a
        session from before sign-in times were recorded. ``None``: the session has just ended."""
        if not hasattr(self, "_signed_in_at_read"):
            at = session_signed_in_at(request)
            self._signed_in_at_read = datetime.fromtimestamp(at, tz=UTC) if at is not None else None
        return self._signed_in_at_read

    def _reauthentication(self, request: HttpRequest, client: SiteClient) -> HttpResponse | None:
        """The person signs in again first when the product asks for it (OIDC Core §3.1.2.1):
        ``prompt=login``, or a ``max_age`` shorter than the time since this session's sign-in
        (``max_age=0`` is ``prompt=login``), counted from the ``auth_time`` the ID token will name
        (``_signed_in_at``), as the product counts it; and a session whose sign-in time is gone
        (it has just ended). ``None`` when no new sign-in is needed.

        The sign-in page shows its form although the person is signed in (``reauth=1``), then
        comes back to this request without ``prompt=login`` and ``max_age``, which the new sign-in
        has just satisfied; the ID token's ``auth_time`` is that sign-in's, for the product to
        check. With ``prompt=none`` no page may be shown: ``login_required`` instead. A ``max_age``
        that is no whole number of seconds is ``invalid_request``. Those two errors go to the
        product's redirect URI; a request too broken for that (``None``) gets DOT's own answer.
        """
        prompt = str(request.GET.get("prompt", "")).split()
        max_age = request.GET.get("max_age")
        signed_in_at = self._signed_in_at(request)
        if "login" not in prompt and max_age is None and signed_in_at is not None:
            return None
        if max_age is not None:
            if not max_age.isdigit() or len(max_age) > 12:
                description = "max_age must be a whole number of seconds."
                return self._error_to_client(request, client, "invalid_request", description)
            # By the ID token's own auth_time (whole seconds), as the product will check it.
            # max_age=0 is prompt=login (OIDC Core §3.1.2.1), even within the second of a sign-in.
            if (
                "login" not in prompt
                and int(max_age) > 0
                and signed_in_at is not None
                and time.time() - auth_time_claim(signed_in_at) <= int(max_age)
            ):
                return None
        if "none" in prompt:
            description = "The product asks you to sign in again."
            return self._error_to_client(request, client, "login_required", description)
        return self._sign_in_again(request)

    def _sign_in_again(self, request: HttpRequest) -> HttpResponse | None:
        """The sign-in page, asking a signed-in person to sign in again (``reauth=1``), then back to
        this request without ``prompt=login`` and ``max_age``; ``None`` for a request DOT would
        refuse: it gets its answer now, not after a needless sign-in."""
        try:
            self.validate_authorization_request(request)
        except OAuthToolkitError:
            return None
        again = _without_reauthentication(request)
        return HttpResponseRedirect(
            f"{reverse('accounts:login')}?{urlencode({'reauth': '1', 'next': again})}"
        )

    def _silent_error(self, request: HttpRequest, client: SiteClient, error: str, description: str):
        """With ``prompt=none`` no page may be shown (OIDC Core §3.1.2.6): the error goes back to
        the relying party's redirect URI, once DOT has checked it is the client's registered one.
        ``None`` when pages may be shown, or when the request is too broken to be answered there
        (the page then says why)."""
        if "none" not in str(request.GET.get("prompt", "")).split():
            return None
        return self._error_to_client(request, client, error, description)

    def _error_to_client(self, request: HttpRequest, client: SiteClient, error: str, description: str):
        """The error at the client's redirect URI once DOT has checked it is a registered one, else
        ``None`` (errors never go to an address the client did not register)."""
        try:
            _scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError:
            return None
        params = [("error", error), ("error_description", description)]
        if credentials.get("state"):
            params.append(("state", credentials["state"]))
        return self.redirect(add_params_to_uri(credentials["redirect_uri"], params), client.application)


def _without_reauthentication(request: HttpRequest) -> str:
    """This authorize request without what asked for a new sign-in: ``max_age``, ``prompt=login``."""
    query = []
    for key, values in request.GET.lists():
        for value in values:
            if key == "prompt":
                value = " ".join(word for word in value.split() if word != "login")
            if key != "max_age" and value:
                query.append((key, value))
    return f"{request.path}?{urlencode(query)}"


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


class JsonMethodNotAllowed:
    """A wrong method answered with an OAuth error a client can read, as introspection answers it,
    not Django's empty 405 page (RFC 6749 §3.2: the token endpoint takes POST)."""

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        allowed = self._allowed_methods()
        usable = [method for method in allowed if method not in ("HEAD", "OPTIONS")]
        response = oauth_error("invalid_request", f"Use {' or '.join(usable)}.", 405)
        response["Allow"] = ", ".join(allowed)
        return response


class ClientAuthenticationChallenge:
    """``invalid_client`` challenges the scheme a site authenticates with (RFC 6749 §5.2: a 401
    includes the WWW-Authenticate field "matching the authentication scheme used by the client"):
    HTTP Basic, as introspection does. oauthlib answers ``Bearer``, the scheme of a resource
    server, which no site may use at the token or revocation endpoint."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # Not ``dispatch``: DOT's is the CSRF-exempt one (``as_view`` reads the mark from it).
        response = super().post(request, *args, **kwargs)
        if response.status_code == 401:
            response["WWW-Authenticate"] = 'Basic realm="orgwarden", error="invalid_client"'
        return response


class TokenView(ClientAuthenticationChallenge, JsonMethodNotAllowed, dot.TokenView):
    """DOT's token endpoint for the grants product sign-in issues: authorization codes and refresh
    tokens. DOT reads a device-code grant's ``device_code`` unguarded (a KeyError, a 500 when it is
    missing), and no site uses that flow. Methods other than POST get an OAuth error, in JSON."""

    GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        grant_type = request.POST.get("grant_type", "")
        if grant_type and grant_type not in self.GRANT_TYPES:
            return oauth_error("unsupported_grant_type", f"{grant_type[:100]} is not supported here.")
        if grant_type == "authorization_code":
            # One transaction for the exchange, in which the validator locks the code's grant: the
            # same code sent twice at once is exchanged once (see ``validate_code``).
            with transaction.atomic():
                return super().post(request, *args, **kwargs)
        return super().post(request, *args, **kwargs)


class RevokeTokenView(ClientAuthenticationChallenge, JsonMethodNotAllowed, dot.RevokeTokenView):
    pass


class UserInfoView(JsonMethodNotAllowed, dot.UserInfoView):
    """DOT's userinfo endpoint. oauthlib sends its refusal of a token (401 ``invalid_token``, 403
    ``insufficient_scope``) as a JSON OAuth error with no Content-Type, which Django's default
    labelled text/html: a site reading the error by its type saw a web page."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return _labelled_json(super().get(request, *args, **kwargs))

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return _labelled_json(super().post(request, *args, **kwargs))


def _labelled_json(response: HttpResponse) -> HttpResponse:
    """``response``, typed as JSON when it is an error oauthlib left untyped (its claims, a success,
    are typed by oauthlib: JSON or a signed JWT)."""
    if response.status_code >= 400 and response.content.lstrip().startswith(b"{"):
        response["Content-Type"] = "application/json"
    return response


class JwksInfoView(JsonMethodNotAllowed, dot.JwksInfoView):
    pass


class DiscoveryView(JsonMethodNotAllowed, dot.ConnectDiscoveryInfoView):
    """DOT's discovery document, told what this provider really does (OIDC Discovery §3).

    DOT lists every response type and HS256 whatever the clients may use, and leaves out the grant
    types, whose default in the spec (``authorization_code`` and ``implicit``) is wrong here: a
    relying party that picks an advertised implicit or hybrid flow got ``unauthorized_client``.
    Every product site's client is a confidential authorization-code client signing with RS256
    (``services.application_secret_set``). The revocation endpoint (RFC 7009) is served, so it is
    listed (RFC 8414 §2). The issuer is the installation's base URL (``validator.oidc_issuer``).
    """

    RESPONSE_TYPES = ["code"]
    GRANT_TYPES = sorted(TokenView.GRANT_TYPES)
    SIGNING_ALGORITHMS = ["RS256"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        document = json.loads(response.content)
        auth_methods = document["token_endpoint_auth_methods_supported"]
        document.update(
            issuer=oidc_issuer(),
            response_types_supported=self.RESPONSE_TYPES,
            response_modes_supported=["query", "fragment"],
            grant_types_supported=self.GRANT_TYPES,
            id_token_signing_alg_values_supported=self.SIGNING_ALGORITHMS,
            revocation_endpoint=self._get_endpoint_url(request, "revoke-token", required=True),
            revocation_endpoint_auth_methods_supported=auth_methods,
        )
        answer = JsonResponse(document)
        answer["Access-Control-Allow-Origin"] = response["Access-Control-Allow-Origin"]
        return answer


class LogoutView(dot.RPInitiatedLogoutView):
    """DOT's RP-initiated logout. It looks a ``client_id`` up with ``.get()`` when no ID token hint
    named the client first, so an unknown one was a DoesNotExist, a 500: it is DOT's own "unknown
    client" error (a 400 page), as for a hint of another client."""

    def get_request_application(self, id_token, client_id):
        try:
            return super().get_request_application(id_token, client_id)
        except get_application_model().DoesNotExist as exc:
            raise InvalidOIDCClientError() from exc
