"""Products → Product sites and External users, through the real views."""

from __future__ import annotations

import html
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Group, GroupMember, OrgUser, ProductSite, SiteAccess
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services.claims import account_claim
from orgwarden.testing import browser

pytestmark = pytest.mark.django_db


def base(org) -> str:
    return f"/admin/o/{org.org_id}"


def assert_csp_clean(response) -> None:
    """Strict CSP: no inline scripts or style attributes in what we render."""
    assert b" style=" not in response.content and b"<script>" not in response.content


@pytest.fixture
def site(org, admin):
    return s.site_add(
        org=org, actor=admin, product="jira-software", name="Acme Jira", url="https://jira.acme.example"
    )


@pytest.fixture
def devs(org, admin):
    return s.group_create(org=org, actor=admin, name="Devs")


def test_site_page_counts_the_members_of_its_granted_groups_only(admin_client, org, admin, site, devs):
    """The "Grant access" list names every group of the org; only the groups with access to this
    site have their members counted (an org of 2,000 groups counted all of them on every view)."""
    others = [s.group_create(org=org, actor=admin, name=f"Team {i}") for i in range(3)]
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=devs.group_id, role="user")
    with CaptureQueriesContext(connection) as ctx:
        response = admin_client.get(f"{base(org)}/products/{site.site_id}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert all(g.name in body for g in others)  # still offered in the list
    counting = [q["sql"] for q in ctx.captured_queries if "orgs_groupmember" in q["sql"]]
    # The one query that counts members is the list of the site's grants.
    assert len(counting) == 1 and counting[0].startswith('SELECT "orgs_siteaccess".'), counting


def test_site_page_writes_its_group_list_without_a_template_per_group(admin_client, org, admin, site, devs):
    """The "Grant access" list names every group of the org; its options are written in one pass,
    not each through Django's option template (most of the page's time at 2,000 groups)."""

    def option_templates() -> int:
        response = admin_client.get(f"{base(org)}/products/{site.site_id}/")
        assert response.status_code == 200
        return [t.name for t in response.templates].count("django/forms/widgets/select_option.html")

    before = option_templates()
    for i in range(5):
        s.group_create(org=org, actor=admin, name=f"Team {i}")
    assert option_templates() == before  # the role list's own options only
    s.group_create(org=org, actor=admin, name="Ops & <Support>")
    body = admin_client.get(f"{base(org)}/products/{site.site_id}/").content.decode()
    select = re.search(r'<select name="grant-group_id"[^>]*>.*?</select>', body, re.S).group(0)
    assert 'id="id_grant-group_id"' in select and " required" in select
    assert '<option value="" selected>Choose a group…</option>' in select
    assert f'<option value="{devs.group_id}">Devs</option>' in select
    assert "Ops &amp; &lt;Support&gt;" in select  # escaped


# --- list and add -------------------------------------------------------------------------------------


def test_products_page_groups_sites_by_product_with_capabilities(admin_client, org, admin, site):
    s.site_add(org=org, actor=admin, product="statuspage", name="Status", url="https://status.acme.example")
    response = admin_client.get(f"{base(org)}/products/")
    assert response.status_code == 200
    assert_csp_clean(response)
    body = response.content.decode()
    assert "Jira Software" in body and "Statuspage" in body and "Acme Jira" in body
    assert "Billed separately" in body and "Billed per user" in body and "No provisioning" in body
    assert f'href="{base(org)}/products/"' in body and 'aria-current="page"' in body  # the nav entry


def test_empty_products_page(admin_client, org):
    response = admin_client.get(f"{base(org)}/products/")
    assert response.status_code == 200 and b"No product sites yet" in response.content


def test_add_a_site(admin_client, org, admin):
    response = admin_client.post(
        f"{base(org)}/products/",
        {"product": "confluence", "name": "Wiki", "url": "https://wiki.acme.example/"},
    )
    site = ProductSite.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{base(org)}/products/{site.site_id}/"
    assert site.url == "https://wiki.acme.example" and site.org == org
    assert AuditEvent.objects.get(action="org:site:added").actor_id == admin.account_id


@pytest.mark.parametrize(
    "data",
    [
        {"product": "nope", "name": "Wiki", "url": "https://w.example"},
        {"product": "confluence", "name": "", "url": "https://w.example"},
        {"product": "confluence", "name": "Wiki", "url": "http://w.example"},
        {"product": "confluence", "name": "Wiki", "url": "https://w.example/" + "x" * 400},
        {"product": "confluence", "name": "Wiki", "url": "javascript:alert(1)"},
        {"product": "confluence", "name": "Wiki", "url": "https://jira.acme.example"},  # taken
        {},
    ],
)
def test_add_a_site_with_bad_input_is_a_form_error(admin_client, org, site, data):
    before = AuditEvent.objects.count()
    response = admin_client.post(f"{base(org)}/products/", data)
    assert response.status_code == 400 and b'class="errorlist' in response.content
    assert ProductSite.objects.count() == 1 and AuditEvent.objects.count() == before


# --- a site's page ------------------------------------------------------------------------------------


def test_site_page(admin_client, org, site, devs, admin):
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=devs.group_id, role="admin")
    response = admin_client.get(f"{base(org)}/products/{site.site_id}/")
    assert response.status_code == 200
    assert_csp_clean(response)
    body = response.content.decode()
    assert "Devs" in body and "Admin" in body and "Invite people" in body and site.url in body
    for label in ['for="id_site-name"', 'for="id_grant-group_id"', 'for="id_invite-emails"']:
        assert label in body


