"""Security → Insights: who uses which product and how people sign in, each chart with its table
and a CSV download; the inactive-users report with bulk remove-access (deactivate goes through the
Users page's bulk action).

Removing access takes the selected people out of every group that gives product access (and an
external user out of the org's users): nothing remembers which groups those were, so it asks
first — the report's button posts the selection to a confirmation, whose button sends it back
with ``confirm``.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from orgwarden.console.views.base import org_admin_view
from orgwarden.console.views.confirm import CONFIRMED, Confirm, confirm_page, confirmed
from orgwarden.humanize import people
from orgwarden.idn import idn_unicode
from orgwarden.insights import charts, selectors, services
from orgwarden.orgs.exceptions import NotFound, OrgsError


def _include_deactivated(request: HttpRequest) -> bool:
    return request.GET.get("deactivated") == "include"


def _inactive_days(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("inactive", "30"))
    except ValueError:
        return 30
    return days if days in selectors.INACTIVE_DAYS else 30


@org_admin_view
@require_GET
def insights(request: HttpRequest) -> HttpResponse:
    include = _include_deactivated(request)
    days = _inactive_days(request)
    shown = selectors.page(org=request.org, include_deactivated=include, inactive_days=days)
    tables = shown.tables
    svg = {
        "active-users-30": charts.columns(
            tables["active-users-30"].rows, title=tables["active-users-30"].title
        ),
        "active-users-90": charts.columns(
            tables["active-users-90"].rows, title=tables["active-users-90"].title
        ),
    }
    for key in ("active-users-by-product", "authentication", "managed-vs-external"):
        svg[key] = charts.bars(tables[key].rows, title=tables[key].title)
    svg["site-activity"] = charts.stacked_bars(
        [
            (site, (active, inactive))
            for site, _product, _access, active, inactive in tables["site-activity"].rows
        ],
        parts=("active", "inactive"),
        title=tables["site-activity"].title,
    )
    svg["domains"] = charts.bars(
        [(r[0], r[1] + r[2]) for r in tables["domains"].rows[:10]], title="Users per domain"
    )
    return render(
        request,
        "console/insights/insights.html",
        {
            # The SVG strings escape every label (insights/charts.py).
            "sections": [
                {"key": key, "table": tables[key], "chart": mark_safe(svg[key])}  # noqa: S308
                for key in selectors.PAGE_CHARTS
            ],
            "auth": shown.authentication,
            "inactive": shown.inactive,
            # Nobody to be inactive: the empty list must not say "everyone has been active".
            "with_access": sum(users for _kind, users in tables["managed-vs-external"].rows),
            "inactive_days": days,
            "inactive_choices": selectors.INACTIVE_DAYS,
            "include_deactivated": include,
            "query": request.GET.urlencode(),
            "nav_active": "insights",
        },
    )


@org_admin_view
@require_GET
def insights_csv(request: HttpRequest, chart: str) -> HttpResponse:
    if chart not in selectors.CHARTS:
        raise Http404()
    table = selectors.chart(
        org=request.org,
        key=chart,
        include_deactivated=_include_deactivated(request),
        inactive_days=_inactive_days(request),
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{chart}.csv"'
    writer = csv.writer(response)
    writer.writerow(table.columns)
    for row in table.rows:
        # A cell starting with = + - @ would be a formula in a spreadsheet: prefix it.
        writer.writerow(["'" + c if isinstance(c, str) and c[:1] in "=+-@" else c for c in row])
    return response


def _remove_confirm(request: HttpRequest, ids: list[str]) -> HttpResponse:
    back = reverse("console:insights", args=[request.org.org_id]) + "#inactive-users"
    if len(ids) > services.BULK_MAX:
        messages.error(request, f"Select at most {services.BULK_MAX} users at a time.")
        return redirect(back)
    try:
        users = selectors.users_chosen(org=request.org, account_ids=ids)
    except NotFound:
        messages.error(request, "Select users of your organization.")
        return redirect(back)
    n, external = len(users), sum(not u.is_managed for u in users)
    named = ", ".join(idn_unicode(u.email) for u in users[:10]) + (f" and {n - 10} more" if n > 10 else "")
    verb = "loses" if n == 1 else "lose"
    lines = [
        f"{people(n)} {verb} every product site of {request.org.name} at once, leaving each group that "
        f"gives access to one: {named}."
    ]
    if external:
        are = "is an external user" if external == 1 else "are external users"
        lines.append(f"{external} of them {are}: they leave all of {request.org.name}'s groups and users.")
    lines.append("Nothing keeps which groups those were: giving the access back means adding them again.")
    confirm = Confirm(
        title=f"Remove the product access of {people(n)}?",
        lines=lines,
        button="Remove product access",
        back_url=back,
        back_label="Insights",
        action=reverse("console:insights_access_remove", args=[request.org.org_id]),
        fields=[(CONFIRMED, "1"), *(("account_id", u.account.account_id) for u in users)],
    )
    return confirm_page(request, confirm, nav_active="insights")


@org_admin_view
@require_POST
def inactive_access_remove(request: HttpRequest) -> HttpResponse:
    """Remove the selected people's product access: without ``confirm`` (the report's button) the
    confirmation, which changes nothing; with it (the confirmation's button) the removal."""
    ids = request.POST.getlist("account_id")
    if not confirmed(request):
        return _remove_confirm(request, ids)
    try:
        count = services.inactive_access_remove(org=request.org, actor=request.user, account_ids=ids)
    except NotFound:
        messages.error(request, "Select users of your organization.")
    except (OrgsError, ValueError) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
    else:
        if count:
            messages.success(request, f"Product access removed from {count} user(s).")
        else:
            messages.success(request, "The selected users have no product access left to remove.")
    return redirect("console:insights", request.org.org_id)
