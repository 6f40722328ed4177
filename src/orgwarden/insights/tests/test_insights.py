"""Insights on a seeded org with known activity: deactivated and external users, two products,
SSO/2SV mix; the console page, CSV, bulk remove-access, and the REST endpoints."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.urls import reverse

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.api.tests.helpers import api_client_for
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.insights import selectors, services
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Activity, Directory, GroupMember, OrgUser
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services.claims import account_claim

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def seeded(org_admin, other_org_admin):
    org, admin = org_admin.org, org_admin.account
    jira = s.site_add(org=org, actor=admin, product="jira-software", name="Jira", url="https://jira.example")
    wiki = s.site_add(org=org, actor=admin, product="confluence", name="Wiki", url="https://wiki.example")
    both = s.group_create(org=org, actor=admin, name="Everyone")
    s.access_grant(org=org, actor=admin, site_id=jira.site_id, group_id=both.group_id, role="user")
    s.access_grant(org=org, actor=admin, site_id=wiki.site_id, group_id=both.group_id, role="user")
    idp = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name="Okta")

    def person(email, managed=True, status=Account.Status.ACTIVE, **extra):
        account = AccountFactory(email=email, status=status, **extra)
        if managed:
            account_claim(org=org, account=account, domain=None, actor=Actor.system())
        else:
            OrgUser.objects.create(org=org, account=account, email=email)
        s.group_members_add(org=org, actor=admin, group_id=both.group_id, account_ids=[account.account_id])
        return account

    p = {
        "daily": person("daily@acme.example", totp_enabled_at=NOW),
        "sso": person("sso@acme.example"),
        "old": person("old@acme.example"),
        "never": person("never@acme.example"),
        "gone": person("gone@acme.example", status=Account.Status.DEACTIVATED),
        "ext": person("ext@partner.example", managed=False),
    }
    OrgUser.objects.filter(account=p["sso"]).update(directory=idp)

    def active(account, site, days_ago):
        day = TODAY - timedelta(days=days_ago)
        Activity.objects.create(
            org=org,
            site=site,
            account=account,
            day=day,
            signins=1,
            last_at=datetime.combine(day, datetime.min.time(), UTC),
        )

    for d in range(10):
        active(p["daily"], jira, d)
    active(p["daily"], wiki, 0)
    active(p["sso"], wiki, 1)
    active(p["ext"], jira, 0)
    active(p["gone"], jira, 0)
    active(p["old"], jira, 45)
    # Another org's activity never counts here.
    other_site = s.site_add(
        org=other_org_admin.org,
        actor=other_org_admin.account,
        product="jira-software",
        name="J",
        url="https://o.example",
    )
    Activity.objects.create(
        org=other_org_admin.org, site=other_site, account=p["daily"], day=TODAY, last_at=NOW
    )
    return org, p, jira, wiki


def test_active_users_per_day(seeded):
    org, _p, _jira, _wiki = seeded
    series = dict(selectors.active_per_day(org=org, days=30))
    assert len(series) == 30 and series[TODAY] == 2  # daily + ext; gone is deactivated
    assert series[TODAY - timedelta(days=1)] == 2  # daily + sso
    assert series[TODAY - timedelta(days=5)] == 1
    assert dict(selectors.active_per_day(org=org, days=30, include_deactivated=True))[TODAY] == 3
    assert dict(selectors.active_per_day(org=org, days=90))[TODAY - timedelta(days=45)] == 1
    assert TODAY - timedelta(days=45) not in dict(selectors.active_per_day(org=org, days=30))
    assert dict(selectors.active_per_day(org=org, days=30, product="confluence"))[TODAY] == 1
    assert selectors.active_per_product(org=org, days=30) == {"jira-software": 2, "confluence": 2}


def test_site_activity_and_inactive_lists(seeded):
    org, _p, _jira, _wiki = seeded
    rows = {site.name: (t, a, i) for site, t, a, i in selectors.site_activity(org=org)}
    assert rows == {"Jira": (5, 2, 3), "Wiki": (5, 2, 3)}
    assert [u.email for u in selectors.inactive_users(org=org, days=30)] == [
        "never@acme.example",
        "old@acme.example",
    ]
    assert [u.email for u in selectors.inactive_users(org=org, days=60)] == ["never@acme.example"]
    with_gone = [u.email for u in selectors.inactive_users(org=org, days=30, include_deactivated=True)]
    assert "gone@acme.example" not in with_gone  # active today
    assert selectors.inactive_users(org=org, days=30)[1].last_active_day == TODAY - timedelta(days=45)


def test_the_inactive_list_says_invited_as_the_users_page_does(seeded, org_admin, admin_client):
    """Someone invited who never signed in read "Active" here while Users read "Invited"."""
    from django.test import Client

    from orgwarden.orgs.selectors.users import UserFilters, users_page

    org, _p, jira, _wiki = seeded
    new = s.user_invite(org=org, actor=org_admin.account, email="new@acme.example", site_ids=[jira.site_id])
    listed = {u.email: u for u in selectors.inactive_users(org=org, days=30)}
    assert listed["new@acme.example"].status == "invited"
    assert listed["new@acme.example"].status_label == "Invited"
    assert listed["never@acme.example"].status_label == "Active"
    users = {r.email: r.status for r in users_page(org=org, filters=UserFilters(), after=None).rows}
    assert users["new@acme.example"] == "invited" and users["never@acme.example"] == "active"
    body = admin_client.get(reverse("console:insights", args=[org.org_id])).content.decode()
    row = re.search(r"<td>new@acme\.example</td>.*?</tr>", body, re.S).group(0)
    assert "<td>Invited</td>" in row
    answer = admin_client.get(reverse("console:insights_csv", args=[org.org_id, "inactive-users"]))
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert [row[3] for row in rows if row[1] == "new@acme.example"] == ["invited"]
    Client().force_login(new, backend="orgwarden.accounts.backends.AccountBackend")  # signs in
    listed = {u.email: u for u in selectors.inactive_users(org=org, days=30)}
    assert listed["new@acme.example"].status_label == "Active"


def test_authentication_domains_managed_external(seeded):
    org, _p, *_ = seeded
    auth = selectors.authentication(org=org)
    assert (auth["total"], auth["sso"], auth["two_step"], auth["neither"]) == (4, 1, 1, 2)
    assert [u.email for u in auth["neither_list"]] == ["never@acme.example", "old@acme.example"]
    assert selectors.domains_with_access(org=org) == [("acme.example", 4, 0), ("partner.example", 0, 1)]
    assert selectors.managed_vs_external(org=org) == {"managed": 4, "external": 1}
    assert selectors.managed_vs_external(org=org, include_deactivated=True) == {"managed": 5, "external": 1}


def test_every_chart_has_a_table(seeded):
    org, *_ = seeded
    for key in selectors.CHARTS:
        table = selectors.chart(org=org, key=key)
        assert table.rows and all(len(row) == len(table.columns) for row in table.rows), key
    with pytest.raises(KeyError):
        selectors.chart(org=org, key="nope")


def test_console_page_csv_and_isolation(seeded, admin_client, other_org_admin):
    org, *_ = seeded
    page = admin_client.get(reverse("console:insights", args=[org.org_id]))
    body = page.content.decode()
    assert page.status_code == 200 and body.count("<svg") >= 7
    assert "<script" not in body.split("<main", 1)[1].split("</main>", 1)[0]  # charts are SVG alone
    assert "never@acme.example" in body
    answer = admin_client.get(reverse("console:insights_csv", args=[org.org_id, "domains"]))
    assert answer["Content-Type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(answer.content.decode()))) == [
        ["domain", "managed", "external"],
        ["acme.example", "4", "0"],
        ["partner.example", "0", "1"],
    ]
    assert admin_client.get(reverse("console:insights_csv", args=[org.org_id, "nope"])).status_code == 404
    other = other_org_admin.org.org_id
    assert admin_client.get(reverse("console:insights", args=[other])).status_code == 404
    assert admin_client.get(reverse("console:insights_csv", args=[other, "domains"])).status_code == 404


def test_bulk_remove_access(seeded, org_admin, admin_client):
    org, p, *_ = seeded
    with pytest.raises(NotFound):
        services.inactive_access_remove(
            org=org, actor=org_admin.account, account_ids=["x", p["old"].account_id]
        )
    assert GroupMember.objects.filter(account=p["old"]).exists()
    url = reverse("console:insights_access_remove", args=[org.org_id])
    answer = admin_client.post(
        url, {"account_id": [p["old"].account_id, p["ext"].account_id], "confirm": "1"}
    )
    assert answer.status_code == 302
    assert not GroupMember.objects.filter(account__in=[p["old"], p["ext"]]).exists()
    assert not OrgUser.objects.filter(org=org, account=p["ext"]).exists()
    assert AuditEvent.objects.filter(action="org:user:removed").count() == 1
    assert AuditEvent.objects.filter(action="org:group:member_removed").count() == 1
    assert admin_client.post(url, {"account_id": ["nope"], "confirm": "1"}).status_code == 302


def test_bulk_remove_access_sent_twice_says_nothing_was_left(seeded, org_admin, admin_client):
    """The second answer said "removed from 1 user(s)" though it removed nothing."""
    org, p, *_ = seeded
    url = reverse("console:insights_access_remove", args=[org.org_id])
    first = admin_client.post(url, {"account_id": [p["old"].account_id], "confirm": "1"}, follow=True)
    assert "Product access removed from 1 user(s)." in first.content.decode()
    events = AuditEvent.objects.count()
    again = admin_client.post(url, {"account_id": [p["old"].account_id], "confirm": "1"}, follow=True)
    assert "no product access left to remove" in again.content.decode()
    assert AuditEvent.objects.count() == events


def test_removing_product_access_asks_first(seeded, admin_client):
    """It takes the selected people out of every group that gives access, and nothing keeps which
    ones: the report's button posts to a confirmation naming them, which changes nothing; only its
    button (sending them back with ``confirm``) removes."""
    org, p, *_ = seeded
    url = reverse("console:insights_access_remove", args=[org.org_id])
    page = admin_client.get(reverse("console:insights", args=[org.org_id])).content.decode()
    assert 'class="button-danger">Remove product access…</button>' in page
    events = AuditEvent.objects.count()

    confirm = admin_client.post(url, {"account_id": [p["old"].account_id, p["ext"].account_id]})
    text = unescape(confirm.content.decode())
    assert confirm.status_code == 200 and "Remove the product access of 2 people?" in text
    assert f"2 people lose every product site of {org.name} at once" in text
    assert f"{p['old'].email}, {p['ext'].email}." in text and "1 of them is an external user" in text
    assert GroupMember.objects.filter(account__in=[p["old"], p["ext"]]).exists()
    assert AuditEvent.objects.count() == events

    sent: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', text):
        sent.setdefault(name, []).append(value)
    assert sent["confirm"] == ["1"] and len(sent["account_id"]) == 2
    done = admin_client.post(url, sent, follow=True)
    assert "Product access removed from 2 user(s)." in done.content.decode()
    assert not GroupMember.objects.filter(account__in=[p["old"], p["ext"]]).exists()
    refused = admin_client.post(url, {"account_id": ["nope", p["old"].account_id]}, follow=True)
    assert "Select users of your organization." in refused.content.decode()


@pytest.mark.parametrize("bad", ["\x00", "a\x00b"])
def test_bulk_remove_access_with_a_nul_in_an_id_is_not_found(seeded, org_admin, admin_client, bad):
    """PostgreSQL refuses NUL in a query (was a 500 there); like any unknown id, nothing changes."""
    org, p, *_ = seeded
    with pytest.raises(NotFound):
        services.inactive_access_remove(
            org=org, actor=org_admin.account, account_ids=[p["old"].account_id, bad]
        )
    url = reverse("console:insights_access_remove", args=[org.org_id])
    for confirm in ("", "1"):  # the report's button (its confirmation) and the confirmation's
        assert admin_client.post(url, {"account_id": [bad], "confirm": confirm}).status_code == 302
    assert GroupMember.objects.filter(account=p["old"]).exists()


def test_rest_endpoints(seeded, org_admin, other_org_admin):
    org, p, _jira, _wiki = seeded
    api = api_client_for(org_admin)
    body = api.get(f"/api/admin/v1/orgs/{org.org_id}/insights/managed-vs-external").json()
    assert body["rows"] == [["Managed", 4], ["External", 1]]
    body = api.get(
        f"/api/admin/v1/orgs/{org.org_id}/insights/managed-vs-external", {"includeDeactivated": "true"}
    ).json()
    assert body["rows"][0] == ["Managed", 5]
    assert len(api.get(f"/api/admin/v1/orgs/{org.org_id}/insights/active-users-90").json()["rows"]) == 90
    last = api.get(
        f"/api/admin/v1/orgs/{org.org_id}/directory/users/{p['daily'].account_id}/last-active-dates"
    )
    assert last.json()["lastActiveDate"] == TODAY.isoformat()
    assert {s["siteName"] for s in last.json()["sites"]} == {"Jira", "Wiki"}
    never = api.get(
        f"/api/admin/v1/orgs/{org.org_id}/directory/users/{p['never'].account_id}/last-active-dates"
    )
    assert never.json() == {"accountId": p["never"].account_id, "lastActiveDate": None, "sites": []}
    outsider = AccountFactory()
    for path in (
        f"/api/admin/v1/orgs/{org.org_id}/directory/users/{outsider.account_id}/last-active-dates",
        f"/api/admin/v1/orgs/{other_org_admin.org.org_id}/insights/domains",
    ):
        answer = api.get(path)
        assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert api.get(f"/api/admin/v1/orgs/{org.org_id}/insights/nope").status_code == 404


def test_rest_inactive_days_other_than_30_60_90_are_a_400_not_the_30_day_list(org_admin):
    org = org_admin.org
    api = api_client_for(org_admin)
    url = f"/api/admin/v1/orgs/{org.org_id}/insights/inactive-users"
    sixty = api.get(url, {"inactiveDays": "60"})
    assert sixty.status_code == 200 and "60 days" in sixty.json()["title"]
    for days in ("45", "0", "-30", "9" * 30):
        answer = api.get(url, {"inactiveDays": days})
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_request", days


def test_last_active_is_per_org(seeded, other_org_admin):
    _org, p, *_ = seeded
    rows = selectors.last_active_dates(org=other_org_admin.org, account=p["daily"])
    assert [(site.name, day) for site, day in rows] == [("J", date(2026, 11, 27))]


def test_the_site_activity_chart_draws_active_and_inactive_users(seeded, admin_client):
    """Its title promises both; it drew the active users alone."""
    org, *_ = seeded
    rows = selectors.chart(org=org, key="site-activity").rows
    assert any(inactive for *_, inactive in rows)  # the seed has inactive users to draw
    body = admin_client.get(reverse("console:insights", args=[org.org_id])).content.decode()
    chart = body.split('id="chart-site-activity"', 1)[1].split("</svg>", 1)[0]
    for site, _product, _access, active, inactive in rows:
        assert f"<title>{site}: {active} active</title>" in chart
        assert f"<title>{site}: {inactive} inactive</title>" in chart
        assert f"{active} active · {inactive} inactive" in chart


def test_a_chart_with_nothing_to_draw_says_so():
    from orgwarden.insights import charts

    quiet = charts.columns([("2026-11-01", 0), ("2026-11-02", 0)], title="Active users per day")
    assert "No activity in this period." in quiet and "max" not in quiet
    busy = charts.columns([("2026-11-01", 0), ("2026-11-02", 3)], title="Active users per day")
    assert "max 3" in busy and "No activity" not in busy
    assert "No data yet." in charts.bars([], title="Users per domain")
    assert "No data yet." in charts.stacked_bars([], parts=("active", "inactive"), title="Sites")
