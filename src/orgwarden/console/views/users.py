"""Directory → Users and Managed accounts: the keyset-paged list with bulk actions, the account
page, and the admin actions on a managed account (edit profile, change email, deactivate /
reactivate, schedule / cancel deletion, sign out everywhere).

Thin: a Django form parses, a service or selector does the work, a template renders. Destructive
actions have a confirm page (GET asks, POST does it). Bulk actions are a plain HTML form: the
list's checkboxes post to ``users_bulk``, which shows the confirm page and then acts. An account
that is not a user of the org — or is another org's — is a 404 on every page of one account; the
bulk form passes over it, saying so in words that confirm nothing (its selection may be stale).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgwarden import humanize
from orgwarden.audit import selectors as audit_selectors
from orgwarden.console.views.base import back_in_org, org_admin_view
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import InvalidInput, NotFound, OrgsError
from orgwarden.orgs.selectors import users as user_selectors
from orgwarden.orgs.services import users as user_services
from orgwarden.scim import selectors as scim_selectors

FILTER_FIELDS = ("q", "status", "kind", "site", "last_active")
STATUS_CHOICES = [
    ("", "Any status"),
    ("active", "Active"),
    ("invited", "Invited"),
    ("deactivated", "Deactivated"),
    ("deletion_scheduled", "Deletion scheduled"),
]
KIND_CHOICES = [("", "Managed and external"), ("managed", "Managed accounts"), ("external", "External users")]
# The values are ``user_selectors.LAST_ACTIVE`` (the REST API takes the same); "not active for N
# days" includes people never active.
LAST_ACTIVE_CHOICES = [
    ("", "Any time"),
    ("active_30", "Active in the last 30 days"),
    ("active_90", "Active in the last 90 days"),
    ("inactive_30", "Not active for 30 days"),
    ("inactive_60", "Not active for 60 days"),
    ("inactive_90", "Not active for 90 days"),
    ("never", "Never active"),
]


# --- forms --------------------------------------------------------------------------------------------


class UserFilterForm(forms.Form):
    """The list's GET parameters; every field optional. ``after`` is the keyset cursor."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=user_selectors.Q_MAX,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or start of email"}),
    )
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    kind = forms.ChoiceField(label="Type", required=False, choices=KIND_CHOICES)
    site = forms.ChoiceField(label="Product site", required=False)
    last_active = forms.ChoiceField(label="Last active", required=False, choices=LAST_ACTIVE_CHOICES)
    after = forms.CharField(required=False, widget=forms.HiddenInput, max_length=400)

    def __init__(self, *args, sites: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [("", "Any product site"), *sites]

    def clean_after(self) -> str:
        value = self.cleaned_data.get("after", "")
        if value:
            try:
                user_selectors.cursor_decode(value)
            except InvalidInput as exc:
                raise forms.ValidationError(exc.message) from exc
        return value

    def filters(self) -> user_selectors.UserFilters:
        data = self.cleaned_data
        return user_selectors.UserFilters(
            q=data.get("q", ""),
            status=data.get("status", ""),
            kind=data.get("kind", ""),
            site_id=data.get("site", ""),
            last_active=data.get("last_active", ""),
        )


class ProfileForm(forms.Form):
    display_name = forms.CharField(label="Full name", max_length=150)
    job_title = forms.CharField(label="Job title", max_length=150, required=False)
    department = forms.CharField(max_length=150, required=False)
    organization = forms.CharField(max_length=150, required=False)
    location = forms.CharField(max_length=150, required=False)


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        label="New email address",
        max_length=254,
        help_text="On one of your verified domains. The person is signed out everywhere.",
    )


class DeactivateForm(forms.Form):
    message = forms.CharField(
        label="Message to the person (optional)",
        required=False,
        max_length=user_services.MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown when they try to sign in, under the notice that your organization deactivated "
        "their account.",
    )


