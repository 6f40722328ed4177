"""Settings → Administrators: list, invite, revoke an invitation, remove; accepting an invitation."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.console.forms import InviteAdminForm
from orgwarden.console.views.base import org_admin_view, removed_already
from orgwarden.idn import idn_unicode
from orgwarden.orgs import selectors, services
from orgwarden.orgs.exceptions import InvitationNotPending, NotFound, OrgsError


@org_admin_view
@require_http_methods(["GET", "POST"])
def admins(request: HttpRequest) -> HttpResponse:
    org = request.org
    form = InviteAdminForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.admin_invite(org=org, actor=request.user, email=form.cleaned_data["email"])
        except OrgsError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(request, f"Invitation sent to {idn_unicode(invitation.email)}.")
            return redirect("console:admins", org_id=org.org_id)
    return render(
        request,
        "console/admins.html",
        {
            "form": form,
            "admins": selectors.admins_of(org=org),
            "invitations": selectors.invitations_pending(org=org),
            "nav_active": "admins",
        },
        status=400 if form.errors else 200,
    )


@org_admin_view
@require_POST
def admin_remove(request: HttpRequest, account_id: str) -> HttpResponse:
    try:
        removed = services.admin_remove(org=request.org, actor=request.user, account_id=account_id)
    except NotFound:  # sent twice: the org's log says who it was; anyone else is a 404
        _, gone = removed_already(
            request, action="org:admin:removed", target_ids=[request.org.org_id, account_id]
        )
        who = f"{gone['name']} ({idn_unicode(gone.get('email', ''))})"
        messages.info(request, f"{who} was removed as an admin of {request.org.name} already.")
        return redirect("console:admins", org_id=request.org.org_id)
    except OrgsError as exc:
        messages.error(request, exc.message)
        return redirect("console:admins", org_id=request.org.org_id)
    if account_id == request.user.account_id:
        messages.success(request, f"You are no longer an admin of {request.org.name}.")
        return redirect("console:home")
    who = f"{removed.display_name} ({idn_unicode(removed.email)})"
    messages.success(request, f"{who} is no longer an admin of {request.org.name}.")
    return redirect("console:admins", org_id=request.org.org_id)


@org_admin_view
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: str) -> HttpResponse:
    """Revoke a pending admin invitation, at the first click.

    It breaks nothing live — the invitee is not an admin yet — and inviting the same address again
    is one form with nothing lost, so it does not ask first. (Removing an admin, or leaving, asks in
    place: its "Remove"/"Leave" opens the question under it.)
    """
    try:
        services.invitation_revoke(org=request.org, actor=request.user, invitation_id=invitation_id)
    except InvitationNotPending as exc:
        messages.info(request, exc.message)
        return redirect("console:admins", org_id=request.org.org_id)
    except NotFound as exc:
        raise Http404() from exc
    messages.success(request, "Invitation revoked.")
    return redirect("console:admins", org_id=request.org.org_id)


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The link in an invitation email: sign in (or up) as the invited email, then accept."""
    try:
        pending = selectors.invitation_by_token(token=token)
    except NotFound:
        return render(request, "console/invitation_invalid.html", status=404)
    here = reverse("console:invitation", args=[token])
    context = {"invitation": pending, "here": here}
    if request.method == "POST" and request.user.is_authenticated:
        try:
            org = services.invitation_accept(token=token, account=request.user)
        except OrgsError as exc:
            context["error"] = exc.message
            return render(request, "console/invitation.html", context, status=400)
        messages.success(request, f"You are now an admin of {org.name}.")
        return redirect("console:org_home", org_id=org.org_id)
    return render(request, "console/invitation.html", context)
