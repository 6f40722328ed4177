"""Security → Audit log: filters, keyset paging, the detail panel, tenant isolation and the CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import transaction
from django.http import StreamingHttpResponse
from django.urls import reverse

from orgwarden.accounts import services as account_services
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.ids import new_ulid
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs import services as org_services
from orgwarden.orgs.tests.factories import OrgAdminFactory

pytestmark = pytest.mark.django_db


def get_log(client, org, **params):
    return client.get(reverse("console:audit_log", args=[org.org_id]), params)


def get_export(client, org, **params):
    return client.get(reverse("console:audit_export", args=[org.org_id]), params)


def shown(response) -> list[str]:
    return [event.id for event in response.context["page"].events]


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def bulk_events(org, n: int) -> list[str]:
    now = datetime.now(UTC)
    events = [
        AuditEvent(
            id=new_ulid(now),
            org_id=org.org_id,
            occurred_at=now,
            action="org:renamed",
            actor_type="system",
            actor_name="orgwarden",
            details={"n": i},
        )
        for i in range(n)
    ]
    AuditEvent.objects.bulk_create(events, batch_size=500)
    return sorted((e.id for e in events), reverse=True)


@pytest.fixture
def renamed(org, org_admin):
    org_services.org_rename(org=org, actor=org_admin.account, name="Renamed Co")
    return AuditEvent.objects.get(action="org:renamed", org_id=org.org_id)


@pytest.fixture
def invited(org, org_admin):
    org_services.admin_invite(org=org, actor=org_admin.account, email="carol@example.com")
    return AuditEvent.objects.get(action="org:admin:invited", org_id=org.org_id)


def test_page_lists_the_orgs_events(admin_client, org, renamed, invited):
    response = get_log(admin_client, org)
    assert response.status_code == 200
    assert response.context["nav_active"] == "audit-log"
    assert set(shown(response)) == {renamed.id, invited.id}
    html = response.content.decode()
    assert "Organization renamed" in html and "Admin invited" in html
    assert "carol@example.com" in html  # target name
    assert '<optgroup label="Administrators">' in html
    assert 'aria-current="page"' in html


def test_anonymous_is_sent_to_sign_in(client, org):
    response = get_log(client, org)
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category": "Organization"}, {"renamed"}),
        ({"category": "Administrators"}, {"invited"}),
        ({"action": "org:admin:invited"}, {"invited"}),
        ({"category": "Administrators", "action": "org:admin:invited"}, {"invited"}),
        ({"q": "CAROL"}, {"invited"}),
        ({"q": "renamed co"}, {"renamed", "invited"}),  # both name the org as a target
        ({"q": "nobody-at-all"}, set()),
    ],
)
def test_filters(admin_client, org, renamed, invited, params, expected):
    names = {"renamed": renamed.id, "invited": invited.id}
    response = get_log(admin_client, org, **params)
    assert response.status_code == 200
    assert set(shown(response)) == {names[n] for n in expected}


def test_actor_filter_by_email_or_account_id(admin_client, org, org_admin, renamed):
    helper = OrgAdminFactory(org=org).account
    org_services.org_rename(org=org, actor=helper, name="Helper Co")
    by_helper = AuditEvent.objects.get(org_id=org.org_id, actor_id=helper.account_id)
    assert shown(get_log(admin_client, org, actor=org_admin.account.email)) == [renamed.id]
    assert shown(get_log(admin_client, org, actor=helper.account_id)) == [by_helper.id]
    assert shown(get_log(admin_client, org, actor="nobody@example.com")) == []


def test_date_range_filter(admin_client, org, org_admin):
    for day, name in ((1, "One"), (2, "Two"), (3, "Three")):
        with time_machine.travel(datetime(2026, 5, day, 12, tzinfo=UTC), tick=False):
            org_services.org_rename(org=org, actor=org_admin.account, name=name)
    response = get_log(admin_client, org, date_from="2026-05-02", date_to="2026-05-02")
    [event] = response.context["page"].events
    assert event.details["to"] == "Two"
    response = get_log(admin_client, org, date_from="2026-05-02")
    assert [e.details["to"] for e in response.context["page"].events] == ["Three", "Two"]


def test_a_date_range_to_the_ends_of_the_calendar_lists_everything(admin_client, org, renamed, invited):
    # 9999-12-31 (the last day a date can hold; +1 day overflowed into a 500) and a start before
    # 1970 (when event ids begin; it compared against a malformed id and found nothing).
    response = get_log(admin_client, org, date_from="0001-01-01", date_to="9999-12-31")
    assert response.status_code == 200
    assert {e.id for e in response.context["page"].events} >= {renamed.id, invited.id}
    export = get_export(admin_client, org, date_to="9999-12-31")
    assert export.status_code == 200 and len(csv_rows(export)) > 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "yesterday"}, "Enter a valid date"),
        ({"date_from": "2026-05-03", "date_to": "2026-05-01"}, "The end date is before the start date"),
        ({"category": "Nonsense"}, "Select a valid choice"),
        ({"action": "org:nonsense"}, "Select a valid choice"),
        ({"category": "Organization", "action": "org:admin:invited"}, "is not in Organization"),
        ({"q": "x" * 201}, "at most 200 characters"),
        ({"before": "not-a-cursor"}, "That page link is not valid"),
        ({"after": "8" * 26}, "That page link is not valid"),
        ({"before": "0" * 26, "after": "0" * 26}, "cannot go both ways"),
        ({"q": "a\x00b"}, "Null characters are not allowed"),
        ({"actor": "\x00"}, "Null characters are not allowed"),
        ({"before": "0" * 25 + "\x00"}, "Null characters are not allowed"),
    ],
)
def test_bad_filters_are_a_400_with_a_message(admin_client, org, params, message):
    response = get_log(admin_client, org, **params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "Fix the filters above" in response.content.decode()
    assert get_export(admin_client, org, **params).status_code == 400
    assert not AuditEvent.objects.filter(action="org:audit:exported").exists()


def test_keyset_paging_keeps_filters_and_has_no_overlap(admin_client, org):
    expected = bulk_events(org, 75)
    first = get_log(admin_client, org, category="Organization")
    assert shown(first) == expected[:50]
    older = first.context["older_link"]
    assert "category=Organization" in older and f"before={expected[49]}" in older
    assert first.context["newer_link"] == ""
    assert 'rel="next"' in first.content.decode()

    second = admin_client.get(reverse("console:audit_log", args=[org.org_id]) + older)
    assert second.status_code == 200
    assert shown(second) == expected[50:]
    assert not set(shown(first)) & set(shown(second))
    assert second.context["older_link"] == ""

    back = admin_client.get(reverse("console:audit_log", args=[org.org_id]) + second.context["newer_link"])
    assert shown(back) == expected[:50]


def test_detail_panel_shows_the_whole_event(admin_client, org, renamed, invited):
    response = get_log(admin_client, org, event=invited.id, q="carol")
    assert response.status_code == 200
    assert response.context["selected"] == invited
    data = json.loads(response.context["selected_json"])
    assert data["action"] == {"key": "org:admin:invited", "name": "Admin invited"}
    assert data["category"] == "Administrators"
    assert data["details"]["email"] == "carol@example.com"
    html = response.content.decode()
    assert 'class="split"' in html and '<pre class="json">' in html
    assert f"?q=carol&amp;event={invited.id}" in html  # row links keep the filters


def test_detail_of_an_event_the_org_may_not_see_is_a_404(admin_client, org, other_org_admin):
    org_services.org_rename(org=other_org_admin.org, actor=other_org_admin.account, name="Theirs")
    theirs = AuditEvent.objects.get(org_id=other_org_admin.org.org_id, action="org:renamed")
    assert get_log(admin_client, org, event=theirs.id).status_code == 404
    assert get_log(admin_client, org, event="garbage").status_code == 404
    assert get_log(admin_client, org, event="0" * 25 + "\x00").status_code == 404
    assert get_log(admin_client, org, event=new_ulid()).status_code == 404


def test_another_orgs_page_and_export_are_404(admin_client, other_org_admin):
    other = other_org_admin.org
    assert get_log(admin_client, other).status_code == 404
    assert get_export(admin_client, other).status_code == 404
    assert not AuditEvent.objects.filter(action="org:audit:exported").exists()


def test_admins_sign_ins_appear_but_strangers_do_not(admin_client, org, org_admin, other_org_admin):
    fellow = OrgAdminFactory(org=org).account
    stranger = AccountFactory()
    account_services.signin_success_record(account=org_admin.account, method="password")
    account_services.signin_success_record(account=fellow, method="password")
    account_services.signin_success_record(account=stranger, method="password")
    account_services.signin_success_record(account=other_org_admin.account, method="password")
    account_services.signout_record(account=fellow)

    response = get_log(admin_client, org, category="Sign-in and sessions")
    actors = [(e.actor_id, e.action) for e in response.context["page"].events]
    assert sorted(actors) == sorted(
        [
            (org_admin.account.account_id, "account:signin:succeeded"),
            (fellow.account_id, "account:signin:succeeded"),
            (fellow.account_id, "account:signout"),
        ]
    )
    strangers_event = AuditEvent.objects.get(actor_id=stranger.account_id)
    assert get_log(admin_client, org, event=strangers_event.id).status_code == 404


def test_export_is_a_csv_of_the_filtered_events(admin_client, org, renamed, invited):
    response = get_export(admin_client, org, category="Administrators")
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and org.org_id in disposition
    assert datetime.now(UTC).strftime("%Y-%m-%d") in disposition
    header, *rows = csv_rows(response)
    assert header == [
        "id",
        "time",
        "action",
        "action name",
        "category",
        "actor type",
        "actor id",
        "actor name",
        "actor email",
        "targets",
        "ip",
        "user agent",
        "details",
    ]
    assert [row[0] for row in rows] == [invited.id]
    row = dict(zip(header, rows[0], strict=True))
    assert row["action name"] == "Admin invited" and row["category"] == "Administrators"
    assert row["time"].endswith("Z") and row["time"].startswith(invited.occurred_at.strftime("%Y-%m-%d"))
    assert json.loads(row["targets"])[1]["email"] == "carol@example.com"
    assert json.loads(row["details"])["email"] == "carol@example.com"


def test_export_is_audited_before_streaming(admin_client, org, org_admin):
    response = get_export(admin_client, org, q="ann", date_from="2026-01-01")
    event = AuditEvent.objects.get(action="org:audit:exported")
    assert event.org_id == org.org_id and event.actor_id == org_admin.account.account_id
    assert event.details["filters"] == {"q": "ann", "date_from": "2026-01-01"}
    b"".join(response.streaming_content)


def test_export_neutralises_formulas(admin_client, org, org_admin):
    with transaction.atomic():
        event_record(
            action="org:renamed",
            actor=Actor("account", org_admin.account.account_id, '=HYPERLINK("http://x")', "+1@x.test"),
            org_id=org.org_id,
            targets=[Target("org", org.org_id, "@SUM(A1)")],
            details={"to": "-2+3"},
        )
    _header, *rows = csv_rows(get_export(admin_client, org, action="org:renamed"))
    cells = [cell for row in rows for cell in row]
    assert '\'=HYPERLINK("http://x")' in cells
    assert "'+1@x.test" in cells
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in cells)


def test_export_streams_every_row_in_chunks(admin_client, org):
    expected = bulk_events(org, 2150)
    response = get_export(admin_client, org, category="Organization")
    assert isinstance(response, StreamingHttpResponse)
    header, *rows = csv_rows(response)
    assert header[0] == "id"
    assert [row[0] for row in rows] == expected
