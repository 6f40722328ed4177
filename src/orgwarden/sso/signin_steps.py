"""The sign-in step ``sso``: people whose identity provider enforces SSO are sent there.

Registered before ``password`` by ``SsoConfig.ready()``. Required when the email's domain is linked
to a configured connection and the policy that applies enforces SSO: the account's own policy
(``policies.selectors.policy_for``), or — for a person without an account yet, or whose account is
not managed — the IdP directory's default policy (they would be created there just in time).
Break-glass admins of the org whose policy enforces it are exempt and keep their password (being
break-glass in another org exempts nobody). "Enforces" means
``policy_selectors.sso_enforced``: while the org's security subscription has not started or has
lapsed, nobody is sent to the IdP. The step view shows a page that moves on at once (meta refresh,
plus a link) to the connection's SP-initiated start, carrying the flow's ``next`` URL: a page, not a
redirect, because the redirect chain of the email form's POST would end at the IdP's origin, which
the console's CSP ``form-action 'self'`` forbids.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from orgwarden.accounts import signin
from orgwarden.accounts.models import Account
from orgwarden.accounts.signin import SignInFlow
from orgwarden.policies import selectors as policy_selectors
from orgwarden.sso import selectors
from orgwarden.sso.models import SamlConnection


def connection_enforcing_sso(email: str, account: Account | None) -> SamlConnection | None:
    if account is not None:
        policy = policy_selectors.policy_for(account)  # None for an account no org manages
        if policy is None or not policy_selectors.sso_enforced(policy):
            return None
        if policy_selectors.is_break_glass(account, policy.org):  # of the org enforcing it, not any
            return None
        own = SamlConnection.objects.filter(directory_id=policy.directory_id).first()
        if own is not None and own.is_configured:
            return own
        return selectors.connection_for_email(email)
    connection = selectors.connection_for_email(email)
    if connection is None:
        return None
    policy = selectors.default_policy(connection)
    return connection if policy is not None and policy_selectors.sso_enforced(policy) else None


class SsoStep:
    key = "sso"

    def required(self, flow: SignInFlow, account: Account | None) -> bool:
        if signin.PasswordStep.FIRST_FACTORS.intersection(flow.proofs):
            return False
        return connection_enforcing_sso(flow.email, account) is not None


def sso_step_view(request: HttpRequest, flow: SignInFlow) -> HttpResponse:
    connection = connection_enforcing_sso(flow.email, flow.account())
    if connection is None:  # changed since the step was chosen
        return signin.flow_advance(request, flow)
    url = reverse("sso:login", args=[connection.connection_id])
    query = {"next": flow.next_url} if flow.next_url else {}
    return render(
        request,
        "sso/redirect.html",
        {
            "url": url + ("?" + urlencode(query) if query else ""),
            "title": f"Sign in with {connection.directory.name}",
            "message": f"{connection.org.name} signs you in through its identity provider. Taking you there…",
            "idp_name": connection.directory.name,
        },
    )
