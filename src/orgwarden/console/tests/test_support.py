"""Support pages: the org admin's requests and conversation; the staff queue (404 for anyone else)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.api.pagination import cursor_encode
from orgwarden.support import selectors, services
from orgwarden.support.models import SupportRequest
from orgwarden.testing import browser
from orgwarden.testing.plans import plan_of

FRIDAY_EVENING = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)


@pytest.fixture
def staff_client(db):
    staff = AccountFactory(is_staff=True)
    client = Client()
    client.force_login(staff, backend="orgwarden.accounts.backends.AccountBackend")
    client.staff = staff
    return client


def raise_one(org, admin, severity="L3", summary="Jira is slow"):
    return services.support_request_raise(
        org=org, actor=admin, severity=severity, summary=summary, description="d"
    )


@pytest.mark.django_db
def test_admin_raises_and_sees_the_deadline(admin_client, org):
    url = reverse("console:support", args=[org.org_id])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "1 business day" in page.content.decode()
    with time_machine.travel(FRIDAY_EVENING, tick=False):
        answer = admin_client.post(
            url, {"severity": "L3", "summary": "Jira is slow", "description": "Since 10"}
        )
    request = SupportRequest.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("console:support_request", args=[org.org_id, request.request_id])
    detail = admin_client.get(answer["Location"]).content.decode()
    assert "Monday 30 November 2026, 18:00 UTC" in detail
    assert "Since 10" in detail


@pytest.mark.django_db
def test_bad_form_is_a_400_without_change(admin_client, org):
    answer = admin_client.post(
        reverse("console:support", args=[org.org_id]), {"severity": "L9", "summary": ""}
    )
    assert answer.status_code == 400
    assert not SupportRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="org:support_request:raised").exists()


@pytest.mark.django_db
def test_admin_comments_and_other_orgs_get_404(admin_client, org, org_admin, other_org_admin):
    ticket = raise_one(org, org_admin.account)
    url = reverse("console:support_request", args=[org.org_id, ticket.request_id])
    assert admin_client.post(url, {"body": "More detail"}).status_code == 302
    assert ticket.messages.count() == 2
    assert admin_client.post(url, {"body": ""}).status_code == 400
    other = Client()
    other.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    foreign = reverse("console:support_request", args=[other_org_admin.org.org_id, ticket.request_id])
    assert other.get(foreign).status_code == 404
    assert other.post(foreign, {"body": "x"}).status_code == 404


@pytest.mark.django_db
def test_queue_is_staff_only(admin_client, org, org_admin):
    ticket = raise_one(org, org_admin.account)
    assert admin_client.get(reverse("support:queue")).status_code == 404
    assert admin_client.post(reverse("support:resolve", args=[ticket.request_id])).status_code == 404
    assert Client().get(reverse("support:queue")).status_code == 302  # to sign-in


@pytest.mark.django_db
def test_queue_orders_by_deadline_and_highlights_the_urgent(staff_client, org, org_admin, other_org_admin):
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday
    with time_machine.travel(now, tick=False):
        low = raise_one(org, org_admin.account, "L4", "Low")
        urgent = raise_one(other_org_admin.org, other_org_admin.account, "L1", "Down")
    with time_machine.travel(now + timedelta(minutes=30), tick=False):
        page = staff_client.get(reverse("support:queue")).content.decode()
    assert page.index("Down") < page.index("Low")
    assert "deadline-at-risk" in page and "deadline-pending" in page
    with time_machine.travel(now + timedelta(hours=2), tick=False):
        assert "Overdue" in staff_client.get(reverse("support:queue")).content.decode()
    assert low.request_id in page and urgent.request_id in page


@pytest.mark.django_db
def test_staff_reply_severity_resolve(staff_client, org, org_admin, admin_client):
    with time_machine.travel(FRIDAY_EVENING, tick=False):
        ticket = raise_one(org, org_admin.account)
    detail = reverse("support:detail", args=[ticket.request_id])
    assert staff_client.get(detail).status_code == 200
    assert staff_client.post(detail, {"body": "On it"}).status_code == 302
    assert staff_client.post(detail, {"body": ""}).status_code == 400
    sev = reverse("support:severity", args=[ticket.request_id])
    assert staff_client.post(sev, {"severity": "L1"}).status_code == 302
    assert staff_client.post(sev, {"severity": "L1"}).status_code == 302  # unchanged: message, no event
    assert staff_client.post(sev, {"severity": "bad"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.severity == "L1"
    assert ticket.response_due_at == FRIDAY_EVENING + timedelta(hours=1)
    assert staff_client.post(reverse("support:resolve", args=[ticket.request_id])).status_code == 302
    assert staff_client.post(reverse("support:resolve", args=[ticket.request_id])).status_code == 302
    assert staff_client.post(reverse("support:resolve", args=["missing"])).status_code == 404
    assert (
        staff_client.post(reverse("support:severity", args=["missing"]), {"severity": "L2"}).status_code
        == 404
    )
    assert staff_client.get(reverse("support:detail", args=["missing"])).status_code == 404
    actions = AuditEvent.objects.filter(action__startswith="org:support_request").values_list(
        "action", flat=True
    )
    assert sorted(actions) == [
        "org:support_request:raised",
        "org:support_request:replied",
        "org:support_request:resolved",
        "org:support_request:severity_changed",
    ]
    conversation = admin_client.get(reverse("console:support_request", args=[org.org_id, ticket.request_id]))
    assert "On it" in conversation.content.decode()
    assert "Show resolved" in staff_client.get(reverse("support:queue")).content.decode()
    assert "Jira is slow" in staff_client.get(reverse("support:queue") + "?resolved=1").content.decode()


# --- paging ----------------------------------------------------------------------------------------------


def many(org, count, *, at, resolved=False, every=3):
    """``count`` requests of ``org``, ``every`` of them raised in the same microsecond (ties)."""
    rows = [
        SupportRequest(
            org=org,
            severity="L3",
            summary=f"Request {i}",
            status=SupportRequest.Status.RESOLVED if resolved else SupportRequest.Status.OPEN,
            created_at=at - timedelta(minutes=i // every),
            response_due_at=at + timedelta(hours=(i // every) % 5),
        )
        for i in range(count)
    ]
    return SupportRequest.objects.bulk_create(rows)


def walk(client, url, link_to) -> tuple[list[str], list[str]]:
    """Follow the "Next →" links from ``url``; the ids listed, and each page's address."""
    listed, pages = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        rows = re.findall(link_to + r"([A-Za-z0-9_-]+)/\"", body)
        assert 0 < len(rows) <= 50
        listed += rows
        pages.append(url)
        following = re.search(r'<a [^>]*href="([^"]+)" rel="next">Next →</a>', body)
        url = unescape(following.group(1)).split("#")[0] if following else ""
        if url.startswith("?"):
            url = pages[0].split("?")[0] + url
    return listed, pages


