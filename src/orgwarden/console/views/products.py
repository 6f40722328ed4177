"""Products → Product sites (list, add, a site's page: settings, access, default groups, invitations)
and Products → External users.

Every form posts to its own URL; a form with errors re-renders the page it sits on with status 400.
Ids in URLs and in POST bodies go to the services, which answer ``NotFound`` (a 404) for another
org's objects.

What takes access away asks first — removing a site, revoking a group's access, removing an
external user's access: the GET of its URL is a confirmation saying what goes, its POST does it.
Granting, default groups, invitations and settings act at the first click (nothing is lost).
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.forms.utils import flatatt
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.console.views.base import org_admin_view, removed_already
from orgwarden.console.views.confirm import Confirm, confirm_page
from orgwarden.humanize import people, plural
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import NotFound, OrgsError
from orgwarden.orgs.models import ProductSite, SiteAccess
from orgwarden.orgs.products import CHOICES, PRODUCTS
from orgwarden.orgs.selectors import access as selectors
from orgwarden.orgs.services import access as services

ROLE_CHOICES = SiteAccess.Role.choices


# --- forms --------------------------------------------------------------------------------------------


class SiteAddForm(forms.Form):
    product = forms.ChoiceField(choices=CHOICES)
    name = forms.CharField(label="Site name", max_length=100)
    url = forms.CharField(
        label="Site address",
        max_length=services.MAX_SITE_URL,
        help_text="https:// address of the site (http:// only for localhost).",
        widget=forms.TextInput(attrs={"inputmode": "url", "placeholder": "https://acme.atlassian.net"}),
    )


class SiteEditForm(forms.Form):
    name = forms.CharField(label="Site name", max_length=100)
    url = forms.CharField(label="Site address", max_length=services.MAX_SITE_URL)


class LongSelect(forms.Select):
    """A ``<select>`` whose options are written here rather than each through Django's option
    template: the "Grant access" list names every group of the org, and at 2,000 groups those
    templates were most of the site page's time (about 0.3 ms an option)."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        selected = "" if value is None else str(value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (key, mark_safe(" selected") if str(key) == selected else "", label)
                for key, label in self.choices
            ),
        )
        final = self.build_attrs(self.attrs, attrs)
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(final), options)


class GrantForm(forms.Form):
    # A plain field, not a ChoiceField: an id that is not ours goes to the service, which says 404.
    group_id = forms.CharField(label="Group", max_length=64, widget=LongSelect)
    role = forms.ChoiceField(choices=ROLE_CHOICES)

    def __init__(self, *args, groups=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group_id"].widget.choices = [("", "Choose a group…")] + [
            (g.group_id, g.name) for g in groups
        ]


class IdsField(forms.MultipleChoiceField):
    """Checkbox ids, checked by the service (which answers ``NotFound`` for ids that are not ours)."""

    def valid_value(self, value: str) -> bool:
        return len(value) <= 64


