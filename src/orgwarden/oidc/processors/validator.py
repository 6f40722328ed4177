"""django-oauth-toolkit's request validator, told about orgwarden's accounts and product sites.

- ID token and userinfo claims: ``sub`` is the account id (stable across email changes), with
  ``email``/``email_verified`` under the ``email`` scope and ``name`` under ``profile``. The ID
  token's ``auth_time`` is when the session the sign-in came from signed in, kept from the code
  to its token family (``models.SignInTime``), so refreshed ID tokens name the same sign-in.
- A code's token request names the ``redirect_uri`` of its authorization request
  (``confirm_redirect_uri``).
- A product token (refresh token at the token endpoint, access token at userinfo) works only while
  signing in would still be allowed: the account is active, its policy still lets it sign in here
  (``sign_in_refusal``) and it still has access to the site. The check sits here, where DOT looks
  every token up, rather than in the services that deactivate, close or end sessions: a service
  added later (a new way to deactivate) cannot forget it. So deactivation (by an admin, SCIM or
  closing the account), losing access or a policy change cut both tokens at their next use.
- A product token also rests on a live orgwarden session of the account that already existed when
  the token was issued — any such session, not only the one the product sign-in came from (DOT
  does not record that): product sessions live no longer than the orgwarden sign-in of the
  person, so "sign out everywhere" and an admin ending the sessions end them too, for good — a
  later sign-in (the owner's, after a token was stolen) starts new sessions, which carry only
  tokens issued after them. "Live" is what the browser would find: the row has not expired, and
  the session is within its policy's idle and absolute limits (``policies.middleware.limit_passed``,
  the session-limit middleware's own rule), as the middleware would judge it on the browser's next
  request — a product using its tokens is not activity in orgwarden. A session that never
  recorded its sign-in time counts from its row's creation.
- When the account's policy enforces SSO, that live session must be one whose sign-in went through
  the identity provider: enforcing SSO cuts the product tokens that password sessions gave, as the
  authorize step sends those sessions through the IdP (``checks.sso_connection_to_prove``).
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from oauth2_provider.models import Grant, RefreshToken
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError

from orgwarden.accounts.middleware import SEEN_KEY
from orgwarden.accounts.models import Account, Session
from orgwarden.accounts.signin import proofs_in, sign_in_time
from orgwarden.oidc import services
from orgwarden.oidc.checks import sign_in_refusal
from orgwarden.policies.middleware import limit_passed
from orgwarden.policies.selectors import session_limits_for
from orgwarden.sso.signin_steps import connection_enforcing_sso

# How many of an account's sessions (most recently seen first) may carry its product tokens: enough
# for every browser a person uses, and a bound on what one token check decodes.
SESSIONS_LOOKED_AT = 50
# A refresh token used again this soon after its rotation is a retry or a race of the product's own
# workers, not a replay: refused without revoking its family (``validate_refresh_token``).
REFRESH_REPLAY_LEEWAY = timedelta(seconds=10)


class RefreshTokenRotated(InvalidGrantError):
    """``invalid_grant`` for a refresh token rotated by a concurrent refresh. Raised from the token's
    save, past oauthlib's own error answers: DOT answers it with these headers alone, so they say
    JSON (and no-store, RFC 6749 §5.1) themselves."""

    description = "The refresh token has been used already."

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"}


def oidc_issuer() -> str:
    """The issuer of every ID token and of the discovery document: the installation's own
    ``ORGWARDEN_BASE_URL``, never the Host a request came in by. A product site that reaches
    orgwarden by an internal address (``http://orgwarden:8000``, 127.0.0.1) must still be handed
    ID tokens whose ``iss`` is the one discovery named (OIDC Core §3.1.3.7); django-oauth-toolkit
    builds it from each request's Host instead. The endpoints in the discovery document still
    follow the request, so such a product keeps talking to the address it uses."""
    return settings.BASE_URL.rstrip("/")


class OrgwardenValidator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "sub": "openid"}

    def get_oidc_issuer_endpoint(self, request):
        return oidc_issuer()

    def get_claim_dict(self, request):
        account = request.user
        return {
            "sub": account.account_id,
            "email": account.email,
            "email_verified": account.email_verified,
            "name": account.display_name,
        }

    def get_discovery_claims(self, request):
        return ["sub", "email", "email_verified", "name"]

    # ``prompt=none`` (OIDC Core §3.1.2.1): oauthlib asks these two and its defaults raise
    # NotImplementedError (a 500). The authorize view has already decided by the time validation
    # runs: a signed-in person reaches it after every check of ``AuthorizeView.get``, and DOT answers
    # an anonymous one ``login_required`` itself. No site shows a consent screen (skip_authorization).
    def validate_silent_login(self, request):
        return True

    def validate_silent_authorization(self, request):
        return True

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        """DOT's check of an authorization code, once its grant is locked for this exchange; a code
        exchanged already revokes the tokens its first exchange gave (RFC 6749 §4.1.2).

        The token view runs a code's exchange in one transaction (``views.TokenView``). Without the
        lock, a second exchange of the same code sent at once passed every check on the grant
        while the first deleted it: looking it up again raised (a 500), or, once the first had
        committed, the second saved a second set of tokens before failing to delete the grant. Now
        it waits here for the first, then finds no grant: ``invalid_grant``, nothing saved.
        """
        if transaction.get_connection().in_atomic_block:
            list(Grant.objects.select_for_update().filter(code=code, application=client).values_list("pk"))
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
            sign_in = services.sign_in_time_of_code(application=client, code=code)
            if sign_in is not None:
                request.orgwarden_sign_in_pk, request.orgwarden_auth_time = sign_in
            return True
        family = services.exchanged_code_family(application=client, code=code)
        if family is not None:
            services.product_tokens_revoke_replayed(
                application=client, token_family=family, replayed="authorization_code"
            )
        return False

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        """A code's token request names the ``redirect_uri`` of its authorization request, unchanged
        (RFC 6749 §4.1.3; OIDC Core §3.1.3.2: every authorization request has one). oauthlib fills
        a missing one in with the client's default redirect URI (``using_default_redirect_uri``)
        and asks here only whether that is the grant's: tokens were issued without it.

        Missing or empty: ``invalid_request`` (RFC 6749 §5.2, a required parameter is missing).
        Another value, even another of the site's registered ones: ``invalid_grant`` (§5.2: the
        grant "does not match the redirection URI used in the authorization request").

        Either leaves the code unspent, as every refusal before an exchange does (another client,
        a wrong PKCE verifier): nothing was issued, so nothing is there to revoke, and RFC 6749
        §4.1.2's "used more than once" is about a code that gave tokens — which is what
        ``ExchangedCode`` records and a second exchange of which revokes them (``validate_code``,
        which runs before this check, so a replay is caught whatever else it lacks). Only the
        site itself can send this request (its client secret, and the PKCE verifier only it
        holds): spending the code would turn its malformed request into a lost sign-in and stop
        no one. The code still dies at its exchange or its expiry (``Grant.expires``).
        """
        if getattr(request, "using_default_redirect_uri", False) or not redirect_uri:
            raise InvalidRequestError(
                description="redirect_uri is required: send the one of the authorization request.",
                request=request,
            )
        if not super().confirm_redirect_uri(client_id, code, redirect_uri, client, request, *args, **kwargs):
            raise InvalidGrantError(
                description="redirect_uri is not the one of the authorization request.", request=request
            )
        return True

    def _create_authorization_code(self, request, code, expires=None):
        """DOT's grant, kept with when the session it is given to signed in (``AuthorizeView``
        passes it as ``orgwarden_auth_time``): the ID token's ``auth_time``."""
        grant = super()._create_authorization_code(request, code, expires)
        signed_in_at = getattr(request, "orgwarden_auth_time", None)
        if signed_in_at is not None:
            services.sign_in_time_record(grant=grant, auth_time=signed_in_at)
        return grant

    def get_id_token_dictionary(self, token, token_handler, request):
        """DOT's claims, but ``auth_time`` is when the person signed in in the session this sign-in
        came from (``models.SignInTime``; ``validate_code``, ``validate_refresh_token``), the
        instant ``max_age`` was judged by, not DOT's ``last_login``, which a sign-in on any other
        device moves. Refreshes keep it. A code or family from before these were recorded keeps
        DOT's answer."""
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        auth_time = getattr(request, "orgwarden_auth_time", None)
        if auth_time is not None:
            claims["auth_time"] = auth_time_claim(auth_time)
        return claims, expiration_time

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        """DOT's, noting the family a code's exchange begins (``invalidate_authorization_code``)."""
        token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        request.orgwarden_token_family = token.token_family
        return token

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        """DOT deletes the code's grant; the code is remembered, hashed, with the tokens it gave, so
        that a second exchange can revoke them (``validate_code``). Its sign-in time passes to the
        family first (the grant's row goes with the grant): refreshes issue ID tokens naming it."""
        family = getattr(request, "orgwarden_token_family", None)
        sign_in_pk = getattr(request, "orgwarden_sign_in_pk", None)
        if family is not None and sign_in_pk is not None:
            services.sign_in_time_pass_to_family(sign_in_pk=sign_in_pk, token_family=family)
        super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)
        if family is not None:
            services.code_exchanged_record(application=request.client, code=code, token_family=family)

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        """DOT's check, then the rule of the module docstring. A refresh token that was rotated or
        revoked already revokes its whole family (RFC 9700 §4.14.2): if an attacker refreshed
        first, the product's next refresh cuts the attacker's tokens, and the other way round.

        Not within ``REFRESH_REPLAY_LEEWAY`` of its rotation: that is a product retrying a refresh
        whose answer it lost, or two of its workers refreshing at once. The late one is refused
        (``invalid_grant``; its answer cannot be given again, as only hashes are stored) and the
        first one's tokens keep working, on either database (PostgreSQL refuses such a second
        one at its save, ``_save_bearer_token``; SQLite, which runs one writer at a time, here).
        """
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            checksum = hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()
            used = (
                RefreshToken.objects.filter(token_checksum=checksum, application=client)
                .filter(revoked__lt=timezone.now() - REFRESH_REPLAY_LEEWAY)
                .values_list("token_family", flat=True)
                .first()
            )
            if used is not None:
                services.product_tokens_revoke_replayed(
                    application=client, token_family=used, replayed="refresh_token"
                )
            return False
        current = request.refresh_token_instance
        request.orgwarden_auth_time = services.sign_in_time_of_family(token_family=current.token_family)
        return product_token_usable(account=request.user, application=client, issued_at=current.created)

    def _save_bearer_token(self, token, request, *args, **kwargs):
        """Refuse a refresh token that a concurrent refresh rotated after this one validated it.

        Runs in DOT's transaction (``save_bearer_token``): the lock taken here is held while DOT
        rotates the token. Without it, the second of two refreshes sent at once waited for DOT's
        own lock, found the token rotated and took that for a grace period: it answered the
        first's access token, whose value is not stored here (only its SHA-256), so the answer
        named an empty token, and DOT's view failed looking it up (a 500). A refresh token used
        after its rotation is ``invalid_grant``, whichever of the two came second.
        """
        used = getattr(request, "refresh_token_instance", None)
        if request.grant_type == "refresh_token" and isinstance(used, RefreshToken):
            live = RefreshToken.objects.select_for_update().filter(pk=used.pk, revoked__isnull=True)
            if not live.exists():
                raise RefreshTokenRotated(request=request)
        return super()._save_bearer_token(token, request, *args, **kwargs)

    def validate_bearer_token(self, token, scopes, request):
        """DOT's check of an access token (userinfo), then the same rule as a refresh: an access
        token of a deactivated account, or one whose sessions have all ended, stops working at once
        rather than at its expiry."""
        if not super().validate_bearer_token(token, scopes, request):
            return False
        issued = request.access_token.created
        if product_token_usable(account=request.user, application=request.client, issued_at=issued):
            return True
        request.oauth2_error = {
            "error": "invalid_token",
            "error_description": "The access token no longer works: sign in to the product again.",
        }
        return False