class BulkForm(forms.Form):
    action = forms.ChoiceField(
        label="With the selected users",
        choices=[("deactivate", "Deactivate"), ("sessions_end", "Sign out of all sessions")],
    )
    message = DeactivateForm.base_fields["message"]
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account_ids = self.data.getlist("account_id") if self.data else []

    def clean(self) -> dict:
        data = super().clean()
        if not self.account_ids:
            raise forms.ValidationError("Select at least one user.")
        if len(self.account_ids) > user_services.BULK_MAX:
            raise forms.ValidationError(f"Select at most {user_services.BULK_MAX} users at a time.")
        return data


# --- helpers ------------------------------------------------------------------------------------------


def _filter_query(request: HttpRequest, **extra: str) -> str:
    query = QueryDict(mutable=True)
    for name in FILTER_FIELDS:
        value = request.GET.get(name, "")
        if value:
            query[name] = value
    query.update({key: value for key, value in extra.items() if value})
    return query.urlencode()


def _detail(request: HttpRequest, account_id: str) -> user_selectors.UserDetail:
    try:
        return user_selectors.user_detail(org=request.org, account_id=account_id)
    except NotFound as exc:
        raise Http404("No such user") from exc


def _to_detail(request: HttpRequest, account_id: str) -> HttpResponse:
    return redirect("console:user_detail", org_id=request.org.org_id, account_id=account_id)


# --- the list -----------------------------------------------------------------------------------------


def _users_list(request: HttpRequest, *, nav_active: str, default_kind: str = "") -> HttpResponse:
    org = request.org
    params = request.GET.copy()
    if default_kind and "kind" not in params:
        params["kind"] = default_kind
    form = UserFilterForm(params, sites=user_selectors.sites_for_filter(org=org))
    context: dict[str, object] = {
        "form": form,
        "nav_active": nav_active,
        "title": "Managed accounts" if nav_active == "managed-accounts" else "Users",
        "bulk_form": BulkForm(),
        "selects": [form[name] for name in ("status", "kind", "site", "last_active")],
        "users_base": reverse("console:users", args=[org.org_id]),
    }
    if form.is_valid():
        try:
            page = user_selectors.users_page(
                org=org, filters=form.filters(), after=form.cleaned_data["after"] or None
            )
        except InvalidInput as exc:
            form.add_error(None, exc.message)
        else:
            filters = _filter_query(request)
            # Filtered to Invited, the invitation can be sent again (``invite.users_invitation_resend``):
            # to checked rows, external users' too, or to everyone the filter shows, on every page.
            resend = form.cleaned_data["status"] == "invited"
            shown = {name: value for name in FILTER_FIELDS if (value := form.cleaned_data.get(name))}
            context.update(
                {
                    "page": page,
                    # The bulk bar acts on the checked rows: none to check, no bar.
                    "selectable": any(
                        row.is_managed or (resend and row.status == "invited") for row in page.rows
                    ),
                    "resend": resend,
                    "filter_query": urlencode(shown),
                    "filtered": bool(filters),
                    # The shared pager keeps the filters: it rewrites only ``after``.
                    "after": form.cleaned_data["after"],
                    "next_after": page.next_cursor,
                    "back": request.get_full_path(),
                }
            )
    return render(request, "console/users/list.html", context, status=400 if form.errors else 200)


@org_admin_view
@require_GET
def users(request: HttpRequest) -> HttpResponse:
    return _users_list(request, nav_active="users")


@org_admin_view
@require_GET
def managed_accounts(request: HttpRequest) -> HttpResponse:
    return _users_list(request, nav_active="managed-accounts", default_kind="managed")


_DONE = {"deactivate": "deactivated", "sessions_end": "signed out"}
GONE_NAMED_MAX = 10  # a note names this many people, then counts the rest


def _names(targets: list[dict[str, str]]) -> str:
    named = [
        f"{t['name']} ({idn_unicode(t['email'])})" if t.get("email") else t["name"]
        for t in targets[:GONE_NAMED_MAX]
    ]
    more = len(targets) - len(named)
    return ", ".join(named) + (f" and {more} more" if more else "")


