"""What every org-scoped console page needs: the signed-in admin and the org from the URL."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import url_has_allowed_host_and_scheme

from orgwarden.audit import selectors as audit_selectors
from orgwarden.orgs import selectors
from orgwarden.orgs.exceptions import NotFound

LAST_ORG_KEY = "console_last_org"
BACK_MAX = 2000


def back_in_org(request: HttpRequest, candidate: str) -> str | None:
    """``candidate`` if it is a page of ``request.org``'s console to send the admin back to, else None.

    From a hidden ``next``/``back`` field, so anything: another host (``//evil.test``), a backslash
    that a browser reads as a slash, or a control character (a NUL would land on a 404 page, and
    the message saying what the action did would be lost with it).
    """
    if (
        len(candidate) <= BACK_MAX
        and candidate.startswith(f"/admin/o/{request.org.org_id}/")
        and "\\" not in candidate
        and not any(ch < " " or ch == "\x7f" for ch in candidate)
        and url_has_allowed_host_and_scheme(candidate, allowed_hosts=None)
    ):
        return candidate
    return None


def removed_already(request: HttpRequest, *, action: str, target_ids: Sequence[str]) -> list[dict[str, str]]:
    """For a removal that found nothing to remove: the targets (``{"id", "name", "email"?}`` each)
    of the event of ``request.org``'s audit log that removed what ``target_ids`` name, so the view
    can say it was done already — a click sent twice, a second tab. Raises ``Http404`` when the
    org's log has no such removal: an unknown id, or another org's, is a 404 that confirms nothing.
    """
    event = audit_selectors.removal_event(org_id=request.org.org_id, action=action, target_ids=target_ids)
    if event is None:
        raise Http404()
    return event.targets


def org_admin_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Resolve ``org_id`` to ``request.org`` for an admin of it; anything else is a 404."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, org_id: str, *args, **kwargs) -> HttpResponse:
        try:
            request.org = selectors.org_for_admin(account=request.user, org_id=org_id)
        except NotFound as exc:
            raise Http404("No such organization") from exc
        if request.session.get(LAST_ORG_KEY) != org_id:
            request.session[LAST_ORG_KEY] = org_id
        request.admin_orgs = list(selectors.orgs_administered_by(account=request.user))
        return view(request, *args, **kwargs)

    return wrapper
