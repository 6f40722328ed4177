"""Directory → Users and Managed accounts through the real views: the list, its paging and bulk
actions, the account page and its actions; bad input is a 400, another org's account a 404."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from orgwarden.accounts.models import Account, Session
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Directory, Domain, OrgAdmin, OrgUser
from orgwarden.orgs.services.access import user_remove
from orgwarden.orgs.services.claims import account_claim, account_release, org_user_ensure
from orgwarden.orgs.services.users import deletions_run, user_deletion_schedule
from orgwarden.testing import browser

pytestmark = pytest.mark.django_db

BACKEND = "orgwarden.accounts.backends.AccountBackend"


def managed(org, **fields) -> Account:
    account = AccountFactory(**fields)
    account_claim(org=org, account=account, domain=None, actor=Actor.system("test"))
    return account


def signed_in(account) -> Client:
    client = Client()
    client.force_login(account, backend=BACKEND)
    return client


def base(org) -> str:
    return f"/admin/o/{org.org_id}/"


def user_url(org, account, suffix: str = "") -> str:
    return f"{base(org)}users/{account.account_id}/{suffix}"


def changes() -> set[str]:
    return set(AuditEvent.objects.exclude(action="org:account:claimed").values_list("action", flat=True))


@pytest.fixture
def person(org) -> Account:
    return managed(org, email="pat@acme.test", display_name="Pat Doe")


# --- the list ------------------------------------------------------------------------------------------


def test_users_and_managed_accounts_pages(admin_client, org, person):
    guest = AccountFactory(email="guest@else.test")
    org_user_ensure(org=org, account=guest)
    response = admin_client.get(base(org) + "users/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "pat@acme.test" in body and "guest@else.test" in body and "External" in body
    assert 'aria-current="page"' in body and "style=" not in body
    # No inline script (the CSP forbids it): only the console's own static file.
    assert re.findall(r"<script[^>]*>", body) == ['<script src="/static/orgwarden/app.js" defer>']
    managed_only = admin_client.get(base(org) + "managed-accounts/").content.decode()
    assert "pat@acme.test" in managed_only and "guest@else.test" not in managed_only
    # The external user has no checkbox: bulk actions are for managed accounts only.
    assert f'value="{guest.account_id}"' not in body and f'value="{person.account_id}"' in body


def test_the_bulk_bar_shows_only_when_there_is_something_to_select(admin_client, org):
    def has_bar(query: str = "") -> bool:
        body = admin_client.get(base(org) + "users/" + query).content.decode()
        return 'id="id_bulk_action"' in body and "With the selected users" in body

    assert not has_bar()  # no users at all
    guest = AccountFactory(email="guest@else.test")
    org_user_ensure(org=org, account=guest)
    assert not has_bar()  # an external user only: no checkbox
    managed(org, email="pat@acme.test")
    assert has_bar()
    assert not has_bar("?q=nobody-matches")  # a search that finds no one


def test_paging_follows_next_links_keeping_the_filters(admin_client, org):
    accounts = Account.objects.bulk_create(
        [Account(email=f"user{i:03d}@acme.test", display_name=f"User {i}", password="!") for i in range(120)]
    )
    OrgUser.objects.bulk_create(
        [OrgUser(org=org, account=a, email=a.email, is_managed=True) for a in accounts]
    )
    OrgUser.objects.bulk_create(
        [
            OrgUser(org=org, account=a, email=a.email)
            for a in Account.objects.bulk_create(
                [Account(email=f"user{i:03d}@guest.test", display_name="G", password="!") for i in range(5)]
            )
        ]
    )
    url = base(org) + "users/?q=user&kind=managed"
    seen: list[str] = []
    for _ in range(5):
        response = admin_client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        seen += re.findall(r"<td>(user\d+@[a-z.]+)</td>", body)
        link = re.search(r'href="(\?[^"]+)" rel="next">Next →</a>', body)  # the shared pager
        if not link:
            break
        query = unescape(link.group(1))
        assert "q=user" in query and "kind=managed" in query and "after=" in query
        url = base(org) + "users/" + query
    assert len(seen) == 120 and seen == sorted(seen) and len(set(seen)) == 120
    assert all(email.endswith("@acme.test") for email in seen)
    # Back to the first page, with the same filters and no cursor.
    first = re.search(r'<a [^>]*href="(\?[^"]+)">← First page</a>', body)
    assert first and unescape(first.group(1)) == "?q=user&kind=managed"
    assert "← First page" not in admin_client.get(base(org) + "users/?q=user").content.decode()


def test_last_active_column_and_filter(admin_client, org):
    now = timezone.now()
    ages = {"ann@acme.test": 3, "bob@acme.test": 45, "cat@acme.test": 75, "dan@acme.test": None}
    for email, age in ages.items():
        account = managed(org, email=email)
        when = None if age is None else now - timedelta(days=age)
        OrgUser.objects.filter(account=account).update(last_active_at=when)

    def listed(query: str = "") -> tuple[list[str], str]:
        response = admin_client.get(base(org) + "managed-accounts/?" + query)
        assert response.status_code == 200
        body = response.content.decode()
        return re.findall(r"<td>([a-z]+@acme\.test)</td>", body), body

    everyone, body = listed()
    assert '<th scope="col">Last active</th>' in body
    row = re.search(r"<td>ann@acme\.test</td>.*?</tr>", body, re.S).group(0)
    assert (now - timedelta(days=3)).strftime("%-d %b %Y") in row
    dan = re.search(r"<td>dan@acme\.test</td>.*?</tr>", body, re.S).group(0)
    assert "Never" in dan
    assert set(ages) <= set(everyone)
    assert listed("last_active=active_30")[0] == ["ann@acme.test"]
    assert listed("last_active=inactive_30")[0] == ["bob@acme.test", "cat@acme.test", "dan@acme.test"]
    emails, body = listed("last_active=inactive_60")
    assert emails == ["cat@acme.test", "dan@acme.test"]
    assert '<option value="inactive_60" selected>Not active for 60 days</option>' in body
    assert listed("last_active=never")[0] == ["dan@acme.test"]


def test_an_invited_person_is_invited_until_they_sign_in(
    admin_client, org, org_admin, django_capture_on_commit_callbacks, mailoutbox
):
    """Invited through Users → Invite people, someone who never signed in reads "Invited" — in the
    list, its Status filter and their page — not "Active" (as Atlassian Admin shows them)."""
    from orgwarden.orgs.services.access import site_add, user_invite

    site = site_add(
        org=org, actor=org_admin.account, product="jira-software", name="Jira", url="https://j.acme.test"
    )
    with django_capture_on_commit_callbacks(execute=True):
        invited = user_invite(
            org=org, actor=org_admin.account, email="new.person@acme.test", site_ids=[site.site_id]
        )
    managed(org, email="pat@acme.test")

    def row(body: str, email: str) -> str:
        return re.search(rf"<td>{re.escape(email)}</td>.*?</tr>", body, re.S).group(0)

    body = admin_client.get(base(org) + "users/").content.decode()
    assert '<span class="badge">Invited</span>' in row(body, "new.person@acme.test")
    assert "Active" not in row(body, "new.person@acme.test")
    assert "Active" in row(body, "pat@acme.test")
    assert '<option value="invited">Invited</option>' in body
    filtered = admin_client.get(base(org) + "users/?status=invited").content.decode()
    assert re.findall(r"<td>([^<]+@[^<]+)</td>", filtered) == ["new.person@acme.test"]
    assert '<option value="invited" selected>Invited</option>' in filtered
    active = admin_client.get(base(org) + "users/?status=active").content.decode()
    assert "new.person@acme.test" not in active and "pat@acme.test" in active
    page = admin_client.get(user_url(org, invited)).content.decode()
    assert '<span class="badge">Invited</span>' in page and "have not signed in yet" in page
    assert "badge-success" not in page

    link = re.search(r"http://testserver(/login/link/\S+)", mailoutbox[0].body).group(1)
    assert Client().post(link).status_code == 302  # the invitation's link signs them in
    body = admin_client.get(base(org) + "users/").content.decode()
    assert '<span class="badge badge-success">Active</span>' in row(body, "new.person@acme.test")
    assert "Invited" not in admin_client.get(user_url(org, invited)).content.decode()


@pytest.mark.parametrize(
    "query,message",
    [
        ("after=%21%21%21", "page link is not valid"),
        ("after=bm90LWFuLWVtYWls", "page link is not valid"),
        ("status=gone", "not one of the available choices"),
        ("kind=robots", "not one of the available choices"),
        ("last_active=7", "not one of the available choices"),
        ("last_active=30", "not one of the available choices"),
        ("site=nope", "not one of the available choices"),
        ("q=" + "x" * 201, "at most 200 characters"),
        ("q=a%00b", "Null characters are not allowed"),
    ],
)
def test_bad_list_input_is_a_400_with_a_message(admin_client, org, query, message):
    response = admin_client.get(base(org) + "users/?" + query)
    assert response.status_code == 400
    assert message in unescape(response.content.decode())


# --- the account page ----------------------------------------------------------------------------------


def test_account_page(admin_client, org, person):
    signed_in(person)
    body = admin_client.get(user_url(org, person)).content.decode()
    assert "Pat Doe" in body and "Managed account" in body and "Local directory" in body
    assert "Edit profile" in body and "Deactivate" in body and "Sign out of all sessions" in body


def test_idp_provisioned_profile_is_read_only(admin_client, org, person):
    idp = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name="Okta")
    OrgUser.objects.filter(account=person).update(directory=idp)
    body = admin_client.get(user_url(org, person)).content.decode()
    assert "Managed by Okta" in body and "Edit profile" not in body
    response = admin_client.post(user_url(org, person, "profile"), {"display_name": "New"})
    assert response.status_code == 400 and "identity provider" in response.content.decode()
    person.refresh_from_db()
    assert person.display_name == "Pat Doe"


def test_edit_profile(admin_client, org, person):
    assert admin_client.get(user_url(org, person, "profile")).status_code == 200
    response = admin_client.post(
        user_url(org, person, "profile"), {"display_name": "Pat Smith", "job_title": "Engineer"}
    )
    assert response.status_code == 302 and response["Location"] == user_url(org, person)
    person.refresh_from_db()
    assert person.display_name == "Pat Smith" and person.job_title == "Engineer"
    bad = admin_client.post(user_url(org, person, "profile"), {"display_name": ""})
    assert bad.status_code == 400 and b"errorlist" in bad.content


def test_change_email(admin_client, org, person):
    Domain.objects.create(org=org, name="acme.test", token="t", status=Domain.Status.VERIFIED)
    bad = admin_client.post(user_url(org, person, "email"), {"email": "pat@gmail.com"})
    assert bad.status_code == 400 and "not a verified domain" in bad.content.decode()
    ok = admin_client.post(user_url(org, person, "email"), {"email": "p.doe@acme.test"})
    assert ok.status_code == 302
    person.refresh_from_db()
    assert person.email == "p.doe@acme.test"


def test_deactivate_through_the_confirm_page_then_reactivate(admin_client, org, person):
    page = admin_client.get(user_url(org, person, "deactivate"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Deactivate Pat Doe?" in body and 'name="message"' in body and 'for="id_message"' in body
    assert Account.objects.get(pk=person.pk).status == "active"  # GET changes nothing
    too_long = admin_client.post(user_url(org, person, "deactivate"), {"message": "x" * 501})
    assert too_long.status_code == 400 and Account.objects.get(pk=person.pk).status == "active"
    done = admin_client.post(user_url(org, person, "deactivate"), {"message": "On leave"})
    assert done.status_code == 302
    assert Account.objects.get(pk=person.pk).status == "deactivated"
    assert "Message shown at sign-in: On leave" in admin_client.get(user_url(org, person)).content.decode()
    assert admin_client.post(user_url(org, person, "reactivate")).status_code == 302
    assert Account.objects.get(pk=person.pk).status == "active"


def test_schedule_and_cancel_deletion(admin_client, org, person):
    assert "Delete Pat Doe?" in admin_client.get(user_url(org, person, "delete")).content.decode()
    assert admin_client.post(user_url(org, person, "delete")).status_code == 302
    body = admin_client.get(user_url(org, person)).content.decode()
    assert "Deletion scheduled for" in body and "Cancel deletion" in body
    listing = admin_client.get(base(org) + "users/?status=deletion_scheduled").content.decode()
    assert "pat@acme.test" in listing and "Deletion scheduled for" in listing
    assert admin_client.post(user_url(org, person, "delete/cancel")).status_code == 302
    assert OrgUser.objects.get(account=person).deletion_scheduled_for is None


def test_sign_out_of_all_sessions(admin_client, org, person):
    signed_in(person)
    assert "Sign Pat Doe out" in admin_client.get(user_url(org, person, "sign-out")).content.decode()
    assert admin_client.post(user_url(org, person, "sign-out")).status_code == 302
    assert not Session.objects.filter(account=person).exists()


def test_the_account_page_names_a_sessions_device_in_words(admin_client, org, person):
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
    client = Client(HTTP_USER_AGENT=firefox)
    client.force_login(person, backend=BACKEND)
    client.get("/account/")  # the session records where it is used from
    body = admin_client.get(user_url(org, person)).content.decode()
    assert f'<span title="{firefox}">Firefox on Windows</span>' in body


def test_refused_action_on_an_external_user_is_a_400_and_changes_nothing(admin_client, org):
    guest = AccountFactory()
    org_user_ensure(org=org, account=guest)
    response = admin_client.post(user_url(org, guest, "deactivate"), {"message": ""})
    assert response.status_code == 400 and "not managed" in response.content.decode()
    assert Account.objects.get(pk=guest.pk).status == "active" and not changes()


# --- bulk ----------------------------------------------------------------------------------------------


def test_bulk_deactivate_confirms_then_acts(admin_client, org):
    people = [managed(org) for _ in range(3)]
    ids = [p.account_id for p in people]
    back = base(org) + "users/?q=person"
    confirm = admin_client.post(
        base(org) + "users/bulk", {"action": "deactivate", "account_id": ids[:2], "back": back}
    )
    assert confirm.status_code == 200 and "Deactivate 2 users?" in confirm.content.decode()
    assert not changes()
    done = admin_client.post(
        base(org) + "users/bulk",
        {"action": "deactivate", "account_id": ids[:2], "confirm": "1", "message": "Bye", "back": back},
    )
    assert done.status_code == 302 and done["Location"] == back
    assert [Account.objects.get(pk=p.pk).status for p in people] == ["deactivated", "deactivated", "active"]


def test_bulk_sign_out(admin_client, org):
    people = [managed(org) for _ in range(2)]
    for p in people:
        signed_in(p)
    done = admin_client.post(
        base(org) + "users/bulk",
        {"action": "sessions_end", "account_id": [p.account_id for p in people], "confirm": "1"},
    )
    assert done.status_code == 302 and done["Location"] == base(org) + "users/"
    assert not Session.objects.filter(account__in=people).exists()


def test_sign_out_everywhere_sent_twice_records_one_event(admin_client, org, person):
    signed_in(person)
    for _ in range(2):
        assert admin_client.post(user_url(org, person, "sign-out")).status_code == 302
        bulk = {"action": "sessions_end", "account_id": [person.account_id], "confirm": "1"}
        assert admin_client.post(base(org) + "users/bulk", bulk).status_code == 302
    page = admin_client.get(user_url(org, person))
    assert "0 session(s) ended." in page.content.decode()
    assert AuditEvent.objects.filter(action="account:sessions:ended_all").count() == 1
    assert not Session.objects.filter(account=person).exists()


def test_bulk_refuses_bad_input(admin_client, org, other_org_admin):
    person = managed(org)
    guest = AccountFactory()
    org_user_ensure(org=org, account=guest)
    url = base(org) + "users/bulk"
    assert admin_client.post(url, {"action": "deactivate"}).status_code == 400  # nothing selected
    assert admin_client.post(url, {"action": "explode", "account_id": [person.account_id]}).status_code == 400
    theirs = managed(other_org_admin.org)  # no 404 page, and nothing done (see the stale selections)
    assert (
        admin_client.post(url, {"action": "deactivate", "account_id": [theirs.account_id]}).status_code == 200
    )
    done = admin_client.post(url, {"action": "deactivate", "account_id": [theirs.account_id], "confirm": "1"})
    assert done.status_code == 302 and Account.objects.get(pk=theirs.pk).status == "active"
    Client().force_login(person, backend=BACKEND)  # a session to end: ending none records nothing
    evil = {
        "action": "sessions_end",
        "account_id": [person.account_id],
        "confirm": "1",
        "back": "//evil.test/",
    }
    assert admin_client.post(url, evil)["Location"] == base(org) + "users/"
    assert Account.objects.get(pk=person.pk).status == "active"
    assert changes() == {"account:sessions:ended_all"}


# --- a selection gone stale: another admin, a second tab, the deletion job ----------------------------


def deleted(org, account) -> None:
    """``account`` deleted by ``org``'s scheduled deletion, as the daily job does it."""
    admin = OrgAdmin.objects.filter(org=org).first().account
    user_deletion_schedule(org=org, actor=admin, account_id=account.account_id)
    deletions_run(now=timezone.now() + timedelta(days=15))


