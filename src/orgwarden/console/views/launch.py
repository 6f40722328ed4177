"""Opening a product site from orgwarden (and from an IdP-initiated sign-in whose RelayState names it).

The signed-in person goes on to the site's URL when they have access to it through a group;
otherwise a clear page says so — to a user or an admin of the site's org. Anyone else gets a 404,
as for an id that never existed: another org's site is not theirs to learn of. Product sign-in
over OpenID Connect (a later capability) will make the site sign them in on arrival; until then
this is where access is checked.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.selectors import access


@login_required
def launch(request: HttpRequest, site_id: str) -> HttpResponse:
    try:
        site = access.site_to_launch(account=request.user, site_id=site_id)
    except NotFound as exc:  # not a site of the person's orgs: as unknown as an id that never was
        raise Http404("No such product site") from exc
    if access.site_role_of(site=site, account=request.user) is None:
        return render(request, "console/launch_denied.html", {"site": site}, status=403)
    return HttpResponseRedirect(site.url)
