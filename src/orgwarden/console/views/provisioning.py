"""Security → Identity providers → User provisioning (SCIM) of one IdP directory: the SCIM base URL
and key (generated or regenerated here, shown once), counts and last sync, the provisioning log with
filters, unlinked records with a relink action, and synced groups whose name clashes with a local
group (merge or rename). Thin: parse → ``scim.services``/``scim.selectors`` → render.

Regenerating the key asks first (``provisioning_key``); merging a clashing group asks in place.
Relinking and renaming break nothing and act at the first click.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgwarden.console.views.base import org_admin_view
from orgwarden.console.views.confirm import Confirm, confirm_page
from orgwarden.humanize import time_ago
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Directory
from orgwarden.scim import selectors, services
from orgwarden.scim.exceptions import KeyReplaced, ScimError
from orgwarden.sso.vendors import scim_guide

NAV = "identity-providers"
OPERATIONS = ("create", "replace", "patch", "delete", "read", "list")


def _directory(request: HttpRequest, directory_id: str) -> Directory:
    try:
        return selectors.idp_directory(org=request.org, directory_id=directory_id)
    except NotFound as exc:
        raise Http404("No such directory") from exc


def _vendor_name(directory: Directory) -> str:
    connection = getattr(directory, "saml_connection", None)
    return connection.get_vendor_display() if connection else "your identity provider"


def _page(
    request: HttpRequest, directory: Directory, *, new_key: str = "", status: int = 200
) -> HttpResponse:
    operation = request.GET.get("operation", "")
    operation = operation if operation in OPERATIONS else ""
    result = request.GET.get("result", "")
    result = result if result in ("ok", "error") else ""
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    unlinked_after = request.GET.get("after", "")[:254].replace("\x00", "")  # the page's one keyset list
    rows, more = selectors.log_page(directory=directory, operation=operation, result=result, page=page)
    connection = getattr(directory, "saml_connection", None)
    context = {
        "directory": directory,
        "connection": connection,
        "guide": scim_guide(connection.vendor if connection else "other"),
        "vendor_name": _vendor_name(directory),
        "base_url": request.build_absolute_uri(f"/scim/directory/{directory.directory_id}"),
        "new_key": new_key,
        "summary": selectors.summary(directory=directory),
        "log": rows,
        "operations": OPERATIONS,
        "operation": operation,
        "result": result,
        "page": page,
        "more": more,
        "unlinked_after": unlinked_after,
        "unlinked": selectors.unlinked_users(directory=directory, after=unlinked_after or None),
        "clashes": selectors.clashing_groups(directory=directory),
        "nav_active": NAV,
    }
    response = render(request, "console/provisioning/detail.html", context, status=status)
    if new_key:
        response["Cache-Control"] = "no-store"
    return response


@org_admin_view
@require_GET
def provisioning(request: HttpRequest, directory_id: str) -> HttpResponse:
    return _page(request, _directory(request, directory_id))


def _back(request: HttpRequest, directory: Directory) -> HttpResponse:
    return redirect("console:provisioning", org_id=request.org.org_id, directory_id=directory.directory_id)


def _key_confirm(request: HttpRequest, directory: Directory) -> HttpResponse:
    summary = selectors.summary(directory=directory)
    if not summary.has_key:  # nothing to replace: the page's "Generate API key" makes the first
        return _back(request, directory)
    name, vendor = directory.name, _vendor_name(directory)
    lines = [
        f"The current key ({summary.key_prefix}…) stops working at once: {name}'s user provisioning "
        f"fails — nobody is created, updated or deactivated from it — until someone pastes the new key "
        f"into {vendor}.",
        "The new key is shown once, on the next page: copy it from there.",
    ]
    if summary.last_sync_at:
        lines.insert(1, f"{name} last provisioned a change {time_ago(summary.last_sync_at, timezone.now())}.")
    confirm = Confirm(
        title=f"Regenerate the SCIM key of {name}?",
        lines=lines,
        button="Regenerate API key",
        back_url=reverse("console:provisioning", args=[request.org.org_id, directory.directory_id]),
        back_label="User provisioning",
        fields=[("replaces", summary.key_prefix)],
    )
    return confirm_page(request, confirm, nav_active=NAV)


@org_admin_view
@require_http_methods(["GET", "POST"])
def provisioning_key(request: HttpRequest, directory_id: str) -> HttpResponse:
    """Generate the directory's first SCIM key, or regenerate it; the answer shows the new key once.

    Regenerating breaks something live — the old key stops working at once, and the IdP's
    provisioning fails until someone pastes the new key into it — so it asks first: the page's
    "Regenerate API key…" link GETs this URL, a confirmation that names the directory and the key
    it replaces, and only its button POSTs. The first key breaks nothing: "Generate API key" POSTs
    straight here. Either POST names the key it replaces (``replaces``: its prefix, "" for none),
    and the service refuses a key that changed meanwhile (a confirmation sent twice, a reload of the
    page that showed the new key, a second tab): a message says so, and the key just shown stays.
    """
    directory = _directory(request, directory_id)
    if request.method == "GET":
        return _key_confirm(request, directory)
    try:
        key = services.scim_key_generate(
            org=request.org,
            actor=request.user,
            directory_id=directory.directory_id,
            replaces=request.POST.get("replaces", ""),
        )
    except NotFound as exc:  # removed meanwhile
        raise Http404("No such directory") from exc
    except KeyReplaced as exc:
        messages.error(request, exc.detail)
        return _back(request, directory)
    return _page(request, directory, new_key=key)


@org_admin_view
@require_POST
def provisioning_relink(request: HttpRequest, directory_id: str, scim_id: str) -> HttpResponse:
    directory = _directory(request, directory_id)
    try:
        user = services.scim_user_relink(
            org=request.org, actor=request.user, scim_id=scim_id, directory_id=directory.directory_id
        )
    except NotFound as exc:
        raise Http404("No such record") from exc
    except ScimError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{user.user_name} is linked to {idn_unicode(user.account.email)} again.")
    return _back(request, directory)


@org_admin_view
@require_POST
def provisioning_clash(request: HttpRequest, directory_id: str, scim_id: str) -> HttpResponse:
    directory = _directory(request, directory_id)
    try:
        group = services.scim_group_clash_resolve(
            org=request.org,
            actor=request.user,
            scim_id=scim_id,
            decision=request.POST.get("decision", ""),
            new_name=request.POST.get("new_name", "").replace("\x00", ""),
            directory_id=directory.directory_id,
        )
    except NotFound as exc:
        raise Http404("No such group") from exc
    except ScimError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{group.name} is now synced from {directory.name}.")
    return _back(request, directory)