def notes_of(response) -> str:
    return " ".join(unescape(response.content.decode()).split())


def test_bulk_acts_on_those_left_and_says_which_were_gone(admin_client, org, org_admin, other_org_admin):
    """A checked user deleted or removed meanwhile answered a 404 page and nothing was done."""
    keep = managed(org, email="kim@acme.test", display_name="Kim Keep")
    gone = managed(org, email="del@acme.test", display_name="Dee Gone")
    guest = AccountFactory(email="sam@else.test", display_name="Sam Guest")
    org_user_ensure(org=org, account=guest)
    theirs = managed(other_org_admin.org, email="zed@other.test", display_name="Zed Other")
    selected = [keep, gone, guest, theirs]
    deleted(org, gone)
    user_remove(org=org, actor=org_admin.account, account_id=guest.account_id)
    before = set(AuditEvent.objects.values_list("id", flat=True))
    form = {"action": "deactivate", "account_id": [p.account_id for p in selected] + ["nobody"]}

    confirm = admin_client.post(base(org) + "users/bulk", form)
    assert confirm.status_code == 200
    page = notes_of(confirm)
    assert "Deactivate 1 user?" in page and "Kim Keep" in page and "Left out:" in page
    assert "Deleted already: Dee Gone (del@acme.test)." in page
    assert f"Removed from {org.name} already: Sam Guest (sam@else.test)." in page
    assert f"2 selected users are not users of {org.name}." in page
    assert "Zed" not in page and "other.test" not in page and theirs.account_id not in page
    assert 'name="account_id" value="' + keep.account_id + '"' in confirm.content.decode()
    assert confirm.content.decode().count('name="account_id"') == 1

    done = admin_client.post(base(org) + "users/bulk", {**form, "confirm": "1", "message": "Bye"})
    assert done.status_code == 302 and done["Location"] == base(org) + "users/"
    page = notes_of(admin_client.get(done["Location"]))
    assert "1 user(s) deactivated." in page and "Deleted already: Dee Gone (del@acme.test)." in page
    assert f"2 selected users are not users of {org.name}." in page and "Zed" not in page
    assert Account.objects.get(pk=keep.pk).status == "deactivated"
    assert Account.objects.get(pk=theirs.pk).status == "active"
    new = AuditEvent.objects.exclude(id__in=before)
    assert list(new.values_list("action", "targets__0__id")) == [("org:account:deactivated", keep.account_id)]


