"""Users, filtered to Invited → Resend invitation: to the people checked, or to everyone on the
filter, through a confirm page that names them; and a cap on first invitations per org, as the
invite page's own error.

Before: the invitation went again one person at a time, from each person's page; an external user
could not even be checked on the list. And an admin (or a stolen session) could invite new
addresses without any limit per hour.
"""

from __future__ import annotations

import re
import uuid

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from orgwarden.accounts import throttle
from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import OrgUser
from orgwarden.orgs.selectors import users as user_selectors
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services import invitation_limits
from orgwarden.testing import browser

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^/\s]+(/login/link/\S+)")
HOUR = "2026-05-04T10:30:30Z"  # half a minute into the window's second half: "Wait 30 minutes"


@pytest.fixture
def invite(org, admin, jira, django_capture_on_commit_callbacks):
    def make(email: str) -> Account:
        with django_capture_on_commit_callbacks(execute=True):
            return s.user_invite(org=org, actor=admin, email=email, site_ids=[jira.site_id])

    return make


def users_url(org, **query) -> str:
    url = reverse("console:users", args=[org.org_id])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def resend_url(org) -> str:
    return reverse("console:users_invitation_resend", args=[org.org_id])


def token_of(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def post(client: Client, org, data: dict, capture):
    back = users_url(org, status="invited")
    with capture(execute=True):
        return client.post(
            resend_url(org), {"csrfmiddlewaretoken": token_of(client, back), "back": back, **data}
        )


def sent_to(mailoutbox, email: str) -> int:
    return sum(1 for m in mailoutbox if m.to == [email])


# --- the list ---------------------------------------------------------------------------------------


def test_only_the_invited_filter_offers_it_and_lets_external_users_be_checked(admin_client, org, invite):
    dana = invite("dana@partner.test")
    invited = admin_client.get(users_url(org, status="invited")).content.decode()
    assert f'id="select-{dana.account_id}"' in invited  # an external user, checked to send it again
    assert ">Resend invitation to the selected…</button>" in invited
    assert 'name="scope" value="filter">Resend to everyone on this filter…</button>' in invited
    assert 'name="filter" value="status=invited"' in invited

    anyone = admin_client.get(users_url(org)).content.decode()
    assert (
        "Resend invitation to the selected" not in anyone and f'id="select-{dana.account_id}"' not in anyone
    )


# --- checked people ---------------------------------------------------------------------------------


def test_the_checked_people_are_named_then_sent_it_again(
    csrf_client, org, invite, mailoutbox, django_capture_on_commit_callbacks
):
    dana, eli, fay = invite("dana@partner.test"), invite("eli@partner.test"), invite("fay@partner.test")
    capture = django_capture_on_commit_callbacks
    asked = post(csrf_client, org, {"account_id": [dana.account_id, eli.account_id]}, capture)
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "Send the invitation again to 2 people?" in page
    assert "dana@partner.test" in page and "eli@partner.test" in page and "fay@partner.test" not in page
    assert len(mailoutbox) == 3  # asking sends nothing

    done = post(csrf_client, org, {"account_id": [dana.account_id, eli.account_id], "confirm": "1"}, capture)
    assert done.status_code == 302 and done["Location"] == users_url(org, status="invited")
    assert [m.to for m in mailoutbox[3:]] == [["dana@partner.test"], ["eli@partner.test"]]
    listed = csrf_client.get(done["Location"]).content.decode()
    assert "Invitation sent again to 2 people: dana@partner.test and eli@partner.test." in listed
    assert listed.count('<span class="badge">Invited</span>') == 3  # still waiting, all three
    events = AuditEvent.objects.filter(action="org:user:invitation_resent", actor_type="account")
    assert sorted(e.targets[0]["id"] for e in events) == sorted([dana.account_id, eli.account_id])
    assert fay.pk and sent_to(mailoutbox, "fay@partner.test") == 1


def test_no_csrf_token_sends_nothing(org_admin, org, invite, mailoutbox):
    dana = invite("dana@partner.test")
    client = Client(enforce_csrf_checks=True)
    client.force_login(org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    response = client.post(resend_url(org), {"account_id": [dana.account_id], "confirm": "1"})
    assert response.status_code == 403 and len(mailoutbox) == 1


def test_whom_it_cannot_go_to_is_named_before_and_after(
    csrf_client, org, invite, mailoutbox, django_capture_on_commit_callbacks
):
    dana, eli = invite("dana@partner.test"), invite("eli@partner.test")
    ids = {"account_id": [dana.account_id, eli.account_id]}
    assert Client().post(LINK.search(mailoutbox[0].body).group(1)).status_code == 302  # dana signs in
    why = "dana@partner.test has signed in since the invitation: there is no invitation to send again."
    page = post(csrf_client, org, ids, django_capture_on_commit_callbacks).content.decode()
    assert "Send the invitation again to 1 person?" in page and "Left out:" in page and why in page

    done = post(csrf_client, org, {**ids, "confirm": "1"}, django_capture_on_commit_callbacks)
    listed = csrf_client.get(done["Location"]).content.decode()
    assert "Invitation sent again to 1 person: eli@partner.test." in listed
    assert f"Not sent: {why}" in listed
    assert sent_to(mailoutbox, "dana@partner.test") == 1 and sent_to(mailoutbox, "eli@partner.test") == 2


def test_too_many_is_a_form_error_and_nobody_is_sent_it(
    csrf_client, org, invite, mailoutbox, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    with time_machine.travel(HOUR, tick=False):
        dana, eli = invite("dana@partner.test"), invite("eli@partner.test")
        post(csrf_client, org, {"account_id": [dana.account_id], "confirm": "1"}, capture)
        post(csrf_client, org, {"account_id": [dana.account_id], "confirm": "1"}, capture)  # dana: 3
        events, sent = AuditEvent.objects.count(), len(mailoutbox)
        refused = post(
            csrf_client, org, {"account_id": [eli.account_id, dana.account_id], "confirm": "1"}, capture
        )
    assert refused.status_code == 400
    page = refused.content.decode()
    assert (
        "Too many invitation emails to dana@partner.test: no invitation was sent. Wait 30 minutes, then try "
        "again, or send it to the others without this address now." in page
    )
    # Still the confirm page, naming both: the admin can take dana out or come back later.
    assert "Send the invitation again to 2 people?" in page
    assert len(mailoutbox) == sent and AuditEvent.objects.count() == events


def test_another_orgs_people_are_passed_over_confirming_nothing(
    csrf_client, org, invite, other_org_admin, mailoutbox, django_capture_on_commit_callbacks
):
    dana = invite("dana@partner.test")
    theirs = AccountFactory(email="theirs@other.test")
    OrgUser.objects.create(org=other_org_admin.org, account=theirs, email=theirs.email)
    ids = {"account_id": [theirs.account_id, dana.account_id]}
    page = post(csrf_client, org, ids, django_capture_on_commit_callbacks).content.decode()
    assert f"1 selected user is not a user of {org.name}." in page and "theirs@other.test" not in page
    done = post(csrf_client, org, {**ids, "confirm": "1"}, django_capture_on_commit_callbacks)
    assert done.status_code == 302
    assert sent_to(mailoutbox, "theirs@other.test") == 0 and sent_to(mailoutbox, "dana@partner.test") == 2

    # Another org's admin: the org is a 404. A GET is not how it is sent.
    client = Client()
    client.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    assert client.post(resend_url(org), {"account_id": [dana.account_id], "confirm": "1"}).status_code == 404
    assert csrf_client.get(resend_url(org)).status_code == 405
    assert sent_to(mailoutbox, "dana@partner.test") == 2


def test_nobody_selected_or_a_bad_form_is_a_400(csrf_client, org, django_capture_on_commit_callbacks):
    for data in ({}, {"scope": "everyone"}, {"account_id": [f"x{i}" for i in range(501)]}):
        response = post(csrf_client, org, data, django_capture_on_commit_callbacks)
        assert response.status_code == 400
        assert 'role="alert"' in response.content.decode()


# --- everyone on the filter -------------------------------------------------------------------------


def test_everyone_on_the_filter_is_named_then_sent_it(
    csrf_client, org, admin, invite, mailoutbox, django_capture_on_commit_callbacks
):
    wiki = s.site_add(
        org=org, actor=admin, product="confluence", name="Acme Wiki", url="https://wiki.acme.test"
    )
    dana, eli = invite("dana@partner.test"), invite("eli@partner.test")
    with django_capture_on_commit_callbacks(execute=True):
        gus = s.user_invite(org=org, actor=admin, email="gus@partner.test", site_ids=[wiki.site_id])
    capture = django_capture_on_commit_callbacks
    everyone = post(
        csrf_client, org, {"scope": "filter", "filter": "status=invited"}, capture
    ).content.decode()
    assert "Send the invitation again to 3 people?" in everyone
    assert all(a.email in everyone for a in (dana, eli, gus))

    # Narrowed to one product site: those with access to it.
    narrowed = {"scope": "filter", "filter": f"status=invited&site={wiki.site_id}"}
    page = post(csrf_client, org, narrowed, capture).content.decode()
    assert "Send the invitation again to 1 person?" in page and "gus@partner.test" in page
    assert "dana@partner.test" not in page
    # The confirm page's button sends to exactly whom it named.
    ids = re.findall(r'name="account_id" value="([^"]+)"', page)
    assert ids == [gus.account_id]
    post(csrf_client, org, {"account_id": ids, "confirm": "1"}, capture)
    assert [m.to for m in mailoutbox[3:]] == [["gus@partner.test"]]


def test_a_filter_that_is_not_invited_or_not_valid_sends_nothing(
    csrf_client, org, invite, mailoutbox, django_capture_on_commit_callbacks
):
    invite("dana@partner.test")
    capture = django_capture_on_commit_callbacks
    for query, words in (
        ("status=active", "Filter the list to Invited people first."),
        ("", "Filter the list to Invited people first."),
        ("status=invited&last_active=yesterday", "That filter is not valid any more. Filter the list again."),
        ("status=invited&site=nope", "That filter is not valid any more. Filter the list again."),
    ):
        response = post(csrf_client, org, {"scope": "filter", "filter": query, "confirm": "1"}, capture)
        assert response.status_code == 400 and words in response.content.decode(), query
    assert len(mailoutbox) == 1


def test_more_on_the_filter_than_an_hour_allows_is_refused_before_anything_is_sent(
    csrf_client, org, invite, resends_per_sender, mailoutbox, django_capture_on_commit_callbacks
):
    resends_per_sender(2)
    people = [invite(f"p{i}@partner.test") for i in range(3)]
    capture = django_capture_on_commit_callbacks
    response = post(
        csrf_client, org, {"scope": "filter", "filter": "status=invited", "confirm": "1"}, capture
    )
    assert response.status_code == 400
    assert (
        "More than 2 people match this filter, and one admin can send at most 2 invitations again an hour. "
        "Narrow the filter (a product site, the type, a search), or select people on the list."
    ) in response.content.decode()
    selected = {"account_id": [p.account_id for p in people], "confirm": "1"}
    response = post(csrf_client, org, selected, capture)
    assert response.status_code == 400
    assert "3 people are selected, and one admin can send at most 2 invitations again an hour." in (
        response.content.decode()
    )
    assert len(mailoutbox) == 3


def test_everyone_on_a_filter_reads_every_page(org, invite, monkeypatch):
    people = [invite(f"p{i}@partner.test") for i in range(5)]
    monkeypatch.setattr(user_selectors, "PAGE_SIZE_MAX", 2)  # pages of 2
    filters = user_selectors.UserFilters(status="invited")
    rows = user_selectors.users_matching(org=org, filters=filters, most=10)
    assert [r.account_id for r in rows] == [p.account_id for p in people]
    assert len(user_selectors.users_matching(org=org, filters=filters, most=3)) == 3


# --- the other bulk actions, with an external user checked ---------------------------------------------


def test_deactivating_with_an_external_user_checked_says_why_they_were_left_out(admin_client, org, invite):
    dana = invite("dana@partner.test")
    response = admin_client.post(
        reverse("console:users_bulk", args=[org.org_id]),
        {"action": "deactivate", "account_id": [dana.account_id], "back": users_url(org, status="invited")},
    )
    page = response.content.decode()
    assert f"Not managed by {org.name}, so not deactivated here: dana (dana@partner.test)." in page
    assert "No longer managed" not in page
    assert Account.objects.get(pk=dana.pk).status == "active"


# --- in a real browser ------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_resending_invitations_in_a_browser(new_page, org_admin, password):
    from django.core import mail
    from playwright.sync_api import expect

    org, admin = org_admin.org, org_admin.account
    jira = s.site_add(
        org=org, actor=admin, product="jira-software", name="Acme Jira", url="https://jira.acme.test"
    )
    tag = uuid.uuid4().hex[:8]  # addresses of this run only: the hour's counts outlive a test's rows
    emails = [f"{name}-{tag}@partner.test" for name in ("ann", "bob", "cat")]
    s.users_invite(org=org, actor=admin, emails=emails, site_ids=[jira.site_id])
    sent = len(mail.outbox)

    page = new_page()
    browser.sign_in(page, admin.email, password)
    page.goto(users_url(org))
    page.get_by_label("Status").select_option("Invited")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("row").filter(has_text="Invited")).to_have_count(3)
    page.get_by_label(f"Select ann-{tag}").check()
    page.get_by_label(f"Select cat-{tag}").check()
    page.get_by_role("button", name="Resend invitation to the selected…").click()

    expect(page.get_by_role("heading", name="Send the invitation again to 2 people?")).to_be_visible()
    expect(page.get_by_text(emails[0])).to_be_visible()
    expect(page.get_by_text(emails[2])).to_be_visible()
    expect(page.get_by_text(emails[1])).to_have_count(0)
    page.get_by_role("button", name="Resend invitations").click()

    expect(
        page.get_by_text(f"Invitation sent again to 2 people: {emails[0]} and {emails[2]}.")
    ).to_be_visible()
    expect(page.get_by_label("Status")).to_have_value("invited")  # back on the filtered list
    expect(page.get_by_role("row").filter(has_text="Invited")).to_have_count(3)
    assert [m.to for m in mail.outbox[sent:]] == [[emails[0]], [emails[2]]]
    assert all("sent your invitation again" in m.body for m in mail.outbox[sent:])

    # Everyone on the filter, with the keyboard.
    page.get_by_role("button", name="Resend to everyone on this filter…").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Send the invitation again to 3 people?")).to_be_visible()
    page.get_by_role("button", name="Resend invitations").click()
    expect(page.get_by_text("Invitation sent again to 3 people:")).to_be_visible()
    assert sorted(m.to[0] for m in mail.outbox[sent + 2 :]) == sorted(emails)

    # A fourth time this hour is one too many for ann and cat: nobody is sent it, and the page says so.
    page.get_by_role("button", name="Resend to everyone on this filter…").click()
    page.get_by_role("button", name="Resend invitations").click()
    expect(page.get_by_role("alert")).to_contain_text(
        re.compile(
            rf"Too many invitation emails to ann-{tag}@partner\.test and cat-{tag}@partner\.test: "
            r"no invitation was sent\. Wait \d+ minutes?, then try again"
        )
    )
    assert len(mail.outbox) == sent + 5


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_too_many_new_people_in_an_hour_in_a_browser(new_page, org_admin, password, monkeypatch):
    from django.core import mail
    from playwright.sync_api import expect

    # 2 first invitations per org, counted over a year: the test cannot straddle two windows.
    monkeypatch.setattr(
        invitation_limits,
        "FIRST_INVITATIONS",
        throttle.Throttle(f"first-invitations-browser-{uuid.uuid4().hex}", 366 * 86400, fixed_limit=2),
        raising=False,  # so that, before the limit existed, this test failed on what the page did
    )
    org, admin = org_admin.org, org_admin.account
    s.site_add(org=org, actor=admin, product="confluence", name="Acme Wiki", url="https://wiki.acme.test")
    page = new_page()
    browser.sign_in(page, admin.email, password)
    page.goto(reverse("console:users_invite", args=[org.org_id]))
    page.get_by_label("Email addresses").fill("ann@partner.test\nbob@partner.test")
    page.get_by_role("button", name="Send invitations").click()
    expect(page.get_by_text("Invited 2 people to Acme Wiki. They get an email.")).to_be_visible()

    page.goto(reverse("console:users_invite", args=[org.org_id]))
    page.get_by_label("Email addresses").fill("cat@partner.test")
    page.get_by_role("button", name="Send invitations").click()
    expect(
        page.get_by_text(
            re.compile(
                rf"Too many invitations of new people in {re.escape(org.name)}: at most 2 an hour "
                r"for all its admins and API keys together\. Wait \d+ (minutes?|hours), then try again\."
            )
        )
    ).to_be_visible()
    expect(page.get_by_label("Email addresses")).to_have_value("cat@partner.test")
    assert not Account.objects.filter(email="cat@partner.test").exists()
    assert [m.to for m in mail.outbox] == [["ann@partner.test"], ["bob@partner.test"]]

    # Inviting the same people again is not inviting new people.
    page.get_by_label("Email addresses").fill("ann@partner.test")
    page.get_by_role("button", name="Send invitations").click()
    expect(page.get_by_text("Invited ann@partner.test to Acme Wiki. They get an email.")).to_be_visible()
