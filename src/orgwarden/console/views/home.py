"""The console's entry: pick or create an organization, its overview, and its settings."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.audit import selectors as audit_selectors
from orgwarden.console.forms import OrgNameForm
from orgwarden.console.navigation import PAGES
from orgwarden.console.views.base import LAST_ORG_KEY, org_admin_view
from orgwarden.orgs import selectors, services
from orgwarden.orgs.exceptions import OrgsError
from orgwarden.orgs.selectors import domains as domain_selectors
from orgwarden.orgs.selectors import orgs as org_selectors


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


@org_admin_view
def org_home(request: HttpRequest) -> HttpResponse:
    org = request.org
    return render(
        request,
        "console/org_home.html",
        {
            "admins": selectors.admins_of(org=org),
            "overview": org_selectors.org_overview(org=org),
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