def test_rename_and_move_a_site(admin_client, org, site):
    url = f"{base(org)}/products/{site.site_id}/edit"
    response = admin_client.post(url, {"site-name": "Jira", "site-url": "https://new.acme.example"})
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.name, site.url) == ("Jira", "https://new.acme.example")
    response = admin_client.post(url, {"site-name": "Jira", "site-url": "ftp://x"})
    assert response.status_code == 400 and b"https://" in response.content
    assert AuditEvent.objects.filter(action="org:site:updated").count() == 1


def test_remove_a_site_after_confirming(admin_client, org, site):
    url = f"{base(org)}/products/{site.site_id}/remove"
    confirm = admin_client.get(url)
    assert confirm.status_code == 200 and b"Remove Acme Jira?" in confirm.content
    assert ProductSite.objects.exists()
    response = admin_client.post(url)
    assert response.status_code == 302 and response["Location"] == f"{base(org)}/products/"
    assert not ProductSite.objects.exists()
    assert AuditEvent.objects.filter(action="org:site:removed").count() == 1


def test_grant_change_and_revoke_access(admin_client, org, site, devs):
    grant = f"{base(org)}/products/{site.site_id}/access"
    assert (
        admin_client.post(grant, {"grant-group_id": devs.group_id, "grant-role": "user"}).status_code == 302
    )
    assert (
        admin_client.post(grant, {"grant-group_id": devs.group_id, "grant-role": "admin"}).status_code == 302
    )
    assert SiteAccess.objects.get().role == "admin"
    for bad in [{"grant-group_id": devs.group_id, "grant-role": "owner"}, {"grant-role": "user"}]:
        response = admin_client.post(grant, bad)
        assert response.status_code == 400 and b'class="errorlist' in response.content
    revoke = f"{base(org)}/products/{site.site_id}/access/{devs.group_id}/revoke"
    assert admin_client.post(revoke).status_code == 302
    assert not SiteAccess.objects.exists()
    assert admin_client.post(revoke).status_code == 302  # says: revoked already (test_removals_sent_twice)
    assert AuditEvent.objects.filter(action="org:access:granted").count() == 2
    assert AuditEvent.objects.filter(action="org:access:revoked").count() == 1


def _member(org, admin, group, email):
    person = AccountFactory(email=email)
    OrgUser.objects.create(org=org, account=person, email=person.email)
    s.group_members_add(org=org, actor=admin, group_id=group.group_id, account_ids=[person.account_id])
    return person


