"""The console's entry, org pages and navigation: where an admin lands and what every link leads to."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import lxml.html
import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.console.navigation import PAGES, SECTIONS
from orgwarden.console.templatetags.console import page_url
from orgwarden.orgs import services as org_services
from orgwarden.orgs.models import Domain, OrgAdmin, Organization
from orgwarden.orgs.services import claims
from orgwarden.orgs.tests.factories import OrgAdminFactory

pytestmark = pytest.mark.django_db

BACKEND = "orgwarden.accounts.backends.AccountBackend"


def client_for(account) -> Client:
    client = Client()
    client.force_login(account, backend=BACKEND)
    return client


# --- /admin/ -----------------------------------------------------------------------------------------


def test_console_needs_a_signed_in_person(org):
    for path in ["/admin/", "/admin/new", f"/admin/o/{org.org_id}/"]:
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login?next=")


def test_root_sends_people_where_they_belong(admin_client):
    assert Client().get("/")["Location"] == "/login"
    assert admin_client.get("/")["Location"] == "/admin/"


def test_home_goes_straight_to_the_only_org(admin_client, org):
    response = admin_client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == f"/admin/o/{org.org_id}/"


def test_home_shows_a_chooser_with_several_orgs(org_admin):
    second = OrgAdminFactory(account=org_admin.account, org__name="Beta Org").org
    client = client_for(org_admin.account)
    response = client.get("/admin/")
    assert response.status_code == 200
    for o in (org_admin.org, second):
        assert o.name.encode() in response.content
        assert f"/admin/o/{o.org_id}/".encode() in response.content


def test_home_returns_to_the_last_org_unless_asked_to_choose(org_admin):
    second = OrgAdminFactory(account=org_admin.account).org
    client = client_for(org_admin.account)
    assert client.get(f"/admin/o/{second.org_id}/").status_code == 200
    assert client.get("/admin/")["Location"] == f"/admin/o/{second.org_id}/"
    chooser = client.get("/admin/?choose=1")
    assert chooser.status_code == 200 and org_admin.org.name.encode() in chooser.content


def test_home_offers_to_create_an_org_when_there_is_none(account):
    response = client_for(account).get("/admin/")
    assert response.status_code == 200
    assert b"administer an organization yet" in response.content
    assert b'href="/admin/new"' in response.content


@pytest.fixture
def managed_person(org):
    """Ann, a managed account of ``org`` (claimed from its verified domain), admin of no org."""
    domain = Domain.objects.create(
        org=org, name="acme.test", token="t" * 32, status="verified", method="dns", claim="manual"
    )
    ann = AccountFactory(email="ann@acme.test")
    claims.account_claim(org=org, account=ann, domain=domain, actor=Actor.system())
    return ann


def _signed_in_through_the_flow(email: str) -> tuple[Client, object, str]:
    """Sign in as a person does: email, password, the managed-account notice if shown. Returns the
    client, the page the sign-in lands on (redirects followed) and its path."""
    client = Client()
    client.post("/login", {"email": email})
    response = client.post("/login/step/password", {"password": PASSWORD})
    if response["Location"] == "/login/step/managed_notice":
        response = client.post("/login/step/managed_notice")
    landed = client.get(response["Location"], follow=True)
    return client, landed, landed.request["PATH_INFO"]


def test_a_managed_person_who_administers_no_org_lands_on_their_account_pages(org, managed_person):
    """They landed on "You don't administer an organization yet — Create organization"."""
    client, landed, path = _signed_in_through_the_flow(managed_person.email)
    assert landed.status_code == 200 and path == reverse("accounts:account")
    assert b"administer an organization yet" not in landed.content
    client.post("/logout")
    _client, _again, path = _signed_in_through_the_flow(managed_person.email)  # the notice seen
    assert path == reverse("accounts:account")


def test_the_organizations_page_tells_a_managed_person_who_manages_them(org, managed_person):
    response = client_for(managed_person).get("/admin/?choose=1")
    assert response.status_code == 200
    body = response.content.decode()
    assert f"Your account is managed by {org.name}" in body
    assert 'href="/account/"' in body
    assert "administer an organization yet" not in body and 'href="/admin/new"' not in body


def test_a_managed_person_who_is_an_admin_still_lands_on_the_org_console(org, managed_person):
    OrgAdmin.objects.create(org=org, account=managed_person)
    _client, _landed, path = _signed_in_through_the_flow(managed_person.email)
    assert path == f"/admin/o/{org.org_id}/"


def test_a_managed_person_with_an_admin_invitation_finds_it_where_they_land(org, org_admin, managed_person):
    org_services.admin_invite(org=org, actor=org_admin.account, email=managed_person.email)
    _client, landed, path = _signed_in_through_the_flow(managed_person.email)
    assert path == "/admin/"
    assert b"invited you to be an admin" in landed.content


def test_someone_with_no_org_at_all_lands_on_the_offer_to_create_one(account):
    _client, landed, path = _signed_in_through_the_flow(account.email)
    assert path == "/admin/"
    assert b"administer an organization yet" in landed.content and b'href="/admin/new"' in landed.content


def test_home_asks_an_unverified_person_to_verify_first():
    response = client_for(AccountFactory(email_verified=False)).get("/admin/")
    assert b"First verify your email address" in response.content


def test_home_single_org_with_only_one_org_left_after_leaving(org_admin, other_org_admin):
    # The last-org memory never leads into an org the person no longer administers.
    client = client_for(org_admin.account)
    second = OrgAdminFactory(account=org_admin.account)
    client.get(f"/admin/o/{second.org.org_id}/")
    second.delete()
    assert client.get("/admin/")["Location"] == f"/admin/o/{org_admin.org.org_id}/"


# --- org create ----------------------------------------------------------------------------------------


def test_create_an_org(account):
    client = client_for(account)
    assert client.get("/admin/new").status_code == 200
    response = client.post("/admin/new", {"name": "Acme"})
    org = Organization.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/o/{org.org_id}/"
    assert OrgAdmin.objects.filter(org=org, account=account).exists()
    assert AuditEvent.objects.filter(action="org:created", org_id=org.org_id).count() == 1
    assert b"Acme is ready" in client.get(response["Location"]).content


def test_create_an_org_needs_a_verified_email():
    client = client_for(AccountFactory(email_verified=False))
    response = client.post("/admin/new", {"name": "Acme"})
    assert response.status_code == 400
    assert b"Verify your email address before you create an organization." in response.content
    assert not Organization.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "x" * 10_000])
def test_create_an_org_with_a_bad_name_is_a_form_error(account, name):
    response = client_for(account).post("/admin/new", {"name": name})
    assert response.status_code == 400 and b'class="errorlist' in response.content
    assert not Organization.objects.exists() and not AuditEvent.objects.exists()


def test_one_account_creates_ten_orgs_a_day_and_the_eleventh_is_refused_whole(account):
    """Each new org has its own hour of first invitations: without a bound on the orgs, an account
    (or a stolen session of one) could create org after org and invite from each without end."""
    client = client_for(account)
    for n in range(10):
        assert client.post("/admin/new", {"name": f"Acme {n}"}).status_code == 302
    refused = client.post("/admin/new", {"name": "Acme 10"})
    assert refused.status_code == 400
    error = " ".join(lxml.html.fromstring(refused.content).xpath("string(//*[@role='alert'])").split())
    assert "You have created 10 organizations in the last day, the most one account may." in error
    assert re.search(r"Wait \d+ (minutes?|hours), then try again\.", error), error
    assert Organization.objects.count() == 10 and not Organization.objects.filter(name="Acme 10").exists()
    assert AuditEvent.objects.filter(action="org:created").count() == 10

    # The next day's creations are counted afresh; another account has its own ten.
    assert client_for(AccountFactory()).post("/admin/new", {"name": "Other"}).status_code == 302
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert client.post("/admin/new", {"name": "Acme 10"}).status_code == 302


def test_the_operators_bootstrap_is_not_counted_against_an_accounts_orgs(account):
    client = client_for(account)
    for n in range(10):
        assert client.post("/admin/new", {"name": f"Acme {n}"}).status_code == 302
    call_command("bootstrap", "--email", account.email, "--org", "Operator's own", stdout=io.StringIO())
    assert OrgAdmin.objects.filter(account=account, org__name="Operator's own").exists()


# --- org pages -----------------------------------------------------------------------------------------


def test_org_home_shows_the_org_and_its_recent_activity(admin_client, org, org_admin):
    admin_client.post(f"/admin/o/{org.org_id}/settings/", {"name": "Renamed Org"})
    response = admin_client.get(f"/admin/o/{org.org_id}/")
    assert response.status_code == 200
    assert b"Renamed Org" in response.content and b"Organization renamed" in response.content


def test_recent_activity_names_each_events_targets_as_the_audit_log_does(admin_client, org, org_admin):
    ada = OrgAdminFactory(org=org, account__display_name="Ada Lovelace").account
    admin_client.post(f"/admin/o/{org.org_id}/admins/{ada.account_id}/remove")
    pages = {
        "overview": admin_client.get(f"/admin/o/{org.org_id}/").content,
        "audit log": admin_client.get(f"/admin/o/{org.org_id}/audit-log/").content,
    }
    for name, content in pages.items():
        row = lxml.html.fromstring(content).xpath("//tr[td[starts-with(normalize-space(), 'Admin removed')]]")
        assert len(row) == 1, name
        cells = [td.text_content().strip() for td in row[0].findall("td")]
        assert f"{org.name}, Ada Lovelace" in cells, (name, cells)


def test_org_settings_renames(admin_client, org):
    page = admin_client.get(f"/admin/o/{org.org_id}/settings/")
    assert page.status_code == 200 and org.org_id.encode() in page.content
    response = admin_client.post(f"/admin/o/{org.org_id}/settings/", {"name": "  New   Name "})
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.name == "New Name"
    event = AuditEvent.objects.get(action="org:renamed")
    assert event.org_id == org.org_id


@pytest.mark.django_db(transaction=True)
def test_a_rename_sent_twice_at_once_is_recorded_once(admin_client, org, org_admin):
    """Two admins (or one, twice) rename the org to the same name at once. The second request read
    the org before the first committed (the console's org middleware does, outside the rename's
    transaction), so it compared the new name with the old one, renamed again and recorded a second
    org:renamed for one change. The rename now compares with the org's row, read under its lock."""
    from orgwarden.orgs.services import org_rename
    from orgwarden.testing.races import behind_an_open_transaction

    old = org.name
    response = behind_an_open_transaction(
        lambda: org_rename(org=Organization.objects.get(pk=org.pk), actor=org_admin.account, name="New Name"),
        lambda: admin_client.post(f"/admin/o/{org.org_id}/settings/", {"name": "New Name"}),
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.name == "New Name"
    event = AuditEvent.objects.get(action="org:renamed")
    assert event.details == {"from": old, "to": "New Name"}


@pytest.mark.parametrize("name", ["", "x" * 10_000])
def test_org_settings_refuses_a_bad_name(admin_client, org, name):
    old = org.name
    response = admin_client.post(f"/admin/o/{org.org_id}/settings/", {"name": name})
    assert response.status_code == 400 and b'class="errorlist' in response.content
    org.refresh_from_db()
    assert org.name == old and not AuditEvent.objects.exists()


def test_every_nav_link_leads_to_a_page(admin_client, org):
    urls = {page.slug: page_url(page, org.org_id) for section in SECTIONS for page in section.pages}
    assert len(urls) == len(PAGES) > 0
    overview = admin_client.get(f"/admin/o/{org.org_id}/")
    for slug, url in urls.items():
        assert url.encode() in overview.content, f"{slug} is missing from the sidebar"
        response = admin_client.get(url)
        assert response.status_code == 200, f"{slug}: {url} answered {response.status_code}"


def test_pages_not_built_yet_say_so(admin_client, org):
    for page in PAGES.values():
        if page.url_name is None:
            response = admin_client.get(reverse("console:not_built", args=[org.org_id, page.slug]))
            assert response.status_code == 200
            assert b"Not available yet" in response.content and page.title.encode() in response.content


def test_unknown_or_built_slugs_under_soon_are_404(admin_client, org):
    assert admin_client.get(f"/admin/o/{org.org_id}/soon/no-such-page").status_code == 404
    built = next(slug for slug, page in PAGES.items() if page.url_name)
    assert admin_client.get(f"/admin/o/{org.org_id}/soon/{built}").status_code == 404


# --- tenant isolation ----------------------------------------------------------------------------------


def test_another_orgs_pages_are_404(admin_client, other_org_admin):
    theirs = other_org_admin.org.org_id
    paths = [
        f"/admin/o/{theirs}/",
        f"/admin/o/{theirs}/settings/",
        f"/admin/o/{theirs}/admins/",
        f"/admin/o/{theirs}/soon/users",
        "/admin/o/no-such-org/",
    ]
    for path in paths:
        assert admin_client.get(path).status_code == 404, path
    response = admin_client.post(f"/admin/o/{theirs}/settings/", {"name": "Hijacked"})
    assert response.status_code == 404
    other_org_admin.org.refresh_from_db()
    assert other_org_admin.org.name == "Other org"
    assert not AuditEvent.objects.exists()


def test_the_org_switcher_lists_only_ones_own_orgs(admin_client, org, other_org_admin):
    response = admin_client.get(f"/admin/o/{org.org_id}/")
    assert other_org_admin.org.org_id.encode() not in response.content
    assert b"Other org" not in response.content


def test_org_home_counts_domains_managed_accounts_and_sites(org, admin_client):
    from django.db import transaction

    from orgwarden.accounts.tests.factories import AccountFactory
    from orgwarden.audit.services import Actor
    from orgwarden.orgs.models import Domain, ProductSite
    from orgwarden.orgs.services.claims import account_claim

    Domain.objects.create(org=org, name="acme.test", token="t", status=Domain.Status.VERIFIED)
    Domain.objects.create(org=org, name="pending.test", token="t")
    ProductSite.objects.create(org=org, product="confluence", name="Wiki", url="https://wiki.acme.test")
    with transaction.atomic():
        for _ in range(3):
            account_claim(org=org, account=AccountFactory(), domain=None, actor=Actor.system())
    page = admin_client.get(f"/admin/o/{org.org_id}/")
    assert page.status_code == 200
    stats = [int(n) for n in re.findall(r'<p class="stat">(\d+)</p>', page.content.decode())]
    # admins, verified domains, managed accounts, product sites
    assert stats == [1, 1, 3, 1]
