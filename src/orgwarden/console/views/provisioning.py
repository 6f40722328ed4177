"""Security → Identity providers → User provisioning (SCIM) of one IdP directory: the SCIM base URL
and key (generated or regenerated here, shown once), counts and last sync, the provisioning log with
filters, unlinked records with a relink action, and synced groups whose name clashes with a local
group (merge or rename). Thin: parse → ``scim.services``/``scim.selectors`` → render.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from orgwarden.console.views.base import org_admin_view
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Directory
from orgwarden.scim import selectors, services
from orgwarden.scim.exceptions import ScimError
from orgwarden.sso.vendors import scim_guide

NAV = "identity-providers"
OPERATIONS = ("create", "replace", "patch", "delete", "read", "list")


def _directory(request: HttpRequest, directory_id: str) -> Directory:
    try:
        return selectors.idp_directory(org=request.org, directory_id=directory_id)
    except NotFound as exc:
        raise Http404("No such directory") from exc


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
        "vendor_name": connection.get_vendor_display() if connection else "your identity provider",
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


@org_admin_view
@require_POST
def provisioning_key(request: HttpRequest, directory_id: str) -> HttpResponse:
    directory = _directory(request, directory_id)
    key = services.scim_key_generate(org=request.org, actor=request.user, directory_id=directory.directory_id)
    return _page(request, directory, new_key=key)


def _back(request: HttpRequest, directory: Directory) -> HttpResponse:
    return redirect("console:provisioning", org_id=request.org.org_id, directory_id=directory.directory_id)


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