def test_revoking_a_groups_access_asks_first_and_counts_who_loses_the_site(
    admin_client, org, admin, site, devs
):
    """The site page's Revoke opens a confirmation that counts the members who lose the site (those
    with no other group on it); opening it changes nothing and records nothing."""
    ops = s.group_create(org=org, actor=admin, name="Ops")
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=devs.group_id, role="admin")
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=ops.group_id, role="user")
    s.site_default_groups_set(org=org, actor=admin, site_id=site.site_id, group_ids=[devs.group_id])
    for email in ("ada@acme.example", "bob@acme.example"):
        _member(org, admin, devs, email)
    both = _member(org, admin, devs, "cy@acme.example")
    s.group_members_add(org=org, actor=admin, group_id=ops.group_id, account_ids=[both.account_id])
    revoke = f"{base(org)}/products/{site.site_id}/access/{devs.group_id}/revoke"
    page = admin_client.get(f"{base(org)}/products/{site.site_id}/").content.decode()
    assert f'href="{revoke}">Revoke<span class="sr-only"> access of Devs</span>…</a>' in page
    assert f'action="{revoke}"' not in page  # no one-click revoke left
    events = AuditEvent.objects.count()

    confirm = admin_client.get(revoke)
    text = html.unescape(confirm.content.decode())
    assert confirm.status_code == 200
    assert "Revoke Devs's access to Acme Jira?" in text and "Admin access" in text
    assert (
        "2 people lose Acme Jira at once: they have it only through Devs. "
        "1 of its 3 members keeps it through another group." in text
    )
    assert "1 person keeps Acme Jira but is no longer an admin of it: no other group makes them one." in text
    assert "Devs stops being a default group of Acme Jira" in text
    assert 'class="button-danger">Revoke access</button>' in text
    assert SiteAccess.objects.filter(site=site, group=devs).exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("members", "says"),
    [
        ([], "Devs has no members, so nobody loses Acme Jira now."),
        (["Ops"], "Nobody loses Acme Jira: its only member has it through another group too."),
        ([None], "1 person loses Acme Jira at once: they have it only through Devs."),
    ],
)
def test_the_revoke_confirmation_words_each_count(admin_client, org, admin, site, devs, members, says):
    ops = s.group_create(org=org, actor=admin, name="Ops")
    for group in (devs, ops):
        s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role="user")
    for other in members:
        person = _member(org, admin, devs, "ada@acme.example")
        if other:
            s.group_members_add(org=org, actor=admin, group_id=ops.group_id, account_ids=[person.account_id])
    text = html.unescape(
        admin_client.get(
            f"{base(org)}/products/{site.site_id}/access/{devs.group_id}/revoke"
        ).content.decode()
    )
    assert says in text and "no longer an admin" not in text and "default group" not in text


def test_the_revoke_confirmations_button_revokes_and_records_it(org_admin, org, admin, site, devs):
    """What the confirmation's form sends (its CSRF token) revokes; without the token nothing does."""
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=devs.group_id, role="user")
    revoke = f"{base(org)}/products/{site.site_id}/access/{devs.group_id}/revoke"
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin, backend="orgwarden.accounts.backends.AccountBackend")
    form = client.get(revoke).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    assert client.post(revoke).status_code == 403 and SiteAccess.objects.exists()

    response = client.post(revoke, {"csrfmiddlewaretoken": token}, follow=True)
    assert response.redirect_chain == [(f"{base(org)}/products/{site.site_id}/", 302)]
    assert b"Access revoked." in response.content and not SiteAccess.objects.exists()
    event = AuditEvent.objects.get(action="org:access:revoked")
    assert event.actor_id == admin.account_id and event.details["role"] == "user"


def test_a_stale_revoke_confirmation_says_it_was_revoked_already(
    admin_client, org, admin, site, devs, other_org_admin
):
    """Opened after the grant went (another admin, a second tab): it says so on the site's page and
    changes nothing; an unknown group, or another org's, is a 404 that confirms nothing."""
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=devs.group_id, role="user")
    revoke = f"{base(org)}/products/{site.site_id}/access/{devs.group_id}/revoke"
    never = s.group_create(org=org, actor=admin, name="Never granted")
    theirs = s.group_create(org=other_org_admin.org, actor=other_org_admin.account, name="Devs")
    assert admin_client.post(revoke).status_code == 302
    events = AuditEvent.objects.count()
    stale = admin_client.get(revoke, follow=True)
    assert stale.redirect_chain == [(f"{base(org)}/products/{site.site_id}/", 302)]
    assert "The access of Devs to Acme Jira was revoked already." in stale.content.decode()
    for group_id in (never.group_id, theirs.group_id, "no-such-group"):
        assert (
            admin_client.get(f"{base(org)}/products/{site.site_id}/access/{group_id}/revoke").status_code
            == 404
        )
    assert AuditEvent.objects.count() == events


