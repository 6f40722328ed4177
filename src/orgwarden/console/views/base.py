"""What every org-scoped console page needs: the signed-in admin and the org from the URL."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from orgwarden.orgs import selectors
from orgwarden.orgs.exceptions import NotFound

LAST_ORG_KEY = "console_last_org"


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