@pytest.mark.parametrize("action", ["deactivate", "sessions_end"])
def test_bulk_passes_over_a_user_released_meanwhile_and_the_admin_themselves(
    admin_client, org, org_admin, action
):
    """A domain removed (or unverified) after the list was shown releases its accounts: one such
    checked user, or the admin's own row from "select all", made the whole action a 400 "not
    managed" / "can't … your own account" and nothing was done for the others."""
    keep = managed(org, email="kim@acme.test", display_name="Kim Keep")
    signed_in(keep)
    loose = managed(org, email="lou@acme.test", display_name="Lou Loose")
    signed_in(loose)
    account_claim(org=org, account=org_admin.account, domain=None, actor=Actor.system("test"))
    account_release(org=org, account=loose, actor=Actor.system("test"), reason="domain_removed")
    before = set(AuditEvent.objects.values_list("id", flat=True))
    ids = [keep.account_id, loose.account_id, org_admin.account.account_id]
    form = {"action": action, "account_id": ids}

    confirm = admin_client.post(base(org) + "users/bulk", form)
    assert confirm.status_code == 200
    page = notes_of(confirm)
    assert "Left out:" in page and f"No longer managed by {org.name}: Lou Loose (lou@acme.test)." in page
    assert "Your own account: you can't" in page
    assert confirm.content.decode().count('name="account_id"') == 1

    done = admin_client.post(base(org) + "users/bulk", {**form, "confirm": "1"})
    assert done.status_code == 302
    page = notes_of(admin_client.get(done["Location"]))
    assert f"No longer managed by {org.name}: Lou Loose (lou@acme.test)." in page
    new = AuditEvent.objects.exclude(id__in=before).values_list("action", "targets__0__id")
    if action == "deactivate":
        assert "1 user(s) deactivated." in page
        assert list(new) == [("org:account:deactivated", keep.account_id)]
    else:
        assert "1 session(s) ended." in page
        assert list(new) == [("account:sessions:ended_all", keep.account_id)]
    assert Account.objects.get(pk=loose.pk).status == "active"
    assert Session.objects.filter(account=loose).exists()
    assert Account.objects.get(pk=org_admin.account.pk).status == "active"

    only_them = {"action": action, "account_id": [loose.account_id, org_admin.account.account_id]}
    confirm = admin_client.post(base(org) + "users/bulk", only_them)
    assert "No one left to" in notes_of(confirm) and "can be" in notes_of(confirm)
    done = admin_client.post(base(org) + "users/bulk", {**only_them, "confirm": "1"})
    page = notes_of(admin_client.get(done["Location"]))
    assert "Nothing changed: none of the selected users can be" in page
    assert AuditEvent.objects.exclude(id__in=before).count() == 1


