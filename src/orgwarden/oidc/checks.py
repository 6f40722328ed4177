"""Whether ``account`` may be signed in to ``site`` now: the one check of the authorize step and of
every refresh. Returns the reason it may not (a stable code, ``REASONS`` says it in words).

The session itself was created by the sign-in flow, which enforced the policy as it stood (SSO
when enforced, two-step verification when mandatory) and the session-limit middleware ends
sessions past their idle or absolute limit before any view runs — so an authenticated request here
already satisfies those. What can have changed since, and is checked here: the account was
deactivated; its policy made two-step verification mandatory and it has none; its access to the
site was removed. And its email must be verified (``sign_in_refusal`` says why).

SSO is the exception that is not a refusal: a policy that starts enforcing SSO does not end the
sessions signed in with a password. ``sso_connection_to_prove`` tells the authorize step to send
such a session through the identity provider first (the session records what its sign-in proved,
``accounts.signin.session_proofs``), after which the same authorize request goes on. Nor is
two-step verification turned on after the session's sign-in (``two_step_to_prove``): that session
signs in again, through it.
"""

from __future__ import annotations

from orgwarden.accounts.models import Account
from orgwarden.orgs.models import ProductSite
from orgwarden.orgs.selectors.access import site_role_of
from orgwarden.policies.selectors import two_step_requirement
from orgwarden.sso.models import SamlConnection
from orgwarden.sso.signin_steps import connection_enforcing_sso

REASONS = {
    "deactivated": "Your account is deactivated.",
    "two_step_required": (
        "Your organization requires two-step verification: turn it on in your account settings."
    ),
    "no_access": "You don't have access to this product site.",
    "email_unverified": (
        "Verify your email address first: open the link we emailed you, or send a new one from your "
        "account settings."
    ),
}


def sign_in_refusal(*, account: Account, site: ProductSite) -> str | None:
    """The reason ``account`` may not sign in to ``site`` now, or ``None``.

    An account whose email was never verified is refused (``email_unverified``): whoever signed up
    with an address they do not own must not reach an org's products with it (account
    pre-hijacking). The person who owns the address verifies it with one click; accounts an org
    invites, provisions or claims are verified by the link or the IdP that let them in.
    """
    if account.status != Account.Status.ACTIVE:
        return "deactivated"
    if not account.email_verified:
        return "email_unverified"
    if not account.has_two_step and two_step_requirement(account):
        return "two_step_required"
    if site_role_of(site=site, account=account) is None:
        return "no_access"
    return None


def sso_connection_to_prove(*, account: Account, proofs: frozenset[str]) -> SamlConnection | None:
    """The connection to sign in through before a product sign-in, when ``account``'s policy
    enforces SSO (break-glass admins are exempt) and the session's sign-in (``proofs``) did not go
    through it; else ``None``."""
    if "sso" in proofs:
        return None
    return connection_enforcing_sso(account.email, account)


def two_step_to_prove(*, account: Account, proofs: frozenset[str]) -> bool:
    """Whether ``account`` turned two-step verification on but the session's sign-in (``proofs``)
    did not go through it: signed in before it was turned on, in another session, or by a sign-in
    that recorded no proofs. The authorize step then has the person sign in again, as the sign-in
    flow now would (its ``TwoStepStep``), before a product gets a code: a password alone, stolen
    before the owner turned 2SV on, must not keep opening products afterwards. A sign-in through
    the identity provider is the IdP's to protect, as in the flow."""
    return account.has_two_step and not proofs & {"totp", "recovery", "sso"}