def _gone_notes(request: HttpRequest, gone_ids: list[str]) -> list[str]:
    """What became of the selected ``gone_ids``, which are not users of the org (any more).

    Only the org's audit log knows who left it: the deletion job's event says who was deleted
    (anonymised by then, so the name is the one its deletion was scheduled under), and removing an
    external user's access says who was removed. Any other id — another org's user, one that never
    existed — is only counted, in the same words whatever it is, so it confirms nothing.
    """
    if not gone_ids:
        return []
    org_id = request.org.org_id
    deleted = audit_selectors.removal_events(org_id=org_id, action="org:account:deleted", target_ids=gone_ids)
    named_when_scheduled = audit_selectors.removal_events(
        org_id=org_id, action="org:account:deletion_scheduled", target_ids=list(deleted)
    )
    left = [i for i in gone_ids if i not in deleted]
    removed = audit_selectors.removal_events(org_id=org_id, action="org:user:removed", target_ids=left)
    notes = []
    if deleted:
        targets = [(named_when_scheduled.get(i) or deleted[i]).targets[0] for i in gone_ids if i in deleted]
        notes.append(f"Deleted already: {_names(targets)}.")
    if removed:
        targets = [removed[i].targets[0] for i in left if i in removed]
        notes.append(f"Removed from {request.org.name} already: {_names(targets)}.")
    unknown = sum(1 for i in left if i not in removed)
    if unknown:
        notes.append(
            f"1 selected user is not a user of {request.org.name}."
            if unknown == 1
            else f"{unknown} selected users are not users of {request.org.name}."
        )
    return notes


def _selection(request: HttpRequest, ids: list[str], action: str) -> tuple[list, list[str], bool]:
    """The rows of ``ids`` that ``action`` can act on — managed users of the org other than the admin
    — and notes on the others: gone (``_gone_notes``), no longer managed (released when their
    domain was removed or unverified, or their claim undone, since the list was shown), or the
    admin's own account, which the services refuse. The last value says whether any of ``ids`` is
    still a user of the org."""
    rows = user_selectors.users_by_ids(org=request.org, account_ids=ids)
    found = {row.account_id for row in rows}
    notes = _gone_notes(request, [i for i in ids if i not in found])
    # An invited external user can be checked (to send the invitation again) on the list filtered
    # to Invited; anyone else not managed was managed when the list was shown.
    external = [row for row in rows if not row.is_managed and row.status == "invited"]
    released = [row for row in rows if not row.is_managed and row.status != "invited"]
    if external:
        named = _names([{"name": row.name, "email": row.email} for row in external])
        notes.append(f"Not managed by {request.org.name}, so not {_DONE[action]} here: {named}.")
    if released:
        named = _names([{"name": row.name, "email": row.email} for row in released])
        notes.append(f"No longer managed by {request.org.name}: {named}.")
    own = request.user.account_id
    if any(row.account_id == own and row.is_managed for row in rows):
        what = "deactivate" if action == "deactivate" else "sign out"
        notes.append(f"Your own account: you can't {what} it here.")
    return [row for row in rows if row.is_managed and row.account_id != own], notes, bool(rows)


