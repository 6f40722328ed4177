"""Directory → Users → Invite people: invite people to one or several product sites at once.

The Users page is where an admin looks for "invite"; until this page the only way in was a product
site's own page, which Users did not mention. The invitation is ``orgs.services.access.users_invite``
(all or nothing), as on a site's page: people join each chosen site's default groups and get an email;
people without an account get one, with a one-time sign-in link.

An invited person's page (Users → a person) sends the invitation again
(``orgs.services.invitations.user_invitation_resend``): one button, no confirmation — it changes
nothing but the person's sign-in link, and the service's throttle bounds the emails.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.console.views.base import org_admin_view
from orgwarden.console.views.products import IdsField, InviteForm
from orgwarden.humanize import listed, people
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import NotFound, OrgsError
from orgwarden.orgs.products import PRODUCTS
from orgwarden.orgs.selectors import access as selectors
from orgwarden.orgs.services import access as services
from orgwarden.orgs.services import invitations


class UsersInviteForm(InviteForm):
    site_ids = IdsField(
        label="Product sites",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one product site."},
    )
    field_order = ["emails", "site_ids", "role"]

    def __init__(self, *args, sites=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site_ids"].choices = [(site.site_id, site.name) for site in sites]


@org_admin_view
@require_http_methods(["GET", "POST"])
def users_invite(request: HttpRequest) -> HttpResponse:
    org = request.org
    sites = list(selectors.sites_of(org=org))
    initial = {"site_ids": [sites[0].site_id]} if len(sites) == 1 else {}
    form = UsersInviteForm(request.POST if request.method == "POST" else None, sites=sites, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invited = services.users_invite(
                org=org,
                actor=request.user,
                emails=data["emails"],
                site_ids=data["site_ids"],
                role=data["role"],
            )
        except NotFound:  # a site removed since the page was shown (or an id that is not ours)
            form.add_error("site_ids", "One of these product sites no longer exists. Choose again.")
        except OrgsError as exc:
            form.add_error("emails", exc.message)
        else:
            chosen = [site.name for site in sites if site.site_id in data["site_ids"]]
            who = invited[0].email if len(invited) == 1 else people(len(invited))
            messages.success(request, f"Invited {who} to {listed(chosen)}. They get an email.")
            return redirect("console:users", org_id=org.org_id)
    choices = [
        {
            "site": site,
            "product": PRODUCTS[site.product].name if site.product in PRODUCTS else site.product,
            "checked": site.site_id in (form["site_ids"].value() or []),
        }
        for site in sites
    ]
    return render(
        request,
        "console/users/invite.html",
        {"form": form, "choices": choices, "nav_active": "users"},
        status=400 if form.errors else 200,
    )


@org_admin_view
@require_POST
def user_invitation_resend(request: HttpRequest, account_id: str) -> HttpResponse:
    """Send an invited person's invitation email again; back to their page, saying what happened."""
    try:
        done = invitations.user_invitation_resend(org=request.org, actor=request.user, account_id=account_id)
    except NotFound as exc:
        raise Http404("No such user") from exc
    except OrgsError as exc:  # not invited any more, no site left, or too many emails
        messages.error(request, exc.message)
    else:
        what = "with a new sign-in link; earlier links no longer work" if done.signin_link else "again"
        messages.success(request, f"Invitation sent to {idn_unicode(done.account.email)} {what}.")
    return redirect("console:user_detail", org_id=request.org.org_id, account_id=account_id)
