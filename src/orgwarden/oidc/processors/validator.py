"""django-oauth-toolkit's request validator, told about orgwarden's accounts and product sites.

- ID token and userinfo claims: ``sub`` is the account id (stable across email changes), with
  ``email``/``email_verified`` under the ``email`` scope and ``name`` under ``profile``.
- A refresh token works only while signing in would still be allowed: the account is active, its
  policy still lets it sign in here (``sign_in_refusal``) and it still has access to the site.
  So deactivation, losing access or a policy change cut refresh tokens at their next use.
- A refresh token also needs a live orgwarden session of the account: product sessions live no
  longer than the orgwarden sign-in they came from, so "sign out everywhere", an admin ending the
  sessions, and the policy's idle and absolute session limits end them too.
- When the account's policy enforces SSO, that live session must be one whose sign-in went through
  the identity provider: enforcing SSO cuts the refresh tokens that password sessions gave, as the
  authorize step sends those sessions through the IdP (``checks.sso_connection_to_prove``).
"""

from __future__ import annotations

from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator

from orgwarden.accounts.models import Session
from orgwarden.accounts.signin import proofs_in
from orgwarden.oidc.checks import sign_in_refusal
from orgwarden.sso.signin_steps import connection_enforcing_sso


class OrgwardenValidator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "sub": "openid"}

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

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        site_client = getattr(client, "site_client", None)
        if site_client is None:
            return False
        sessions = Session.objects.filter(account=request.user, expire_date__gt=timezone.now())
        if not sessions.exists():
            return False
        if sign_in_refusal(account=request.user, site=site_client.site) is not None:
            return False
        if connection_enforcing_sso(request.user.email, request.user) is not None:
            return any("sso" in proofs_in(session.get_decoded()) for session in sessions[:50])
        return True