@org_admin_view
@require_POST
def users_bulk(request: HttpRequest) -> HttpResponse:
    """The list's bulk form: first the confirm page, then (``confirm``) the action.

    The selection may have gone stale (another admin, a second tab, the deletion job, a domain
    released): both steps act on those selected who are still managed users of the org, and say what
    became of the others (``_selection``). The admin's own account is passed over the same way, so
    "select all" on a page that lists them still works. If none is left, nothing is changed and the
    page says so.
    """
    org = request.org
    form = BulkForm(request.POST)
    # Back to the list page the selection came from, and nowhere else (no open redirect).
    back = back_in_org(request, request.POST.get("back", "")) or reverse("console:users", args=[org.org_id])
    context: dict[str, object] = {"form": form, "nav_active": "users", "back": back}
    if not form.is_valid():
        return render(request, "console/users/bulk_confirm.html", context, status=400)
    action, ids = form.cleaned_data["action"], list(dict.fromkeys(form.account_ids))
    rows, notes, any_user = _selection(request, ids, action)
    if not form.cleaned_data["confirm"]:
        context.update({"rows": rows, "action": action, "gone": notes, "any_user": any_user})
        return render(request, "console/users/bulk_confirm.html", context)
    targets = [row.account_id for row in rows]
    try:
        if not targets:
            count = 0
        elif action == "deactivate":
            count = user_services.users_deactivate(
                org=org,
                actor=request.user,
                account_ids=targets,
                message=form.cleaned_data["message"],
                skip_gone=True,
            )
        else:
            count = user_services.users_sessions_end(
                org=org, actor=request.user, account_ids=targets, skip_gone=True
            )
    except NotFound as exc:  # the admin is no longer an admin of the org
        raise Http404() from exc
    except OrgsError as exc:
        form.add_error(None, exc.message)
        context.update({"rows": [], "action": action})
        return render(request, "console/users/bulk_confirm.html", context, status=400)
    if not targets:
        messages.info(
            request,
            f"Nothing changed: none of the selected users can be {_DONE[action]} here."
            if any_user
            else f"Nothing changed: none of the selected users is a user of {org.name} any more.",
        )
    elif action == "deactivate":
        messages.success(request, f"{count} user(s) deactivated.")
    else:
        messages.success(request, f"{count} session(s) ended.")
    for note in notes:
        messages.info(request, note)
    return redirect(back)


# --- one account --------------------------------------------------------------------------------------


@org_admin_view
@require_GET
def user_detail(request: HttpRequest, account_id: str) -> HttpResponse:
    detail = _detail(request, account_id)
    record = scim_selectors.provisioning_record(org=request.org, account=detail.account)
    context = {
        "detail": detail,
        "provisioned_by": _provisioned_by(record),
        # A reactivation here lasts until the IdP's next update, which deactivates the person again.
        "idp_says_inactive": record is not None and record.active is False,
        "nav_active": "users",
    }
    return render(request, "console/users/detail.html", context)


def _provisioned_by(record) -> str:
    """The name of the IdP directory whose SCIM ``record`` (``scim_selectors.provisioning_record``)
    provisions the account, else "": its email is that IdP's, and its updates no longer reactivate
    what an admin deactivated."""
    return record.directory.name if record is not None else ""


def _form_page(
    request: HttpRequest, account_id: str, *, form_class, template: str, initial, act
) -> HttpResponse:
    """GET shows the form, POST runs ``act(cleaned_data)`` and goes back to the account page."""
    detail = _detail(request, account_id)
    form = form_class(request.POST or None, initial=initial(detail))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                done = act(form.cleaned_data)
            except NotFound as exc:
                raise Http404("No such user") from exc
            except OrgsError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, done)
                return _to_detail(request, account_id)
        status = 400
    context = {"detail": detail, "form": form, "nav_active": "users"}
    return render(request, template, context, status=status)


@org_admin_view
@require_http_methods(["GET", "POST"])
def user_profile(request: HttpRequest, account_id: str) -> HttpResponse:
    def act(data: dict) -> str:
        user_services.user_profile_update(
            org=request.org, actor=request.user, account_id=account_id, changes=data
        )
        return "Profile saved."

    return _form_page(
        request,
        account_id,
        form_class=ProfileForm,
        template="console/users/profile.html",
        initial=lambda d: {name: getattr(d.account, name) for name in user_services.PROFILE_FIELDS},
        act=act,
    )


