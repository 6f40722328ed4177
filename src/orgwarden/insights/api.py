"""``/api/admin/v1/orgs/{orgId}/insights/…`` (one endpoint per chart) and a user's last-active dates.

The same tables as the console's charts (``insights.selectors.chart``). Another org's id or account
is a 404, as everywhere in the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import AfterValidator

from orgwarden.accounts.models import Account
from orgwarden.insights import selectors
from orgwarden.orgs.api import queries
from orgwarden.orgs.api.schemas import AccountId, Error, OrgId
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import OrgUser
from orgwarden.tokens.auth import OrgApiKeyAuth

router = Router(auth=OrgApiKeyAuth(), tags=["insights"])
ERRORS: dict[frozenset, Any] = {frozenset({400, 401, 404, 429}): Error}


def _inactive_days(value: int) -> int:
    # Any other number was read as 30 without a word: a script asking for 45 got the 30-day list.
    if value not in selectors.INACTIVE_DAYS:
        raise ValueError("Use 30, 60 or 90.")
    return value


class InsightQuery(Schema):
    includeDeactivated: bool = Field(False, description="Count deactivated accounts too")
    inactiveDays: Annotated[int, AfterValidator(_inactive_days)] = Field(
        30,
        description="inactive-users only: 30, 60 or 90",
        json_schema_extra={"enum": list(selectors.INACTIVE_DAYS)},
    )


class ChartOut(Schema):
    chart: str
    title: str
    columns: list[str]
    rows: list[list[Any]]


class SiteLastActive(Schema):
    siteId: str
    siteName: str
    product: str
    lastActiveDate: str


class LastActiveOut(Schema):
    accountId: str
    lastActiveDate: str | None
    sites: list[SiteLastActive]


def _chart_endpoint(key: str):
    def endpoint(request: HttpRequest, org_id: OrgId, params: Query[InsightQuery]):
        org = queries.org_of_key(org=request.org, org_id=org_id)
        table = selectors.chart(
            org=org,
            key=key,
            include_deactivated=params.includeDeactivated,
            inactive_days=params.inactiveDays,
        )
        return {
            "chart": key,
            "title": table.title,
            "columns": list(table.columns),
            "rows": [list(r) for r in table.rows],
        }

    endpoint.__name__ = "insights_" + key.replace("-", "_")
    endpoint.__doc__ = selectors.CHARTS[key] + "."
    return endpoint


for _key in selectors.CHARTS:
    router.get(
        f"/orgs/{{orgId}}/insights/{_key}",
        response={200: ChartOut, **ERRORS},
        operation_id=f"insights_{_key}",
    )(_chart_endpoint(_key))


@router.get(
    "/orgs/{orgId}/directory/users/{accountId}/last-active-dates", response={200: LastActiveOut, **ERRORS}
)
def last_active_dates(request: HttpRequest, org_id: OrgId, account_id: AccountId):
    """The last day the user was active on each of the org's product sites."""
    org = queries.org_of_key(org=request.org, org_id=org_id)
    org_user = (
        OrgUser.objects.filter(org=org, account__account_id=account_id).select_related("account").first()
    )
    if org_user is None:
        raise NotFound()
    account: Account = org_user.account
    rows = selectors.last_active_dates(org=org, account=account)
    return {
        "accountId": account.account_id,
        "lastActiveDate": rows[0][1].isoformat() if rows else None,
        "sites": [
            {"siteId": s.site_id, "siteName": s.name, "product": s.product, "lastActiveDate": d.isoformat()}
            for s, d in rows
        ],
    }