def test_default_groups(admin_client, org, admin, site, devs):
    url = f"{base(org)}/products/{site.site_id}/default-groups"
    response = admin_client.post(url, {"defaults-group_ids": [devs.group_id]})
    assert response.status_code == 400 and b"Grant Devs access" in response.content
    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=devs.group_id, role="user")
    assert admin_client.post(url, {"defaults-group_ids": [devs.group_id]}).status_code == 302
    assert list(site.default_groups.all()) == [devs]
    page = admin_client.get(f"{base(org)}/products/{site.site_id}/")
    assert b'<span class="badge">Default</span>' in page.content
    assert admin_client.post(url, {}).status_code == 302
    assert not site.default_groups.exists()


# --- inviting people ----------------------------------------------------------------------------------


def test_invite_several_people(admin_client, org, site, django_capture_on_commit_callbacks, mailoutbox):
    existing = AccountFactory(email="known@partner.example")
    url = f"{base(org)}/products/{site.site_id}/invite"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url,
            {
                "invite-emails": "New@Acme.example,\nknown@partner.example; third@acme.example",
                "invite-role": "user",
            },
        )
    assert response.status_code == 302
    group = Group.objects.get(name="Acme Jira users")
    members = set(GroupMember.objects.filter(group=group).values_list("account__email", flat=True))
    assert members == {"new@acme.example", "known@partner.example", "third@acme.example"}
    assert (
        OrgUser.objects.filter(org=org).count() == 3
        and AuditEvent.objects.filter(action="org:user:invited").count() == 3
    )
    invitations = [m for m in mailoutbox if "Acme Jira" in m.subject]
    assert sorted(m.to[0] for m in invitations) == [
        "known@partner.example",
        "new@acme.example",
        "third@acme.example",
    ]
    assert existing.has_usable_password()
    page = admin_client.get(f"{base(org)}/products/{site.site_id}/")
    assert b"Invited 3 people to Acme Jira." in page.content


@pytest.mark.parametrize(
    "emails",
    [
        "",
        "not-an-email",
        "good@acme.example, bad@",
        ",".join(f"p{i}@acme.example" for i in range(51)),
    ],
)
def test_invite_with_bad_input_invites_nobody(admin_client, org, site, emails, mailoutbox):
    before = AuditEvent.objects.count()
    response = admin_client.post(
        f"{base(org)}/products/{site.site_id}/invite", {"invite-emails": emails, "invite-role": "user"}
    )
    assert response.status_code == 400 and b'class="errorlist' in response.content
    assert not OrgUser.objects.exists() and not mailoutbox and AuditEvent.objects.count() == before


def test_invite_is_all_or_nothing(admin_client, org, site, mailoutbox):
    closed = AccountFactory(email="closed@acme.example", status=Account.Status.CLOSED)
    before = AuditEvent.objects.count()
    response = admin_client.post(
        f"{base(org)}/products/{site.site_id}/invite",
        {"invite-emails": f"fine@acme.example\n{closed.email}", "invite-role": "user"},
    )
    assert response.status_code == 400 and b"is closed" in response.content
    assert not Account.objects.filter(email="fine@acme.example").exists()
    assert not OrgUser.objects.exists() and not Group.objects.exists() and not mailoutbox
    assert AuditEvent.objects.count() == before


# --- external users -----------------------------------------------------------------------------------


def test_external_users_page_and_remove_access(admin_client, org, admin, site, devs):
    external = s.user_invite(org=org, actor=admin, email="partner@partner.example", site_ids=[site.site_id])
    managed = AccountFactory(email="me@acme.example")
    account_claim(org=org, account=managed, domain=None, actor=Actor.system())
    s.group_members_add(org=org, actor=admin, group_id=devs.group_id, account_ids=[managed.account_id])
    response = admin_client.get(f"{base(org)}/external-users/")
    assert response.status_code == 200
    assert_csp_clean(response)
    assert b"partner@partner.example" in response.content and b"Acme Jira users" in response.content
    assert b"me@acme.example" not in response.content
    remove = f"{base(org)}/external-users/{external.account_id}/remove"
    assert admin_client.post(remove).status_code == 302
    assert not OrgUser.objects.filter(org=org, account=external).exists()
    assert AuditEvent.objects.filter(action="org:user:removed").count() == 1
    assert admin_client.post(remove).status_code == 302  # says: removed already (test_removals_sent_twice)
    # A managed account is refused with a message, not removed.
    response = admin_client.post(f"{base(org)}/external-users/{managed.account_id}/remove", follow=True)
    assert b"deactivate or release" in response.content
    assert OrgUser.objects.filter(org=org, account=managed).exists()


