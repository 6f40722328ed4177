"""Directory → Users → Invite people: invite people to one or several product sites at once.

The Users page is where an admin looks for "invite"; until this page the only way in was a product
site's own page, which Users did not mention. The invitation is ``orgs.services.access.users_invite``
(all or nothing), as on a site's page: people join each chosen site's default groups and get an email;
people without an account get one, with a one-time sign-in link.

An invited person's page (Users → a person) sends the invitation again
(``orgs.services.invitations.user_invitation_resend``): one button, no confirmation — it changes
nothing but the person's sign-in link, and the service's throttle bounds the emails.

Users, filtered to Invited, sends it again to several people
(``invitations.users_invitation_resend``): to those checked on the page, or to everyone the filter
shows, on every page — after an onboarding, "everyone who has not joined yet" is what an admin
means, and narrowing the filter (a product site, a search) is how they say "some of them". Both
go through a confirm page that names each person and says who is left out and why (signed in since,
deactivated, no site left, gone); the send acts on exactly the people that page named. An admin
may send at most 100 invitations again an hour (``invitation_limits``), so a filter matching more
is refused on the confirm page, before anything is sent, with what to do instead.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.console.views.base import back_in_org, org_admin_view
from orgwarden.console.views.products import IdsField, InviteForm
from orgwarden.console.views.users import UserFilterForm, _gone_notes
from orgwarden.humanize import listed, people
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import InvalidInput, NotFound, OrgsError
from orgwarden.orgs.products import PRODUCTS
from orgwarden.orgs.selectors import access as selectors
from orgwarden.orgs.selectors import invitations as invitation_selectors
from orgwarden.orgs.selectors import users as user_selectors
from orgwarden.orgs.services import access as services
from orgwarden.orgs.services import invitation_limits, invitations
from orgwarden.orgs.services.users import BULK_MAX


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


class ResendForm(forms.Form):
    """The Users list's "Resend invitation" buttons, then the confirm page's: the checked
    ``account_id`` values, or (``scope`` "filter") everyone the list's ``filter`` query shows."""

    scope = forms.ChoiceField(required=False, choices=[("", "The selected people"), ("filter", "Everyone")])
    filter = forms.CharField(required=False, max_length=2000)
    confirm = forms.BooleanField(required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account_ids = list(dict.fromkeys(self.data.getlist("account_id"))) if self.data else []

    def clean(self) -> dict:
        data = super().clean()
        if data.get("scope") == "filter":
            return data
        if not self.account_ids:
            raise forms.ValidationError("Select at least one person.")
        if len(self.account_ids) > BULK_MAX:
            raise forms.ValidationError(f"Select at most {BULK_MAX} people at a time.")
        return data


def _everyone_on_filter(request: HttpRequest, query: str, most: int) -> list[str]:
    """The account ids of the first ``most`` people the Users list's filter ``query`` shows, on
    every page; raises ``InvalidInput`` for a filter that is not one of the list's, or not Invited."""
    form = UserFilterForm(QueryDict(query), sites=user_selectors.sites_for_filter(org=request.org))
    if not form.is_valid():
        raise InvalidInput("That filter is not valid any more. Filter the list again.")
    filters = form.filters()
    if filters.status != "invited":
        raise InvalidInput("Filter the list to Invited people first.")
    return [
        row.account_id for row in user_selectors.users_matching(org=request.org, filters=filters, most=most)
    ]


@org_admin_view
@require_POST
def users_invitation_resend(request: HttpRequest) -> HttpResponse:
    """Users → Resend invitation: the confirm page (naming everyone), then (``confirm``) the emails,
    and back to the list with what was sent and to whom not."""
    org = request.org
    form = ResendForm(request.POST)
    back = back_in_org(request, request.POST.get("back", "")) or reverse("console:users", args=[org.org_id])
    context: dict[str, object] = {"form": form, "nav_active": "users", "back": back, "rows": [], "notes": []}
    if not form.is_valid():
        return render(request, "console/users/resend_confirm.html", context, status=400)
    limit = invitation_limits.INVITATION_EMAILS.per_client.limit
    many = (
        f"{people(len(form.account_ids))} are selected, and one admin can send at most {limit} "
        "invitations again an hour. Select fewer people."
    )
    ids = form.account_ids
    if form.cleaned_data["scope"] == "filter":
        many = (
            f"More than {people(limit)} match this filter, and one admin can send at most {limit} "
            "invitations again an hour. Narrow the filter (a product site, the type, a search), or "
            "select people on the list."
        )
        try:
            ids = _everyone_on_filter(request, form.cleaned_data["filter"], most=limit + 1)
        except InvalidInput as exc:
            form.add_error(None, exc.message)
            return render(request, "console/users/resend_confirm.html", context, status=400)
    if len(ids) > limit:  # refused before anything is read or sent: it could never pass
        form.add_error(None, many)
        return render(request, "console/users/resend_confirm.html", context, status=400)
    if form.cleaned_data["confirm"]:
        try:
            done = invitations.users_invitation_resend(
                org=org, actor=request.user, account_ids=ids, skip_gone=True
            )
        except NotFound as exc:  # the admin is no longer an admin of the org
            raise Http404() from exc
        except OrgsError as exc:  # too many emails: nobody was sent one
            form.add_error(None, exc.message)
        else:
            _say_what_was_sent(request, ids, done)
            return redirect(back)
    preview = invitation_selectors.resend_preview(org=org, account_ids=ids)
    context["rows"] = preview.ready
    context["notes"] = _gone_notes(request, preview.gone) + [one.why for one in preview.not_sent]
    return render(request, "console/users/resend_confirm.html", context, status=400 if form.errors else 200)


def _say_what_was_sent(request: HttpRequest, ids: list[str], done: invitations.InvitationsResent) -> None:
    """Flash messages: to whom the invitation went again, and why not to the others of ``ids``."""
    if done.sent:
        emails = [idn_unicode(one.account.email) for one in done.sent]
        messages.success(
            request, f"Invitation sent again to {people(len(emails))}: {listed(emails, most=5)}."
        )
    else:
        messages.info(request, "Nothing was sent: no one you selected is waiting on an invitation.")
    users = {one.account.account_id for one in [*done.sent, *done.not_sent]}
    for note in _gone_notes(request, [i for i in ids if i not in users]):
        messages.info(request, note)
    for one in done.not_sent:
        messages.info(request, f"Not sent: {one.why}")
