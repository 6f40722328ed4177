"""The console's entry: pick or create an organization, its overview, and its settings."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.audit import selectors as audit_selectors
from orgwarden.billing import selectors as billing_selectors
from orgwarden.console.forms import OrgNameForm
from orgwarden.console.navigation import PAGES
from orgwarden.console.views.base import LAST_ORG_KEY, org_admin_view
from orgwarden.orgs import selectors, services
from orgwarden.orgs.exceptions import OrgsError
from orgwarden.orgs.selectors import domains as domain_selectors
from orgwarden.orgs.selectors import orgs as org_selectors
from orgwarden.policies import selectors as policy_selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The page a sign-in lands on: straight to the last (or only) org; a chooser when there are
    several. A managed account that administers no org goes to its own account pages (its org's
    admins manage the rest); only someone with no org at all is invited to create one. Admin
    invitations pending for the person's verified email are listed first, to accept here (an invitee
    who signs in without the emailed link finds them)."""
    orgs = list(selectors.orgs_administered_by(account=request.user))
    invitations = list(selectors.invitations_pending_for(account=request.user))
    managing = None if orgs else domain_selectors.managing_org_user(account=request.user)
    last = request.session.get(LAST_ORG_KEY)
    if not invitations and not request.GET.get("choose"):
        if any(org.org_id == last for org in orgs):
            return redirect("console:org_home", org_id=last)
        if len(orgs) == 1:
            return redirect("console:org_home", org_id=orgs[0].org_id)
        if managing is not None:
            return redirect("accounts:account")
    return render(
        request,
        "console/home.html",
        {"orgs": orgs, "invitations": invitations, "managing_org": managing.org if managing else None},
    )


@login_required
@require_POST
def invitation_accept(request: HttpRequest, invitation_id: str) -> HttpResponse:
    """Accept one of the invitations ``home`` lists."""
    try:
        org = services.invitation_accept_as_invitee(invitation_id=invitation_id, account=request.user)
    except OrgsError as exc:
        messages.error(request, exc.message)
        return redirect("console:home")
    messages.success(request, f"You are now an admin of {org.name}.")
    return redirect("console:org_home", org_id=org.org_id)


@login_required
@require_http_methods(["GET", "POST"])
def org_create(request: HttpRequest) -> HttpResponse:
    form = OrgNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.org_create(creator=request.user, name=form.cleaned_data["name"])
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{org.name} is ready. You are its admin.")
            return redirect("console:org_home", org_id=org.org_id)
    return render(request, "console/org_create.html", {"form": form}, status=400 if form.errors else 200)


@dataclass(frozen=True, slots=True)
class SetupStep:
    title: str
    summary: str
    url: str
    done: bool


def _setup_steps(org, overview: dict[str, int]) -> list[SetupStep]:
    """What a new organization does first, in order, and which of it is done: the overview's
    "Get started" list (a new org's home was a row of zeros with no next step)."""
    org_id = org.org_id
    return [
        SetupStep(
            "Verify a domain",
            "Prove you own your company's email domain, then claim its accounts: they become "
            "managed accounts, under your policies.",
            reverse("console:domains", args=[org_id]),
            overview["verified_domains"] > 0,
        ),
        SetupStep(
            "Add your product sites",
            "The Jira, Confluence and other sites your people sign in to.",
            reverse("console:products", args=[org_id]),
            overview["product_sites"] > 0,
        ),
        SetupStep(
            "Give people access",
            "Invite people to your product sites, or grant a group access to one.",
            reverse("console:users_invite", args=[org_id]),
            overview["people_with_access"] > 0,
        ),
        SetupStep(
            "Connect your identity provider",
            "SAML single sign-on and SCIM user provisioning from Okta, Entra ID, Google and others.",
            reverse("console:identity_providers", args=[org_id]),
            overview["identity_providers"] > 0,
        ),
        SetupStep(
            "Start the security subscription",
            "A 30-day free trial: enforced single sign-on, mandatory two-step verification and "
            "provisioning apply under it.",
            reverse("console:billing", args=[org_id]),
            billing_selectors.subscription_of(org=org) is not None,
        ),
        SetupStep(
            "Require two-step verification or single sign-on",
            "Set it in an authentication policy; “Check a user” shows what signing in will ask.",
            reverse("console:policies", args=[org_id]),
            policy_selectors.sign_in_rules_required(org=org),
        ),
    ]


@org_admin_view
def org_home(request: HttpRequest) -> HttpResponse:
    org = request.org
    overview = org_selectors.org_overview(org=org)
    steps = _setup_steps(org, overview)
    return render(
        request,
        "console/org_home.html",
        {
            "admins": selectors.admins_of(org=org),
            "overview": overview,
            # Shown until every step is done.
            "setup_steps": steps if not all(step.done for step in steps) else [],
            "setup_done": sum(step.done for step in steps),
            "recent_events": audit_selectors.events_recent(org_id=org.org_id, limit=8),
            "nav_active": "overview",
        },
    )


@org_admin_view
@require_http_methods(["GET", "POST"])
def org_settings(request: HttpRequest) -> HttpResponse:
    form = OrgNameForm(request.POST or None, initial={"name": request.org.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.org_rename(org=request.org, actor=request.user, name=form.cleaned_data["name"])
        except OrgsError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, "Organization renamed.")
            return redirect("console:org_settings", org_id=request.org.org_id)
    return render(
        request,
        "console/org_settings.html",
        {"form": form, "nav_active": "settings"},
        status=400 if form.errors else 200,
    )


@org_admin_view
def not_built(request: HttpRequest, slug: str) -> HttpResponse:
    page = PAGES.get(slug)
    if page is None or page.url_name:
        raise Http404("No such page")
    return render(request, "console/not_built.html", {"page": page, "nav_active": slug})