@pytest.mark.parametrize("action", ["deactivate", "sessions_end"])
def test_bulk_with_no_one_left_changes_nothing_and_says_so(admin_client, org, other_org_admin, action):
    gone = managed(org, email="del@acme.test", display_name="Dee Gone")
    signed_in(gone)
    deleted(org, gone)
    before = AuditEvent.objects.count()
    form = {"action": action, "account_id": [gone.account_id, "a\x00b", "x" * 5000]}
    confirm = admin_client.post(base(org) + "users/bulk", form)
    assert confirm.status_code == 200
    page = notes_of(confirm)
    assert "No one left to" in page and "Nothing was changed" in page
    assert "Deleted already: Dee Gone (del@acme.test)." in page
    assert f"2 selected users are not users of {org.name}." in page
    assert '<form method="post" class="stack"' not in confirm.content.decode()
    done = admin_client.post(base(org) + "users/bulk", {**form, "confirm": "1"})
    assert done.status_code == 302
    page = notes_of(admin_client.get(done["Location"]))
    assert f"Nothing changed: none of the selected users is a user of {org.name} any more." in page
    assert "user(s) deactivated" not in page and "session(s) ended" not in page
    assert AuditEvent.objects.count() == before


def test_another_orgs_user_reads_exactly_as_one_that_never_existed(admin_client, org, other_org_admin):
    """Even one that the other org deleted or removed itself: our page confirms nothing of it."""
    other = other_org_admin.org
    theirs, removed_by_them = managed(other), managed(other)
    deleted(other, removed_by_them)
    answers = []
    for account_id in [theirs.account_id, removed_by_them.account_id, "never-anyone"]:
        for step in [{}, {"confirm": "1"}]:
            form = {"action": "deactivate", "account_id": [account_id], **step}
            response = admin_client.post(base(org) + "users/bulk", form, follow=True)
            assert response.status_code == 200
            main = re.search(r"<main.*</main>", response.content.decode(), re.S).group(0)
            answers.append(
                (step.get("confirm"), re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", main))
            )
    assert len(set(answers)) == 2  # one answer per step, the same whoever the id is
    assert Account.objects.get(pk=theirs.pk).status == "active"


# --- isolation and CSRF --------------------------------------------------------------------------------


def test_every_page_for_another_orgs_account_is_404(admin_client, org, other_org_admin):
    theirs = managed(other_org_admin.org)
    for suffix in ["", "profile", "email", "deactivate", "delete", "sign-out"]:
        assert admin_client.get(user_url(org, theirs, suffix)).status_code == 404, suffix
    for suffix in ["profile", "email", "deactivate", "delete", "sign-out", "reactivate", "delete/cancel"]:
        assert admin_client.post(user_url(org, theirs, suffix), {"display_name": "x"}).status_code == 404, (
            suffix
        )
    assert Account.objects.get(pk=theirs.pk).status == "active" and not changes()


def test_another_orgs_admin_gets_404_on_our_pages(org, person, other_org_admin):
    client = signed_in(other_org_admin.account)
    for path in [base(org) + "users/", base(org) + "managed-accounts/", user_url(org, person)]:
        assert client.get(path).status_code == 404
    assert client.post(user_url(org, person, "deactivate")).status_code == 404
    assert client.post(base(org) + "users/bulk", {"action": "deactivate"}).status_code == 404
    assert Account.objects.get(pk=person.pk).status == "active"


def test_posts_need_a_csrf_token(org_admin, org, person):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org_admin.account, backend=BACKEND)
    assert client.post(user_url(org, person, "deactivate")).status_code == 403
    assert Account.objects.get(pk=person.pk).status == "active"


