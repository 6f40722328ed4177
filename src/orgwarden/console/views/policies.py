"""Security → Authentication policies: the policies per directory, a policy's settings and members,
break-glass admins, "Check a user" and an admin's reset of a person's two-step verification. Thin.

Deleting a policy and resetting two-step verification ask first (GET is the confirmation, POST
acts): neither can be undone. Removing a break-glass admin acts at once: it takes nothing live away
(the account keeps its sessions and sign-in) and "Add" gives it back with no loss.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.console.views.base import back_in_org, org_admin_view, removed_already
from orgwarden.console.views.confirm import Confirm, confirm_page
from orgwarden.humanize import plural
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import InvalidInput, NotFound, OrgsError
from orgwarden.policies import selectors, services
from orgwarden.policies.exceptions import DefaultPolicyProtected, InvalidSetting, NoTwoStepToReset
from orgwarden.policies.forms import (
    BreakGlassAddForm,
    CheckUserForm,
    MembersMoveForm,
    PolicyCreateForm,
    PolicyRenameForm,
    PolicySettingsForm,
)

NAV = "policies"


def _policy_or_404(request: HttpRequest, policy_id: str):
    try:
        return selectors.policy_get(org=request.org, policy_id=policy_id)
    except NotFound as exc:
        raise Http404() from exc


@org_admin_view
@require_http_methods(["GET", "POST"])
def policies(request: HttpRequest) -> HttpResponse:
    org = request.org
    directories = selectors.directories_with_policies(org=org)
    form = PolicyCreateForm(request.POST or None, directories=[d.directory for d in directories])
    if request.method == "POST" and form.is_valid():
        try:
            policy = services.policy_create(
                org=org,
                actor=request.user,
                directory_id=form.cleaned_data["directory"],
                name=form.cleaned_data["name"],
            )
        except NotFound as exc:
            raise Http404() from exc
        except OrgsError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(
                request, f"Policy “{policy.name}” created. Choose its settings, then move accounts into it."
            )
            return redirect("console:policy", org_id=org.org_id, policy_id=policy.policy_id)
    return _list(request, directories=directories, form=form)


def _list(request: HttpRequest, *, directories=None, form=None, break_glass_form=None) -> HttpResponse:
    org = request.org
    directories = directories if directories is not None else selectors.directories_with_policies(org=org)
    candidates = list(selectors.break_glass_candidates(org=org))
    form = form or PolicyCreateForm(directories=[d.directory for d in directories])
    break_glass_form = break_glass_form or BreakGlassAddForm(candidates=candidates)
    bad = bool(form.errors or break_glass_form.errors)
    return render(
        request,
        "console/policies/list.html",
        {
            "directories": directories,
            "form": form,
            "break_glass": selectors.break_glass_admins(org=org),
            "break_glass_form": break_glass_form,
            "break_glass_max": services.BREAK_GLASS_MAX,
            "check_form": CheckUserForm(),
            "nav_active": NAV,
        },
        status=400 if bad else 200,
    )


@org_admin_view
@require_http_methods(["GET", "POST"])
def policy(request: HttpRequest, policy_id: str) -> HttpResponse:
    org = request.org
    current = _policy_or_404(request, policy_id)
    form = PolicySettingsForm(request.POST or None, policy=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.policy_update(
                org=org, actor=request.user, policy_id=current.policy_id, settings=form.cleaned_data
            )
        except InvalidSetting as exc:
            for key, message in exc.errors.items():
                form.add_error(key if key in form.fields else None, message)
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Policy settings saved. They apply from the next request or sign-in.")
            return redirect("console:policy", org_id=org.org_id, policy_id=current.policy_id)
    return _detail(request, current, settings_form=form)


def _detail(
    request: HttpRequest, current, *, settings_form=None, rename_form=None, move_form=None
) -> HttpResponse:
    org = request.org
    after = request.GET.get("after") or None
    try:
        page = selectors.policy_members(org=org, policy=current, after=after)
    except InvalidInput:
        page, after = selectors.policy_members(org=org, policy=current), None
    siblings = list(selectors.policies_of_directory(org=org, directory=current.directory))
    targets = [p for p in siblings if p.pk != current.pk]
    settings_form = settings_form or PolicySettingsForm(policy=current)
    rename_form = rename_form or PolicyRenameForm(initial={"name": current.name})
    move_form = move_form or MembersMoveForm(policies=targets)
    bad = bool(settings_form.errors or rename_form.errors or move_form.errors)
    return render(
        request,
        "console/policies/detail.html",
        {
            "policy": current,
            "settings_form": settings_form,
            "rename_form": rename_form,
            "move_form": move_form,
            "targets": targets,
            "members": page,
            "after": after,
            "nav_active": NAV,
        },
        status=400 if bad else 200,
    )


@org_admin_view
@require_POST
def policy_rename(request: HttpRequest, policy_id: str) -> HttpResponse:
    current = _policy_or_404(request, policy_id)
    form = PolicyRenameForm(request.POST)
    if form.is_valid():
        try:
            services.policy_rename(
                org=request.org,
                actor=request.user,
                policy_id=current.policy_id,
                name=form.cleaned_data["name"],
            )
        except OrgsError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, "Policy renamed.")
            return redirect("console:policy", org_id=request.org.org_id, policy_id=current.policy_id)
    return _detail(request, current, rename_form=form)


def _deleted_already(request: HttpRequest, policy_id: str) -> HttpResponse:
    """A delete sent twice (or from a second tab): back to the list, saying so; 404 if never ours."""
    (gone,) = removed_already(request, action="org:policy:deleted", target_ids=[policy_id])
    messages.info(request, f"Policy “{gone['name']}” was deleted already.")
    return redirect("console:policies", org_id=request.org.org_id)


@org_admin_view
@require_http_methods(["GET", "POST"])
def policy_delete(request: HttpRequest, policy_id: str) -> HttpResponse:
    """Delete a policy, after a confirmation saying how many members go back to the default.

    A directory's default policy can't be deleted: its page offers no Delete, and this URL goes back
    to it saying so (the service refuses it too).
    """
    try:
        current = selectors.policy_get(org=request.org, policy_id=policy_id)
    except NotFound as exc:
        if request.method != "POST":
            raise Http404() from exc
        return _deleted_already(request, policy_id)
    back = reverse("console:policy", args=[request.org.org_id, current.policy_id])
    if request.method == "POST":
        try:
            moved = services.policy_delete(org=request.org, actor=request.user, policy_id=current.policy_id)
        except NotFound:
            return _deleted_already(request, policy_id)
        except OrgsError as exc:
            messages.error(request, exc.message)
            return redirect(back)
        messages.success(
            request,
            f"Policy “{current.name}” deleted; {plural(moved, 'account')} went back to the default policy.",
        )
        return redirect("console:policies", org_id=request.org.org_id)
    if current.is_default:
        messages.error(request, DefaultPolicyProtected.message)
        return redirect(back)
    count = selectors.policy_member_count(org=request.org, policy=current)
    confirm = Confirm(
        title=f"Delete {current.name}?",
        subtitle=current.directory.name,
        lines=[
            f"Its {plural(count, 'member')} {'goes' if count == 1 else 'go'} back to the default policy of "
            f"{current.directory.name}, whose rules apply from their next request or sign-in.",
            "A deleted policy can't be restored: creating it again brings back neither its rules nor "
            "its members.",
        ],
        button="Delete policy",
        back_url=back,
        back_label=current.name,
    )
    return confirm_page(request, confirm, nav_active=NAV)


@org_admin_view
@require_POST
def policy_members_move(request: HttpRequest, policy_id: str) -> HttpResponse:
    current = _policy_or_404(request, policy_id)
    targets = [
        p
        for p in selectors.policies_of_directory(org=request.org, directory=current.directory)
        if p.pk != current.pk
    ]
    form = MembersMoveForm(request.POST, policies=targets)
    if form.is_valid():
        try:
            moved = services.policy_members_move(
                org=request.org,
                actor=request.user,
                policy_id=form.cleaned_data["policy"],
                account_ids=form.cleaned_data["account_ids"],
            )
        except NotFound as exc:
            raise Http404() from exc
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            target = next(p for p in targets if p.policy_id == form.cleaned_data["policy"])
            messages.success(request, f"Moved {moved} account{'s' if moved != 1 else ''} to {target.name}.")
            return redirect("console:policy", org_id=request.org.org_id, policy_id=current.policy_id)
    return _detail(request, current, move_form=form)


@org_admin_view
@require_POST
def break_glass_add(request: HttpRequest) -> HttpResponse:
    org = request.org
    form = BreakGlassAddForm(request.POST, candidates=list(selectors.break_glass_candidates(org=org)))
    if form.is_valid():
        try:
            row = services.break_glass_add(
                org=org, actor=request.user, account_id=form.cleaned_data["account_id"]
            )
        except OrgsError as exc:
            form.add_error("account_id", exc.message)
        else:
            messages.success(request, f"{row.account.display_name} is now a break-glass admin.")
            return redirect("console:policies", org_id=org.org_id)
    return _list(request, break_glass_form=form)


@org_admin_view
@require_POST
def break_glass_remove(request: HttpRequest, account_id: str) -> HttpResponse:
    try:
        services.break_glass_remove(org=request.org, actor=request.user, account_id=account_id)
    except NotFound:  # sent twice: the org's log says who it was; anyone else is a 404
        (gone,) = removed_already(request, action="org:break_glass:removed", target_ids=[account_id])
        messages.info(request, f"{gone['name']} was removed from the break-glass admins already.")
    else:
        messages.success(request, "Break-glass admin removed.")
    return redirect("console:policies", org_id=request.org.org_id)


@org_admin_view
@require_http_methods(["GET"])
def policy_check(request: HttpRequest) -> HttpResponse:
    """Check a user: the policy that applies to a managed account, and what signing in requires."""
    org = request.org
    form = CheckUserForm(request.GET if "email" in request.GET else None)
    explanation = None
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                account = selectors.managed_account_by_email(org=org, email=form.cleaned_data["email"])
            except OrgsError as exc:
                form.add_error("email", exc.message)
            else:
                explanation = selectors.explain_sign_in(account)
        if form.errors:
            status = 400
    return render(
        request,
        "console/policies/check.html",
        {"form": form, "explanation": explanation, "nav_active": NAV},
        status=status,
    )


def _reset_confirm(request: HttpRequest, account, back: str | None) -> HttpResponse:
    check = (
        reverse("console:policy_check", args=[request.org.org_id]) + "?" + urlencode({"email": account.email})
    )
    email = idn_unicode(account.email)
    lines = [
        f"{account.display_name}'s authenticator app and recovery codes stop working now, and every "
        "session of theirs ends: they sign in again.",
        "If their policy makes two-step verification mandatory, they set up a new app at their next "
        "sign-in. Their old codes never work again.",
    ]
    if account.pk == request.user.pk:
        lines.append("This is your own account: you are signed out at once.")
    confirm = Confirm(
        title=f"Reset two-step verification of {email}?",
        subtitle=account.display_name,
        lines=lines,
        button="Reset two-step verification",
        back_url=back or check,
        back_label=account.display_name if back else "Check a user",
        fields=[("next", back)] if back else [],
    )
    return confirm_page(request, confirm, nav_active=NAV)


@org_admin_view
@require_http_methods(["GET", "POST"])
def two_step_reset(request: HttpRequest, account_id: str) -> HttpResponse:
    """Reset a managed account's two-step verification (lost phone and recovery codes).

    It cannot be undone (the authenticator app and recovery codes are gone) and ends the person's
    sessions, so it asks first: "Reset two-step verification…" (on "Check a user" and on the
    person's page, which passes itself as ``next``) GETs this URL's confirmation; only its button
    POSTs. A reset already done (sent twice, a stale page) says so; another org's person is a 404.
    """
    check = reverse("console:policy_check", args=[request.org.org_id])
    back = back_in_org(request, request.POST.get("next", "") or request.GET.get("next", ""))
    try:
        account = selectors.managed_account(org=request.org, account_id=account_id)
        if request.method == "GET":
            if account.has_two_step:
                return _reset_confirm(request, account, back)
            raise NoTwoStepToReset()
        ended = services.two_step_reset(org=request.org, actor=request.user, account_id=account_id)
    except NotFound as exc:
        raise Http404() from exc
    except OrgsError as exc:
        messages.error(request, exc.message)
        return redirect(back or check + "?" + urlencode({"email": account.email}))
    if account.pk == request.user.pk:
        # An admin's own reset ended this session too: log out so the response does not try to
        # save the deleted session (which Django answers with a 400 "session interrupted").
        logout(request)
        messages.success(request, "Your two-step verification was reset. Sign in again to set it up.")
        return redirect("accounts:login")
    messages.success(
        request,
        f"Two-step verification of {idn_unicode(account.email)} reset; "
        f"{ended} session{'s' if ended != 1 else ''} ended.",
    )
    return redirect(back or check + "?" + urlencode({"email": account.email}))
