"""The sign-in step "Your account is managed by <org>", shown once after an org claims an account.

Registered by ``OrgsConfig.ready()`` into ``accounts.signin`` (after the password and, when the
flow has it, two-step verification) and ``accounts.views.STEP_VIEWS``, so the accounts app never
imports orgs. The step is required while the account's managed ``OrgUser`` has not recorded
``managed_notice_seen_at``; "Continue" records it (``claims.managed_notice_acknowledge``) and the
flow moves on. A new claim (by another org, or again after a release) clears it, so the notice
comes back.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from orgwarden.accounts import signin
from orgwarden.accounts.models import Account
from orgwarden.accounts.signin import SignInFlow
from orgwarden.orgs.models import OrgUser
from orgwarden.orgs.selectors import domains as domain_selectors
from orgwarden.orgs.services import claims


class ManagedNoticeStep:
    key = "managed_notice"

    def required(self, flow: SignInFlow, account: Account | None) -> bool:
        return (
            account is not None
            and self.key not in flow.proofs
            # Only for someone who proved they own the account: the notice names the org.
            and bool(signin.PasswordStep.FIRST_FACTORS.intersection(flow.proofs))
            and OrgUser.objects.filter(
                account=account, is_managed=True, managed_notice_seen_at__isnull=True
            ).exists()
        )


def managed_notice_view(request: HttpRequest, flow: SignInFlow) -> HttpResponse:
    account = flow.account()
    if request.method == "POST" and account is not None:
        claims.managed_notice_acknowledge(account=account)
        flow.proofs.append(ManagedNoticeStep.key)
        return signin.flow_advance(request, flow)
    org_user = domain_selectors.managing_org_user(account=account) if account else None
    if org_user is None:  # released between the step check and now: nothing to show
        flow.proofs.append(ManagedNoticeStep.key)
        return signin.flow_advance(request, flow)
    return render(
        request,
        "orgs/managed_notice.html",
        {
            "flow": flow,
            "org_name": org_user.org.name,
            "domains": domain_selectors.verified_domain_names(org=org_user.org),
        },
    )