class DefaultGroupsForm(forms.Form):
    group_ids = IdsField(label="Default groups", required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, access=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group_ids"].choices = [(a.group.group_id, a.group.name) for a in access]


_SEPARATORS = re.compile(r"[\s,;]+")


class InviteForm(forms.Form):
    emails = forms.CharField(
        label="Email addresses",
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"One or several, separated by commas or new lines; at most "
        f"{services.MAX_INVITES_PER_CALL} at once.",
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=SiteAccess.Role.USER)

    def clean_emails(self) -> list[str]:
        emails = list(dict.fromkeys(e.lower() for e in _SEPARATORS.split(self.cleaned_data["emails"]) if e))
        if not emails:
            raise ValidationError("Enter at least one email address.")
        if len(emails) > services.MAX_INVITES_PER_CALL:
            raise ValidationError(f"Invite at most {services.MAX_INVITES_PER_CALL} people at once.")
        bad = []
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                bad.append(email)
        if bad:
            raise ValidationError(f"Not valid email addresses: {', '.join(bad[:5])[:300]}")
        return emails


# --- the list -----------------------------------------------------------------------------------------


def _capabilities(product) -> list[tuple[str, bool]]:
    return [
        ("SSO" if product.sso == "full" else "SAML SSO only", True),
        ("Two-step enforcement", product.two_step_enforced),
        ("Provisioning", product.provisioning),
        ("Insights", product.insights),
    ]


_BILLING = {"all": "Billed per user", "agents": "Agents billed", "separate": "Billed separately"}


@org_admin_view
@require_http_methods(["GET", "POST"])
def products(request: HttpRequest) -> HttpResponse:
    org = request.org
    form = SiteAddForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            site = services.site_add(org=org, actor=request.user, **form.cleaned_data)
        except OrgsError as exc:
            form.add_error("url" if "address" in exc.message else None, exc.message)
        else:
            messages.success(request, f"{site.name} added.")
            return redirect("console:product_site", org_id=org.org_id, site_id=site.site_id)
    groups = [
        {
            "product": g.product,
            "sites": g.sites,
            "capabilities": _capabilities(g.product),
            "billing": _BILLING[g.product.billing],
        }
        for g in selectors.sites_by_product(org=org)
    ]
    return render(
        request,
        "console/products/list.html",
        {"form": form, "groups": groups, "nav_active": "products"},
        status=400 if form.errors else 200,
    )


# --- one site -----------------------------------------------------------------------------------------


def _site_or_404(request: HttpRequest, site_id: str) -> ProductSite:
    try:
        return selectors.site(org=request.org, site_id=site_id)
    except NotFound as exc:
        raise Http404() from exc


def _site_page(request: HttpRequest, site: ProductSite, *, status: int = 200, **bound) -> HttpResponse:
    org = request.org
    access = list(selectors.site_access(org=org, site=site))
    groups = list(selectors.group_choices(org=org))
    forms_ = {
        "edit_form": bound.get("edit_form")
        or SiteEditForm(prefix="site", initial={"name": site.name, "url": site.url}),
        "grant_form": bound.get("grant_form") or GrantForm(prefix="grant", groups=groups),
        "defaults_form": bound.get("defaults_form")
        or DefaultGroupsForm(
            prefix="defaults",
            access=access,
            initial={"group_ids": [a.group.group_id for a in access if a.is_default]},
        ),
        "invite_form": bound.get("invite_form") or InviteForm(prefix="invite"),
    }
    context = {
        "site": site,
        "product": PRODUCTS.get(site.product),
        "access": access,
        "nav_active": "products",
        **forms_,
    }
    return render(request, "console/products/site.html", context, status=status)


def _call(call):
    try:
        return call()
    except NotFound as exc:
        raise Http404() from exc


@org_admin_view
@require_http_methods(["GET"])
def product_site(request: HttpRequest, site_id: str) -> HttpResponse:
    return _site_page(request, _site_or_404(request, site_id))


@org_admin_view
@require_POST
def site_update(request: HttpRequest, site_id: str) -> HttpResponse:
    site = _site_or_404(request, site_id)
    form = SiteEditForm(request.POST, prefix="site")
    if form.is_valid():
        try:
            _call(
                lambda: services.site_update(
                    org=request.org, actor=request.user, site_id=site_id, **form.cleaned_data
                )
            )
        except OrgsError as exc:
            form.add_error("url" if "address" in exc.message else "name", exc.message)
        else:
            messages.success(request, "Site saved.")
            return redirect("console:product_site", org_id=request.org.org_id, site_id=site_id)
    return _site_page(request, site, status=400, edit_form=form)


def _site_remove_confirm(request: HttpRequest, site: ProductSite) -> HttpResponse:
    org = request.org
    groups = [grant.group.name for grant in selectors.site_access(org=org, site=site)]
    losing = selectors.site_remove_impact(org=org, site=site)
    lines = [f"Nobody can sign in to {site.name} through {org.name} any more."]
    if not groups:
        lines[0] += " No group has access to it, so nobody loses it now."
    else:
        lines[0] += (
            f" {people(losing)} {_verb(losing, 'loses', 'lose')} it at once."
            if losing
            else " Its groups have no members, so nobody loses it now."
        )
        named = ", ".join(groups[:5]) + (f" and {len(groups) - 5} more" if len(groups) > 5 else "")
        lines.append(
            f"{plural(len(groups), 'group')} {_verb(len(groups), 'loses', 'lose')} access to it: {named}. "
            "The groups and their members stay; adding the site again gives none of that access back."
        )
    confirm = Confirm(
        title=f"Remove {site.name}?",
        subtitle=site.url,
        lines=lines,
        button="Remove site",
        back_url=reverse("console:product_site", args=[org.org_id, site.site_id]),
        back_label=site.name,
    )
    return confirm_page(request, confirm, nav_active="products")


@org_admin_view
@require_http_methods(["GET", "POST"])
def site_remove(request: HttpRequest, site_id: str) -> HttpResponse:
    """Remove a site, after a confirmation that counts whom it takes the site away from."""
    try:
        site = selectors.site(org=request.org, site_id=site_id)
        if request.method == "GET":
            return _site_remove_confirm(request, site)
        services.site_remove(org=request.org, actor=request.user, site_id=site_id)
    except NotFound as exc:
        if request.method != "POST":
            raise Http404() from exc
        # Sent twice, or from a second tab: the org's log says it went; anyone else's is a 404.
        (gone,) = removed_already(request, action="org:site:removed", target_ids=[site_id])
        messages.info(request, f"{gone['name']} was removed already.")
        return redirect("console:products", org_id=request.org.org_id)
    messages.success(request, f"{site.name} removed.")
    return redirect("console:products", org_id=request.org.org_id)


@org_admin_view
@require_POST
def site_access_grant(request: HttpRequest, site_id: str) -> HttpResponse:
    site = _site_or_404(request, site_id)
    form = GrantForm(request.POST, prefix="grant", groups=selectors.group_choices(org=request.org))
    if form.is_valid():
        try:
            access = _call(
                lambda: services.access_grant(
                    org=request.org, actor=request.user, site_id=site_id, **form.cleaned_data
                )
            )
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{access.group.name} has {access.get_role_display().lower()} access.")
            return redirect("console:product_site", org_id=request.org.org_id, site_id=site_id)
    return _site_page(request, site, status=400, grant_form=form)


def _verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def access_loss_lines(site: ProductSite, group: str, impact: selectors.RevokeImpact) -> list[str]:
    """Who loses ``site``, or its admin role, when group ``group``'s access to it goes (revoked, or
    the group deleted), in words; the counts are ``access_revoke_impact``'s."""
    members, lose = impact.members, impact.lose_access
    if not members:
        lines = [f"{group} has no members, so nobody loses {site.name} now."]
    elif not lose:
        who = "its only member" if members == 1 else f"each of its {members} members"
        lines = [f"Nobody loses {site.name}: {who} has it through another group too."]
    else:
        line = f"{people(lose)} {_verb(lose, 'loses', 'lose')} {site.name} at once: "
        line += f"they have it only through {group}."
        if keep := members - lose:
            line += (
                f" {keep} of its {members} members {_verb(keep, 'keeps', 'keep')} it through another group."
            )
        lines = [line]
    if n := impact.lose_admin:
        lines.append(
            f"{people(n)} {_verb(n, 'keeps', 'keep')} {site.name} but {_verb(n, 'is', 'are')} no longer "
            f"{_verb(n, 'an admin', 'admins')} of it: no other group makes them one."
        )
    return lines


def _revoke_lines(site: ProductSite, grant: SiteAccess, impact: selectors.RevokeImpact) -> list[str]:
    """What revoking ``grant`` takes away, in words."""
    group = grant.group.name
    lines = access_loss_lines(site, group, impact)
    if grant.is_default:
        lines.append(
            f"{group} stops being a default group of {site.name}: people you invite no longer join it."
        )
    lines.append(f"{group} and its members stay; granting it access again gives the access back.")
    return lines


def _revoke_confirm(request: HttpRequest, site: ProductSite, grant: SiteAccess) -> HttpResponse:
    impact = selectors.access_revoke_impact(org=request.org, grant=grant)
    confirm = Confirm(
        title=f"Revoke {grant.group.name}'s access to {site.name}?",
        subtitle=f"{grant.get_role_display()} access",
        lines=_revoke_lines(site, grant, impact),
        button="Revoke access",
        back_url=reverse("console:product_site", args=[request.org.org_id, site.site_id]),
        back_label=site.name,
    )
    return confirm_page(request, confirm, nav_active="products")


@org_admin_view
@require_http_methods(["GET", "POST"])
def site_access_revoke(request: HttpRequest, site_id: str, group_id: str) -> HttpResponse:
    """Take a group's access to the site away, after a confirmation.

    Revoking takes the site away at once from every member who has it only through this group: the
    site page's "Revoke…" is a link to this URL's confirmation (GET), which counts them (exactly,
    ``access_revoke_impact``) and changes nothing; only its button (POST) revokes. A grant revoked
    meanwhile — the confirmation sent twice, a stale page, another admin — says so and changes
    nothing, found in the org's log; another org's site or group, or one never granted, is a 404.
    """
    try:
        site = selectors.site(org=request.org, site_id=site_id)
        if request.method == "GET":
            return _revoke_confirm(
                request, site, selectors.site_grant(org=request.org, site=site, group_id=group_id)
            )
        services.access_revoke(org=request.org, actor=request.user, site_id=site_id, group_id=group_id)
    except NotFound:  # sent twice: the org's log says it was revoked; anything else is a 404
        site, group = removed_already(request, action="org:access:revoked", target_ids=[site_id, group_id])
        messages.info(request, f"The access of {group['name']} to {site['name']} was revoked already.")
    else:
        messages.success(request, "Access revoked.")
    return redirect("console:product_site", org_id=request.org.org_id, site_id=site_id)


@org_admin_view
@require_POST
def site_default_groups(request: HttpRequest, site_id: str) -> HttpResponse:
    site = _site_or_404(request, site_id)
    access = list(selectors.site_access(org=request.org, site=site))
    form = DefaultGroupsForm(request.POST, prefix="defaults", access=access)
    if form.is_valid():
        try:
            _call(
                lambda: services.site_default_groups_set(
                    org=request.org,
                    actor=request.user,
                    site_id=site_id,
                    group_ids=form.cleaned_data["group_ids"],
                )
            )
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Default groups saved.")
            return redirect("console:product_site", org_id=request.org.org_id, site_id=site_id)
    return _site_page(request, site, status=400, defaults_form=form)


@org_admin_view
@require_POST
def site_invite(request: HttpRequest, site_id: str) -> HttpResponse:
    site = _site_or_404(request, site_id)
    form = InviteForm(request.POST, prefix="invite")
    if form.is_valid():
        try:
            invited = _call(
                lambda: services.users_invite(
                    org=request.org,
                    actor=request.user,
                    emails=form.cleaned_data["emails"],
                    site_ids=[site_id],
                    role=form.cleaned_data["role"],
                )
            )
        except OrgsError as exc:
            form.add_error("emails", exc.message)
        else:
            who = invited[0].email if len(invited) == 1 else f"{len(invited)} people"
            messages.success(request, f"Invited {who} to {site.name}.")
            return redirect("console:product_site", org_id=request.org.org_id, site_id=site_id)
    return _site_page(request, site, status=400, invite_form=form)


# --- external users -----------------------------------------------------------------------------------


@org_admin_view
@require_http_methods(["GET"])
def external_users(request: HttpRequest) -> HttpResponse:
    after = request.GET.get("after", "")[:254].replace("\x00", "")
    page = selectors.external_users(org=request.org, after=after or None, size=50)
    return render(
        request,
        "console/products/external_users.html",
        {"page": page, "after": after, "nav_active": "external-users"},
    )


def _names(items, n: int = 10) -> str:
    names = [item.name for item in items[:n]]
    more = len(items) - len(names)
    return ", ".join(names) + (f" and {more} more" if more else "")


def _external_user_confirm(request: HttpRequest, user) -> HttpResponse:
    org, who = request.org, idn_unicode(user.email)
    if user.org_sites:
        lines = [f"{who} loses every product site of {org.name} at once: {_names(user.org_sites)}."]
    else:
        lines = [f"{who} has no product site of {org.name} through their groups now."]
    n = len(user.org_groups)
    if n:
        lines.append(
            f"They leave {n} group{'s' if n != 1 else ''} ({_names(user.org_groups)}): inviting them "
            "again gives back only the access you grant then."
        )
    lines.append("Their account stays; only their access here goes.")
    confirm = Confirm(
        title=f"Remove {who}'s access?",
        subtitle=user.account.display_name,
        lines=lines,
        button="Remove access",
        back_url=reverse("console:external_users", args=[org.org_id]),
        back_label="External users",
    )
    return confirm_page(request, confirm, nav_active="external-users")


@org_admin_view
@require_http_methods(["GET", "POST"])
def external_user_remove(request: HttpRequest, account_id: str) -> HttpResponse:
    """Take every access an external user has in the org away, after a confirmation.

    It cannot be undone: they leave all the org's groups, so inviting them again gives back only
    what is granted then. "Remove access…" on External users is a link to this URL's confirmation
    (GET), naming the sites and groups they lose; only its button (POST) removes. Removed already
    (sent twice, a stale page) says so; an account that is not the org's user is a 404.
    """
    try:
        if request.method == "GET":
            user = selectors.user_access(org=request.org, account_id=account_id)
            if not user.is_managed:
                return _external_user_confirm(request, user)
            who = idn_unicode(user.email)
            messages.error(
                request, f"{who} is a managed account of your organization: deactivate or release it instead."
            )
            return redirect("console:external_users", org_id=request.org.org_id)
        services.user_remove(org=request.org, actor=request.user, account_id=account_id)
    except NotFound:  # sent twice: the org's log says whose access went; anyone else is a 404
        (person,) = removed_already(request, action="org:user:removed", target_ids=[account_id])
        who = idn_unicode(person.get("email") or person["name"])
        messages.info(request, f"The access of {who} was removed already.")
    except OrgsError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Access removed.")
    return redirect("console:external_users", org_id=request.org.org_id)