def test_external_users_says_invited_as_users_does(admin_client, org, admin, site):
    """An external user invited who never signed in read "Active" here and "Invited" on Users."""
    invited = s.user_invite(org=org, actor=admin, email="new@partner.example", site_ids=[site.site_id])
    known = AccountFactory(email="known@partner.example")
    Client().force_login(known, backend="orgwarden.accounts.backends.AccountBackend")
    s.user_invite(org=org, actor=admin, email=known.email, site_ids=[site.site_id])

    def status(body: str, email: str) -> str:
        row = re.search(rf"{re.escape(email)}</span></td>.*?</tr>", body, re.S).group(0)
        return re.findall(r'<span class="badge[^"]*">([^<]+)</span>', row)[0]

    with CaptureQueriesContext(connection) as page_queries:
        body = admin_client.get(f"{base(org)}/external-users/").content.decode()
    assert status(body, "new@partner.example") == "Invited"
    assert status(body, "known@partner.example") == "Active"
    users = admin_client.get(f"/admin/o/{org.org_id}/users/").content.decode()
    assert re.search(r"<td>new@partner\.example</td>.*?Invited", users, re.S)
    Client().force_login(invited, backend="orgwarden.accounts.backends.AccountBackend")  # signs in
    s.user_invite(org=org, actor=admin, email="third@partner.example", site_ids=[site.site_id])
    with CaptureQueriesContext(connection) as again:
        body = admin_client.get(f"{base(org)}/external-users/").content.decode()
    assert status(body, "new@partner.example") == "Active"
    assert status(body, "third@partner.example") == "Invited"
    assert len(again) == len(page_queries)  # one more row, no more queries


def test_removing_an_external_users_access_asks_first_naming_what_goes(admin_client, org, admin, site, devs):
    """It takes them out of every group (not undone by inviting them again), so External users'
    "Remove access…" opens a confirmation naming the sites and groups; opening it changes nothing."""
    external = s.user_invite(org=org, actor=admin, email="partner@partner.example", site_ids=[site.site_id])
    s.group_members_add(org=org, actor=admin, group_id=devs.group_id, account_ids=[external.account_id])
    remove = f"{base(org)}/external-users/{external.account_id}/remove"
    page = admin_client.get(f"{base(org)}/external-users/").content.decode()
    assert (
        f'href="{remove}">Remove access<span class="sr-only"> of partner@partner.example</span>…</a>' in page
    )
    assert f'action="{remove}"' not in page
    events = AuditEvent.objects.count()

    confirm = admin_client.get(remove)
    text = html.unescape(confirm.content.decode())
    assert confirm.status_code == 200 and "Remove partner@partner.example's access?" in text
    assert f"partner@partner.example loses every product site of {org.name} at once: Acme Jira." in text
    assert "They leave 2 groups (Acme Jira users, Devs): inviting them again gives back only" in text
    assert 'class="button-danger">Remove access</button>' in text
    assert OrgUser.objects.filter(org=org, account=external).exists() and AuditEvent.objects.count() == events

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text).group(1)
    done = admin_client.post(remove, {"csrfmiddlewaretoken": token}, follow=True)
    assert (
        done.redirect_chain == [(f"{base(org)}/external-users/", 302)] and b"Access removed." in done.content
    )
    assert not OrgUser.objects.filter(org=org, account=external).exists()
    assert AuditEvent.objects.get(action="org:user:removed").details["groups"] == ["Acme Jira users", "Devs"]

    stale = admin_client.get(remove, follow=True)  # the confirmation opened again: removed already
    assert "The access of partner@partner.example was removed already." in stale.content.decode()
    assert AuditEvent.objects.filter(action="org:user:removed").count() == 1


