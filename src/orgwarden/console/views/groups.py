"""Directory → Groups: the list (search, create), a group's page (members, product access,
rename, delete). Groups synced from an identity provider are shown read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models.functions import Lower
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.console.views.base import org_admin_view, removed_already
from orgwarden.console.views.confirm import Confirm, confirm_page
from orgwarden.console.views.products import access_loss_lines
from orgwarden.humanize import plural
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import NotFound, OrgsError
from orgwarden.orgs.models import Directory, Group
from orgwarden.orgs.selectors import access as selectors
from orgwarden.orgs.services import access as services


class GroupForm(forms.Form):
    name = forms.CharField(label="Group name", max_length=services.MAX_GROUP_NAME)
    description = forms.CharField(
        label="Description", max_length=services.MAX_GROUP_DESCRIPTION, required=False
    )


class GroupSearchForm(forms.Form):
    q = forms.CharField(label="Search groups", max_length=255, required=False)


class MemberAddForm(forms.Form):
    email = forms.EmailField(
        label="Email of a user of this organization",
        max_length=254,
        help_text="People outside your organization join by invitation to a product site.",
    )


def _call(call):
    try:
        return call()
    except NotFound as exc:
        raise Http404() from exc


def _is_synced(group: Group) -> bool:
    return group.directory is not None and group.directory.kind == Directory.Kind.IDP


@org_admin_view
@require_http_methods(["GET", "POST"])
def groups(request: HttpRequest) -> HttpResponse:
    org = request.org
    search = GroupSearchForm(request.GET)
    q = search.cleaned_data["q"] if search.is_valid() else ""
    form = GroupForm(request.POST if request.method == "POST" else None, prefix="create")
    if request.method == "POST" and form.is_valid():
        try:
            group = services.group_create(org=org, actor=request.user, **form.cleaned_data)
        except OrgsError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"Group {group.name} created.")
            return redirect("console:group", org_id=org.org_id, group_id=group.group_id)
    after = request.GET.get("after", "")[:255].replace("\x00", "")
    page = selectors.groups_page(org=org, q=q, after=after or None)
    for row in page.items:
        row.synced = _is_synced(row)
    context = {"form": form, "search": search, "q": q, "page": page, "after": after, "nav_active": "groups"}
    return render(
        request,
        "console/groups/list.html",
        context,
        status=400 if form.errors or search.errors else 200,
    )


def _group_page(request: HttpRequest, group_id: str, *, status: int = 200, **bound) -> HttpResponse:
    org = request.org
    group = _call(lambda: selectors.group(org=org, group_id=group_id))
    after = request.GET.get("after", "")[:254].replace("\x00", "")
    context = {
        "group": group,
        "synced": _is_synced(group),
        "members": selectors.group_members(org=org, group=group, after=after or None, size=50),
        "after": after,
        "edit_form": bound.get("edit_form")
        or GroupForm(prefix="group", initial={"name": group.name, "description": group.description}),
        "member_form": bound.get("member_form") or MemberAddForm(prefix="member"),
        "nav_active": "groups",
    }
    return render(request, "console/groups/group.html", context, status=status)


@org_admin_view
@require_http_methods(["GET"])
def group(request: HttpRequest, group_id: str) -> HttpResponse:
    return _group_page(request, group_id)


@org_admin_view
@require_POST
def group_update(request: HttpRequest, group_id: str) -> HttpResponse:
    form = GroupForm(request.POST, prefix="group")
    if form.is_valid():
        try:
            _call(
                lambda: services.group_update(
                    org=request.org, actor=request.user, group_id=group_id, **form.cleaned_data
                )
            )
        except OrgsError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, "Group saved.")
            return redirect("console:group", org_id=request.org.org_id, group_id=group_id)
    return _group_page(request, group_id, status=400, edit_form=form)


def _deleted_already(request: HttpRequest, group_id: str) -> HttpResponse:
    """A delete sent twice (or from a second tab): back to the list, saying so; 404 if never ours."""
    (group,) = removed_already(request, action="org:group:deleted", target_ids=[group_id])
    messages.info(request, f"Group {group['name']} was deleted already.")
    return redirect("console:groups", org_id=request.org.org_id)


def _delete_confirm(request: HttpRequest, group: Group) -> HttpResponse:
    """What deleting ``group`` takes away, site by site (``access_revoke_impact`` for each grant)."""
    org, name = request.org, group.name
    grants = list(group.site_access.all())
    lines = []
    for grant in grants:
        impact = selectors.access_revoke_impact(org=org, grant=grant)
        if impact.members:  # one line for an empty group, below, not one per site
            lines += access_loss_lines(grant.site, name, impact)
    if not grants:
        lines.append(f"{name} gives no product access: nobody loses a site.")
    elif not group.member_count:
        lines.append(f"{name} has no members, so nobody loses a site now.")
    defaults = [site.name for site in group.default_for_sites.order_by(Lower("name"))]
    if defaults:
        lines.append(f"People you invite to {', '.join(defaults)} no longer join {name}.")
    lines.append(
        f"The accounts of its {plural(group.member_count, 'member')} stay. A deleted group can't be "
        "restored: creating it again gives none of its members or access back."
    )
    confirm = Confirm(
        title=f"Delete {name}?",
        subtitle=group.description,
        lines=lines,
        button="Delete group",
        back_url=reverse("console:group", args=[org.org_id, group.group_id]),
        back_label=name,
    )
    return confirm_page(request, confirm, nav_active="groups")


@org_admin_view
@require_http_methods(["GET", "POST"])
def group_delete(request: HttpRequest, group_id: str) -> HttpResponse:
    """Delete a local group, after a confirmation that counts, site by site, who loses access.

    A synced group is the IdP's to delete: its page offers no Delete, and this URL goes back to it
    saying so.
    """
    try:
        group = selectors.group(org=request.org, group_id=group_id)
    except NotFound as exc:
        if request.method != "POST":
            raise Http404() from exc
        return _deleted_already(request, group_id)
    if _is_synced(group):
        messages.error(request, f"{group.name} is synced from {group.directory.name}: delete it there.")
        return redirect("console:group", org_id=request.org.org_id, group_id=group_id)
    if request.method == "GET":
        return _delete_confirm(request, group)
    try:
        services.group_delete(org=request.org, actor=request.user, group_id=group_id)
    except NotFound:
        return _deleted_already(request, group_id)
    except OrgsError as exc:
        messages.error(request, exc.message)
        return redirect("console:group", org_id=request.org.org_id, group_id=group_id)
    messages.success(request, f"Group {group.name} deleted.")
    return redirect("console:groups", org_id=request.org.org_id)


@org_admin_view
@require_POST
def group_members_add(request: HttpRequest, group_id: str) -> HttpResponse:
    form = MemberAddForm(request.POST, prefix="member")
    if form.is_valid():
        try:
            user = selectors.user_by_email(org=request.org, email=form.cleaned_data["email"])
        except NotFound:
            form.add_error(
                "email", "No user of this organization has this email. Invite them to a product site first."
            )
        else:
            try:
                added = _call(
                    lambda: services.group_members_add(
                        org=request.org,
                        actor=request.user,
                        group_id=group_id,
                        account_ids=[user.account.account_id],
                    )
                )
            except OrgsError as exc:
                form.add_error("email", exc.message)
            else:
                messages.success(
                    request, f"{idn_unicode(user.email)} " + ("added." if added else "is already a member.")
                )
                return redirect("console:group", org_id=request.org.org_id, group_id=group_id)
    return _group_page(request, group_id, status=400, member_form=form)


@org_admin_view
@require_POST
def group_member_remove(request: HttpRequest, group_id: str, account_id: str) -> HttpResponse:
    """Take one person out of a local group, at the first click.

    It is one person, named on the button, and "Add members" puts them back with everything the
    group gave (nothing else is lost), so it does not ask first — unlike deleting the group or
    revoking its product access, which reach every member at once and ask.
    """
    try:
        services.group_member_remove(
            org=request.org, actor=request.user, group_id=group_id, account_id=account_id
        )
    except NotFound:  # sent twice: the org's log says who left; anyone else is a 404
        group, member = removed_already(
            request, action="org:group:member_removed", target_ids=[group_id, account_id]
        )
        who = idn_unicode(member.get("email") or member["name"])
        messages.info(request, f"{who} was removed from {group['name']} already.")
    except OrgsError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Member removed.")
    return redirect("console:group", org_id=request.org.org_id, group_id=group_id)