@pytest.mark.django_db
def test_the_orgs_requests_are_paged_newest_first_each_once(admin_client, org, other_org_admin):
    """Every request was on one page: thousands made it slow and huge."""
    at = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    mine = many(org, 120, at=at)
    many(other_org_admin.org, 10, at=at)
    url = reverse("console:support", args=[org.org_id])
    listed, pages = walk(admin_client, url, f"/admin/o/{org.org_id}/support/")
    newest_first = sorted(mine, key=lambda r: (r.created_at, r.request_id), reverse=True)
    assert listed == [r.request_id for r in newest_first] and len(pages) == 3  # 50, 50 and 20
    first, last = (admin_client.get(page).content.decode() for page in (pages[0], pages[-1]))
    assert "← First page" in last and "Next →" not in last
    assert "← First page" not in first and "Next →" in first


@pytest.mark.django_db
@pytest.mark.parametrize(
    "after",
    [
        "garbage",
        "a\x00b",
        "x" * 5000,
        cursor_encode(["2026-11-25T10:00:00", "abc"]),  # no time zone
        cursor_encode(["0001-01-01T00:00:00+14:00", "abc"]),  # before year 1 in UTC
        cursor_encode(["2026-11-25T10:00:00+00:00", ""]),
        cursor_encode(["2026-11-25T10:00:00+00:00", "abc", "more"]),
        cursor_encode([1, "abc"]),
    ],
)
def test_a_page_link_that_is_not_ours_is_a_400_with_a_way_back(admin_client, staff_client, org, after):
    many(org, 3, at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    console = admin_client.get(reverse("console:support", args=[org.org_id]), {"after": after})
    queue = staff_client.get(reverse("support:queue"), {"resolved": "1", "after": after})
    for response in (console, queue):
        assert response.status_code == 400
        body = unescape(response.content.decode())
        assert "That page link is not valid. Start again from the first page." in body
        assert "Request 0" not in body
    assert 'href="?resolved=1">First page</a>' in queue.content.decode()


@pytest.mark.django_db
def test_the_queue_is_paged_by_deadline_and_keeps_show_resolved(staff_client, org, other_org_admin):
    at = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    open_ones = many(org, 40, at=at) + many(other_org_admin.org, 40, at=at)
    resolved = many(org, 30, at=at, resolved=True)
    by_deadline = sorted(open_ones, key=lambda r: (r.response_due_at, r.created_at, r.request_id))
    listed, pages = walk(staff_client, reverse("support:queue"), "/support/")
    assert listed == [r.request_id for r in by_deadline] and len(pages) == 2
    everything = sorted(open_ones + resolved, key=lambda r: (r.response_due_at, r.created_at, r.request_id))
    listed, pages = walk(staff_client, reverse("support:queue") + "?resolved=1", "/support/")
    assert listed == [r.request_id for r in everything] and len(pages) == 3
    assert all("resolved=1" in page for page in pages)


@pytest.mark.django_db
def test_a_page_of_the_orgs_requests_reads_along_the_orgs_index(org):
    """A later page starts where the last one ended, on ``(org, -created_at)``: no OFFSET, no sort of
    every request the org ever raised (only ties of one microsecond are ordered by id)."""
    many(org, 60, at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    after = selectors.requests_page(org=org).next_after
    with CaptureQueriesContext(connection) as queries:
        assert len(selectors.requests_page(org=org, after=after).items) == 10
    [sql] = [q["sql"] for q in queries if 'FROM "support_supportrequest"' in q["sql"]]
    with transaction.atomic():
        plan = plan_of(sql)
    assert "support_sup_org_id_457a09_idx" in plan, plan
    assert "SCAN support_supportrequest" not in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_paging_through_the_orgs_requests_in_a_browser(new_page, org_admin, org, password):
    from playwright.sync_api import expect

    many(org, 51, at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC), every=1)
    page = new_page()
    browser.sign_in(page, org_admin.account.email, password)
    page.goto(reverse("console:support", args=[org.org_id]))
    requests = page.get_by_role("table").filter(has_text="First response due").last
    expect(requests.get_by_role("link", name="Request 0", exact=True)).to_be_visible()
    expect(requests.get_by_role("link", name="Request 50", exact=True)).to_have_count(0)
    page.get_by_role("link", name="Next →").click()
    expect(requests.get_by_role("link", name="Request 50", exact=True)).to_be_visible()
    expect(requests.get_by_role("row")).to_have_count(2)  # the header and the oldest request
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)
    page.get_by_role("link", name="← First page").click()
    expect(requests.get_by_role("link", name="Request 0", exact=True)).to_be_visible()