def test_null_bytes_in_the_account_id_are_404(admin_client, org):
    assert admin_client.get(base(org) + "users/a%00b/").status_code == 404


# --- in a real browser ---------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_users_journey_in_a_browser(new_page, org_admin, org, password):
    """Search, select two people, deactivate them with a message, open one, reactivate it."""
    from playwright.sync_api import expect

    people = [managed(org, email=f"dev{i}@acme.test", display_name=f"Dev {i}") for i in range(3)]
    page = new_page()
    browser.sign_in(page, org_admin.account.email, password)
    page.goto(base(org))
    page.get_by_role("link", name="Managed accounts", exact=True).click()
    page.get_by_role("searchbox", name="Search").fill("dev")
    page.get_by_role("searchbox", name="Search").press("Enter")
    expect(page.get_by_role("link", name="Dev 2")).to_be_visible()
    page.get_by_label("Select Dev 0").check()
    page.get_by_label("Select Dev 1").check()
    page.get_by_role("button", name="Continue…").click()
    expect(page.get_by_role("heading", name="Deactivate 2 users?")).to_be_visible()
    page.get_by_label("Message to the person (optional)").fill("Project over. Ask IT.")
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_text("2 user(s) deactivated.")).to_be_visible()
    assert [Account.objects.get(pk=p.pk).status for p in people] == ["deactivated", "deactivated", "active"]
    page.get_by_role("link", name="Dev 0").click()
    expect(page.get_by_text("Message shown at sign-in: Project over. Ask IT.")).to_be_visible()
    page.get_by_role("button", name="Reactivate").click()
    expect(page.get_by_text("Dev 0 is active again.")).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_bulk_action_on_a_selection_gone_stale_in_a_browser(new_page, org_admin, org, password):
    """Check three people; before Continue one is deleted and one released (its domain removed):
    the confirm page says what became of those two, and only the third is deactivated."""
    from playwright.sync_api import expect

    people = [managed(org, email=f"dev{i}@acme.test", display_name=f"Dev {i}") for i in range(3)]
    page = new_page()
    browser.sign_in(page, org_admin.account.email, password)
    page.goto(base(org) + "managed-accounts/")
    for i in range(3):
        page.get_by_label(f"Select Dev {i}").check()
    deleted(org, people[1])  # meanwhile, in another tab or by the deletion job
    account_release(org=org, account=people[2], actor=Actor.system("test"), reason="domain_removed")
    page.get_by_role("button", name="Continue…").click()
    expect(page.get_by_role("heading", name="Deactivate 1 user?")).to_be_visible()
    left_out = page.get_by_role("status").filter(has_text="Left out:")
    expect(left_out).to_contain_text("Deleted already: Dev 1 (dev1@acme.test).")
    expect(left_out).to_contain_text(f"No longer managed by {org.name}: Dev 2 (dev2@acme.test).")
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_text("1 user(s) deactivated.")).to_be_visible()
    assert Account.objects.get(pk=people[0].pk).status == "deactivated"
    assert Account.objects.get(pk=people[2].pk).status == "active"