def test_the_remove_access_confirmation_of_a_managed_or_unknown_account(
    admin_client, org, admin, other_org_admin
):
    managed = AccountFactory(email="me@acme.example")
    account_claim(org=org, account=managed, domain=None, actor=Actor.system())
    refused = admin_client.get(f"{base(org)}/external-users/{managed.account_id}/remove", follow=True)
    assert (
        b"me@acme.example is a managed account of your organization: deactivate or release it"
        in refused.content
    )
    theirs = AccountFactory()
    OrgUser.objects.create(org=other_org_admin.org, account=theirs, email=theirs.email)
    for account_id in (theirs.account_id, "no-such-account"):
        assert admin_client.get(f"{base(org)}/external-users/{account_id}/remove").status_code == 404
    assert (
        OrgUser.objects.filter(account=managed).exists() and OrgUser.objects.filter(account=theirs).exists()
    )


def test_external_users_pages(admin_client, org, admin, site):
    for batch in (range(0, 30), range(30, 51)):
        emails = [f"p{i:02}@partner.example" for i in batch]
        s.users_invite(org=org, actor=admin, emails=emails, site_ids=[site.site_id])
    first = admin_client.get(f"{base(org)}/external-users/")
    assert b"p49@partner.example" in first.content and b"p50@partner.example" not in first.content
    link = re.search(rb'href="(\?after=[^"]+)"', first.content).group(1).decode().replace("&amp;", "&")
    second = admin_client.get(f"{base(org)}/external-users/{link}")
    assert b"p50@partner.example" in second.content and b"p49@partner.example" not in second.content


# --- tenant isolation ---------------------------------------------------------------------------------


def test_another_orgs_admin_gets_404_everywhere(org, admin, site, devs, other_org_admin):
    external = s.user_invite(org=org, actor=admin, email="partner@partner.example", site_ids=[site.site_id])
    other = Client()
    other.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    their = base(other_org_admin.org)
    their_site = s.site_add(
        org=other_org_admin.org,
        actor=other_org_admin.account,
        product="trello",
        name="T",
        url="https://t.example",
    )
    before = AuditEvent.objects.count()
    # Org A's own URLs.
    for path in [
        f"{base(org)}/products/",
        f"{base(org)}/products/{site.site_id}/",
        f"{base(org)}/external-users/",
    ]:
        assert other.get(path).status_code == 404
    # Org A's ids under org B's URLs, in paths and in POST bodies.
    gets = [
        f"{their}/products/{site.site_id}/",
        f"{their}/products/{site.site_id}/remove",
        f"{their}/products/{site.site_id}/access/{devs.group_id}/revoke",
        f"{their}/external-users/{external.account_id}/remove",
    ]
    posts = [
        (f"{their}/products/{site.site_id}/edit", {"site-name": "X", "site-url": "https://x.example"}),
        (f"{their}/products/{site.site_id}/remove", {}),
        (f"{their}/products/{site.site_id}/access", {"grant-group_id": devs.group_id, "grant-role": "user"}),
        (
            f"{their}/products/{their_site.site_id}/access",
            {"grant-group_id": devs.group_id, "grant-role": "user"},
        ),
        (f"{their}/products/{their_site.site_id}/default-groups", {"defaults-group_ids": [devs.group_id]}),
        (f"{their}/products/{site.site_id}/access/{devs.group_id}/revoke", {}),
        (
            f"{their}/products/{site.site_id}/invite",
            {"invite-emails": "x@example.com", "invite-role": "user"},
        ),
        (f"{their}/external-users/{external.account_id}/remove", {}),
    ]
    for path in gets:
        assert other.get(path).status_code == 404, path
    for path, data in posts:
        assert other.post(path, data).status_code == 404, path
    assert AuditEvent.objects.count() == before
    assert not SiteAccess.objects.filter(site=their_site).exists()
    assert ProductSite.objects.get(pk=site.pk).name == "Acme Jira"
    assert OrgUser.objects.filter(org=org, account=external).exists()