def product_token_usable(*, account: Account | None, application, issued_at: datetime) -> bool:
    """Whether a product token of ``account`` issued to ``application`` (DOT's) at ``issued_at`` may
    be used now: the site's sign-in would be allowed and a live session of the account, begun by
    then, carries it (see above)."""
    site_client = getattr(application, "site_client", None)
    if account is None or site_client is None:
        return False
    if sign_in_refusal(account=account, site=site_client.site) is not None:
        return False
    return _live_session_of(account, begun_by=issued_at)


def _live_session_of(account: Account, *, begun_by: datetime) -> bool:
    """Whether ``account`` has a session, begun by ``begun_by``, that a product token may rest on
    (see the module docstring)."""
    sessions = Session.objects.filter(
        account=account, expire_date__gt=timezone.now(), created_at__lte=begun_by
    )
    needs_sso = connection_enforcing_sso(account.email, account) is not None
    limits = session_limits_for(account) if getattr(settings, "SESSION_LIMITS_ENABLED", True) else None
    if not needs_sso and limits is None:
        return sessions.exists()
    now = time.time()
    for session in sessions.order_by(F("last_seen_at").desc(nulls_last=True))[:SESSIONS_LOOKED_AT]:
        data = session.get_decoded()
        if needs_sso and "sso" not in proofs_in(data):
            continue
        if limits is not None:
            auth_at = sign_in_time(data, created_at=session.created_at)
            reason = limit_passed(
                auth_at=auth_at,
                seen_at=_unix_time(data.get(SEEN_KEY)),
                idle=limits.idle_minutes,
                absolute=limits.absolute_minutes,
                now=now,
            )
            if reason is not None:
                continue
        return True
    return False


def auth_time_claim(signed_in_at: datetime) -> int:
    """The ID token's ``auth_time`` for a sign-in at ``signed_in_at``: whole seconds (OIDC Core §2,
    a JSON number of seconds; DOT's is whole too). The authorize step judges ``max_age`` by this
    same number (``views.AuthorizeView``), so a product that checks ``auth_time`` against its
    ``max_age`` reaches the same decision, to the second."""
    return int(signed_in_at.timestamp())


def _unix_time(value) -> float | None:
    """A unix time the session data holds (the middlewares write floats), else ``None``."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