@org_admin_view
@require_http_methods(["GET", "POST"])
def user_email(request: HttpRequest, account_id: str) -> HttpResponse:
    def act(data: dict) -> str:
        account = user_services.user_email_change(
            org=request.org, actor=request.user, account_id=account_id, email=data["email"]
        )
        return f"Email changed to {idn_unicode(account.email)}. The person was signed out everywhere."

    return _form_page(
        request,
        account_id,
        form_class=EmailChangeForm,
        template="console/users/email.html",
        initial=lambda d: {},
        act=act,
    )


CONFIRMS = {
    "deactivate": ("Deactivate {name}?", "Deactivate", DeactivateForm),
    "deletion_schedule": ("Delete {name}?", "Schedule deletion", None),
    "sessions_end": ("Sign {name} out of all sessions?", "Sign out everywhere", None),
}


def _confirm_page(request: HttpRequest, account_id: str, which: str, act) -> HttpResponse:
    detail = _detail(request, account_id)
    title, button, form_class = CONFIRMS[which]
    form = form_class(request.POST or None) if form_class else None
    status = 200
    error = ""
    if request.method == "POST":
        if form is None or form.is_valid():
            try:
                done = act(form.cleaned_data if form else {})
            except NotFound as exc:
                raise Http404("No such user") from exc
            except OrgsError as exc:
                error = exc.message
            else:
                messages.success(request, done)
                return _to_detail(request, account_id)
        status = 400
    context = {
        "detail": detail,
        "provisioned_by": _provisioned_by(
            scim_selectors.provisioning_record(org=request.org, account=detail.account)
        ),
        "form": form,
        "error": error,
        "which": which,
        "title": title.format(name=detail.account.display_name),
        "button": button,
        "nav_active": "users",
    }
    return render(request, "console/users/confirm.html", context, status=status)


@org_admin_view
@require_http_methods(["GET", "POST"])
def user_deactivate(request: HttpRequest, account_id: str) -> HttpResponse:
    def act(data: dict) -> str:
        account = user_services.user_deactivate(
            org=request.org, actor=request.user, account_id=account_id, message=data["message"]
        )
        return f"{account.display_name} is deactivated and was signed out everywhere."

    return _confirm_page(request, account_id, "deactivate", act)


@org_admin_view
@require_http_methods(["GET", "POST"])
def user_deletion_schedule(request: HttpRequest, account_id: str) -> HttpResponse:
    def act(data: dict) -> str:
        org_user = user_services.user_deletion_schedule(
            org=request.org, actor=request.user, account_id=account_id
        )
        return (
            f"Deletion scheduled for {humanize.moment_in_full(org_user.deletion_scheduled_for)}. "
            "The account is deactivated."
        )

    return _confirm_page(request, account_id, "deletion_schedule", act)


@org_admin_view
@require_http_methods(["GET", "POST"])
def user_sessions_end(request: HttpRequest, account_id: str) -> HttpResponse:
    def act(data: dict) -> str:
        ended = user_services.user_sessions_end(org=request.org, actor=request.user, account_id=account_id)
        return f"{ended} session(s) ended."

    return _confirm_page(request, account_id, "sessions_end", act)


def _simple_post(request: HttpRequest, account_id: str, act) -> HttpResponse:
    try:
        messages.success(request, act())
    except NotFound as exc:
        raise Http404("No such user") from exc
    except OrgsError as exc:
        messages.error(request, exc.message)
    return _to_detail(request, account_id)


@org_admin_view
@require_POST
def user_reactivate(request: HttpRequest, account_id: str) -> HttpResponse:
    def act() -> str:
        account = user_services.user_reactivate(org=request.org, actor=request.user, account_id=account_id)
        return f"{account.display_name} is active again."

    return _simple_post(request, account_id, act)


@org_admin_view
@require_POST
def user_deletion_cancel(request: HttpRequest, account_id: str) -> HttpResponse:
    def act() -> str:
        user_services.user_deletion_cancel(org=request.org, actor=request.user, account_id=account_id)
        return "Deletion cancelled. The account is active again."

    return _simple_post(request, account_id, act)