def test_changes_need_post(admin_client, org, site, devs):
    for path in [
        f"{base(org)}/products/{site.site_id}/edit",
        f"{base(org)}/products/{site.site_id}/access",
        f"{base(org)}/products/{site.site_id}/invite",
    ]:  # a revoke's GET is its confirmation (test_revoking_a_groups_access_asks_first…)
        assert admin_client.get(path).status_code == 405


def test_csrf_is_enforced(org_admin, org, site):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    response = client.post(f"{base(org)}/products/{site.site_id}/remove")
    assert response.status_code == 403 and ProductSite.objects.exists()


# --- in a real browser --------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_products_groups_and_invitation_journey_in_a_browser(new_page):
    """An admin adds a site, creates a group, grants it access, invites two people (one new, one
    known), the new person signs in with the emailed one-time link, and the admin removes the
    other's access from External users. No CSP violation on the way (``new_page`` checks)."""
    from django.core import mail
    from playwright.sync_api import expect

    from orgwarden.orgs.tests.factories import OrgAdminFactory

    role = OrgAdminFactory(org__name="Acme", account__email="ann@acme.test")
    AccountFactory(email="partner@partner.test", display_name="Pat Partner")
    ann = new_page()
    browser.sign_in(ann, "ann@acme.test", "correct horse battery staple")
    ann.goto(f"/admin/o/{role.org.org_id}/")

    ann.get_by_role("navigation", name="Organization").get_by_role("link", name="Product sites").click()
    ann.get_by_label("Product").select_option("confluence")
    ann.get_by_label("Site name").fill("Acme Wiki")
    ann.get_by_label("Site address").fill("https://wiki.acme.test")
    ann.get_by_role("button", name="Add site").click()
    expect(ann.get_by_role("heading", name="Acme Wiki")).to_be_visible()

    ann.get_by_role("link", name="Groups", exact=True).click()
    ann.get_by_label("Group name").fill("Writers")
    ann.get_by_role("button", name="Create group").click()
    expect(ann.get_by_role("heading", name="Writers")).to_be_visible()

    ann.get_by_role("navigation", name="Organization").get_by_role("link", name="Product sites").click()
    ann.get_by_role("link", name="Acme Wiki").click()
    ann.get_by_label("Group", exact=True).select_option(label="Writers")
    ann.get_by_label("Role").first.select_option("user")
    ann.get_by_role("button", name="Grant").click()
    expect(ann.get_by_text("Writers has user access.")).to_be_visible()
    ann.get_by_label("Writers").check()
    ann.get_by_role("button", name="Save default groups").click()
    expect(ann.get_by_text("Default groups saved.")).to_be_visible()

    ann.get_by_label("Email addresses").fill("new@acme.test, partner@partner.test")
    ann.get_by_role("button", name="Send invitations").click()
    expect(ann.get_by_text("Invited 2 people to Acme Wiki.")).to_be_visible()
    ann.screenshot(path="/tmp/access-site.png", full_page=True)

    message = next(m for m in mail.outbox if m.to == ["new@acme.test"] and "Acme Wiki" in m.subject)
    link = re.search(r"https?://[^/\s]+(/login/link/\S+)", message.body).group(1)
    newcomer = new_page()
    newcomer.goto(link)
    newcomer.get_by_role("button").first.click()
    expect(newcomer).not_to_have_url(re.compile("/login/link/"))

    ann.get_by_role("link", name="External users").first.click()
    expect(ann.get_by_text("partner@partner.test", exact=True)).to_be_visible()
    ann.screenshot(path="/tmp/access-external.png", full_page=True)
    ann.get_by_role("link", name="Remove access of partner@partner.test").click()
    ann.get_by_role("button", name="Remove access", exact=True).click()  # its confirmation's
    expect(ann.get_by_text("Access removed.")).to_be_visible()
    assert not OrgUser.objects.filter(org=role.org, account__email="partner@partner.test").exists()
    ann.goto(f"/admin/o/{role.org.org_id}/groups/")
    ann.screenshot(path="/tmp/access-groups.png", full_page=True)
    ann.goto(f"/admin/o/{role.org.org_id}/products/")
    ann.screenshot(path="/tmp/access-products.png", full_page=True)


@pytest.fixture
def partner(org, admin, site, devs):
    """An external user of ``org``, not yet in ``devs``: the site's default group, with user access."""
    from orgwarden.orgs.services.claims import org_user_ensure

    s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=devs.group_id, role="user")
    s.site_default_groups_set(org=org, actor=admin, site_id=site.site_id, group_ids=[devs.group_id])
    person = AccountFactory(email="partner@partner.example")
    org_user_ensure(org=org, account=person)
    return person


def invite(client: Client, org, site, email: str, **extra):
    """The site's invite form, posted as an admin does."""
    form = {"invite-emails": email, "invite-role": "user"}
    return client.post(f"{base(org)}/products/{site.site_id}/invite", form, **extra)


@pytest.mark.django_db(transaction=True)
def test_two_invitations_of_one_person_at_once_both_succeed_not_500(admin_client, org, admin, site, partner):
    """Two admins invite the same external user to the site at once: both pass the "not a member
    yet" check; the second's membership insert waits for the first (PostgreSQL) and fails on the
    unique group and account. As when the first came first, the person is already in the default
    group and the second invitation goes out without a second membership; no 500."""
    from orgwarden.testing.races import behind_an_open_transaction

    response = behind_an_open_transaction(
        lambda: s.user_invite(org=org, actor=admin, email=partner.email, site_ids=[site.site_id]),
        lambda: invite(admin_client, org, site, partner.email),
    )
    assert response.status_code == 302
    assert list(GroupMember.objects.values_list("group__name", "account__email")) == [
        ("Devs", "partner@partner.example")
    ]
    assert AuditEvent.objects.filter(action="org:group:member_added").count() == 1
    assert AuditEvent.objects.filter(action="org:user:invited").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_first_invitations_to_a_site_share_the_default_group_it_makes(admin_client, org, admin, site):
    """The site has no default group yet and two admins invite two people at once: the first makes
    "<site> users"; the second waits for the site and finds it, instead of making a second group
    or failing on the name."""
    from orgwarden.testing.races import behind_an_open_transaction

    response = behind_an_open_transaction(
        lambda: s.user_invite(org=org, actor=admin, email="ann@partner.example", site_ids=[site.site_id]),
        lambda: invite(admin_client, org, site, "bob@partner.example"),
    )
    assert response.status_code == 302
    members = sorted(GroupMember.objects.values_list("group__name", "account__email"))
    group = f"{site.name} users"
    assert members == [(group, "ann@partner.example"), (group, "bob@partner.example")]
    assert Group.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_invitation_racing_a_sign_up_of_the_email_invites_that_account(admin_client, org, site):
    """The person signs up while an admin invites their address: the invitation's account insert
    waits for the sign-up (PostgreSQL) and fails on the unique email. It invites the account that
    signed up, as when the sign-up came first, instead of refusing the address as taken."""
    from orgwarden.accounts.services import account_create
    from orgwarden.testing.races import behind_an_open_transaction

    response = behind_an_open_transaction(
        lambda: account_create(email="new@partner.example", display_name="New", password=None),
        lambda: invite(admin_client, org, site, "new@partner.example", follow=True),
    )
    assert response.status_code == 200 and b"already exists" not in response.content
    account = Account.objects.get(email="new@partner.example")
    assert account.display_name == "New" and OrgUser.objects.filter(org=org, account=account).exists()
    assert GroupMember.objects.filter(account=account).count() == 1
    assert AuditEvent.objects.get(action="org:user:invited").details["new_account"] is False


@pytest.mark.django_db(transaction=True)
def test_an_invitation_racing_an_admin_adding_the_person_to_the_group_adds_them_once(
    admin_client, org, admin, site, devs, partner
):
    """One admin adds a user to the site's default group while another invites them: the invitation
    waits for the group (locked, as the add locks it) and finds them a member; no 500."""
    from orgwarden.testing.races import behind_an_open_transaction

    response = behind_an_open_transaction(
        lambda: s.group_members_add(
            org=org, actor=admin, group_id=devs.group_id, account_ids=[partner.account_id]
        ),
        lambda: invite(admin_client, org, site, partner.email),
    )
    assert response.status_code == 302
    assert list(GroupMember.objects.values_list("group__name", "account__email")) == [
        ("Devs", "partner@partner.example")
    ]
    assert AuditEvent.objects.filter(action="org:group:member_added").count() == 1
