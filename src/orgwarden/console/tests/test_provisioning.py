"""Console → an IdP directory's "User provisioning (SCIM)" page."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from orgwarden.audit.models import AuditEvent
from orgwarden.billing.tests.factories import SubscriptionFactory
from orgwarden.orgs.models import Group
from orgwarden.scim import services
from orgwarden.scim.models import ScimKey
from orgwarden.scim.tests.conftest import ScimClient, user_body, verified_domain
from orgwarden.sso import services as sso_services
from orgwarden.testing import browser


@pytest.fixture
def directory(org, org_admin):
    verified_domain(org, "example.com")
    SubscriptionFactory(org=org)  # provisioning needs the security subscription
    return sso_services.idp_add(org=org, actor=org_admin.account, vendor="entra", name="Entra").directory


def _url(org, directory, suffix=""):
    return f"/admin/o/{org.org_id}/directories/{directory.directory_id}/provisioning/{suffix}"


def test_idp_page_links_to_provisioning(admin_client, org, directory):
    page = admin_client.get(
        f"/admin/o/{org.org_id}/identity-providers/{directory.saml_connection.connection_id}/"
    )
    assert _url(org, directory).encode() in page.content


def test_generate_key_shows_it_once_and_it_works(admin_client, org, directory):
    page = admin_client.get(_url(org, directory))
    assert b"Not set up" in page.content and b"/scim/directory/" in page.content
    response = admin_client.post(_url(org, directory, "key"))
    key = re.search(rb'id="scim-key"[^>]*>([^<]+)<', response.content).group(1).decode()
    assert response["Cache-Control"] == "no-store"
    assert ScimKey.objects.get(directory=directory).key_hash != key
    assert key.encode() not in admin_client.get(_url(org, directory)).content
    scim = ScimClient(directory, key)
    assert scim.post("/Users", user_body()).status_code == 201
    page = admin_client.get(_url(org, directory))
    assert b"1 active" in page.content and b"create" in page.content


def _key_of(response) -> str:
    return re.search(rb'id="scim-key"[^>]*>([^<]+)<', response.content).group(1).decode()


def _generated(org, org_admin, directory) -> str:
    return services.scim_key_generate(org=org, actor=org_admin.account, directory_id=directory.directory_id)


def test_regenerating_the_key_asks_first_and_the_question_changes_nothing(
    admin_client, org, org_admin, directory
):
    """Regenerating stops the IdP's provisioning until the new key is in it: the page offers a link
    to a confirmation that says so, naming the directory and the key; opening it changes nothing."""
    key = _generated(org, org_admin, directory)
    assert ScimClient(directory, key).post("/Users", user_body()).status_code == 201  # in use
    row = ScimKey.objects.get(directory=directory)
    page = admin_client.get(_url(org, directory)).content.decode()
    assert f'href="{_url(org, directory, "key")}">Regenerate API key…</a>' in page
    assert "Generate API key</button>" not in page  # no one-click regeneration left on the page
    events = AuditEvent.objects.count()

    confirm = admin_client.get(_url(org, directory, "key"))
    text = html.unescape(confirm.content.decode())
    assert confirm.status_code == 200
    assert "Regenerate the SCIM key of Entra?" in text
    assert f"The current key ({key[:10]}…) stops working at once: Entra's user provisioning fails" in text
    assert "until someone pastes the new key into Microsoft Entra ID" in text
    assert "Entra last provisioned a change just now." in text
    assert "The new key is shown once, on the next page" in text
    assert f'<input type="hidden" name="replaces" value="{key[:10]}">' in text
    assert 'class="button-danger">Regenerate API key</button>' in text
    assert ScimKey.objects.get(directory=directory) == row and row.key_hash == ScimKey.objects.get().key_hash
    assert AuditEvent.objects.count() == events
    assert ScimClient(directory, key).get("/Users").status_code == 200  # the IdP still provisions


def test_the_confirmations_button_regenerates_shows_the_key_once_and_records_it(
    admin_client, org, org_admin, directory
):
    """What the confirmation's form sends (its CSRF token and the key it replaces) regenerates."""
    old = _generated(org, org_admin, directory)
    form = admin_client.get(_url(org, directory, "key")).content.decode()
    sent = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
    assert sent["replaces"] == old[:10] and "csrfmiddlewaretoken" in sent
    no_token = Client(enforce_csrf_checks=True)
    no_token.force_login(org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    assert no_token.post(_url(org, directory, "key"), {"replaces": old[:10]}).status_code == 403

    response = admin_client.post(_url(org, directory, "key"), sent)
    new = _key_of(response)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert new != old and b"Copy this API key now." in response.content
    assert ScimClient(directory, old).get("/Users").status_code == 401
    assert ScimClient(directory, new).get("/Users").status_code == 200
    event = AuditEvent.objects.filter(action="scim:key:generated").last()
    assert event.details == {"replaced": True} and event.actor_id == org_admin.account.account_id
    assert new.encode() not in admin_client.get(_url(org, directory)).content


@pytest.mark.parametrize("replaces", ["old", "", None, "scim_zzzzz"])
def test_a_stale_or_repeated_regeneration_keeps_the_key_just_shown(
    admin_client, org, org_admin, directory, replaces
):
    """The confirmation sent twice, the page that showed the new key reloaded (its POST again), a
    second tab, or a direct POST without the confirmation: refused with a message, nothing changes."""
    old = _generated(org, org_admin, directory)
    current = _key_of(admin_client.post(_url(org, directory, "key"), {"replaces": old[:10]}))
    events = AuditEvent.objects.count()
    data = {} if replaces is None else {"replaces": old[:10] if replaces == "old" else replaces}
    again = admin_client.post(_url(org, directory, "key"), data, follow=True)
    assert again.redirect_chain == [(_url(org, directory), 302)]
    assert (
        f"Entra's key changed since that page was shown (it now begins {current[:10]}…): nothing changed."
        in html.unescape(again.content.decode())
    )
    assert ScimClient(directory, current).get("/Users").status_code == 200
    assert AuditEvent.objects.count() == events


def test_the_first_key_needs_no_confirmation(admin_client, org, directory):
    """Nothing provisions without a key, so the first one breaks nothing: "Generate API key" posts
    at once. The confirmation's URL, opened without a key, goes back to the page."""
    page = admin_client.get(_url(org, directory)).content.decode()
    assert '<input type="hidden" name="replaces" value="">' in page
    response = admin_client.get(_url(org, directory, "key"))
    assert response.status_code == 302 and response["Location"] == _url(org, directory)
    assert (
        not ScimKey.objects.exists() and not AuditEvent.objects.filter(action="scim:key:generated").exists()
    )
    assert _key_of(admin_client.post(_url(org, directory, "key"), {"replaces": ""})).startswith("scim_")


@pytest.mark.parametrize(
    ("vendor", "says"),
    [
        (
            "okta",
            [
                "Connect Okta",
                "SCIM connector base URL: the SCIM base URL",
                "Authentication Mode: HTTP Header",
            ],
        ),
        (
            "entra",
            ["Connect Microsoft Entra ID", "Tenant URL: the SCIM base URL", "Secret Token: the API key"],
        ),
        ("onelogin", ["Connect OneLogin", "SCIM Bearer Token: the API key"]),
        ("jumpcloud", ["Connect JumpCloud", "Token Key: the API key"]),
        ("google", ["Connect Google Workspace", "only into the apps of its own catalog"]),
        ("adfs", ["AD FS has no SCIM provisioning"]),
        ("ping", ["Connect Ping Identity", "Authorization: Bearer followed by the API key"]),
    ],
)
def test_the_page_says_where_the_idps_console_takes_the_url_and_key(
    admin_client, org, org_admin, vendor, says
):
    verified_domain(org, "example.com")
    SubscriptionFactory(org=org)
    directory = sso_services.idp_add(org=org, actor=org_admin.account, vendor=vendor, name="IdP").directory
    page = admin_client.get(_url(org, directory)).content.decode()
    for text in says:
        assert text in page, text
    steps = re.search(r'id="scim-guide".*?</section>', page, re.S).group(0)
    assert ("<ol>" in steps) is (vendor not in ("google", "adfs"))  # no steps where the IdP has no SCIM


def test_another_orgs_directory_is_404(org, directory, other_org_admin):
    client = Client()
    client.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    other = other_org_admin.org
    assert (
        client.get(f"/admin/o/{other.org_id}/directories/{directory.directory_id}/provisioning/").status_code
        == 404
    )
    key_url = f"/admin/o/{other.org_id}/directories/{directory.directory_id}/provisioning/key"
    assert client.post(key_url).status_code == 404
    assert client.get(key_url).status_code == 404  # its confirmation too
    assert not ScimKey.objects.exists()


def test_log_filters_by_result(admin_client, org, org_admin, directory):
    key = services.scim_key_generate(org=org, actor=org_admin.account, directory_id=directory.directory_id)
    scim = ScimClient(directory, key)
    scim.post("/Users", user_body())
    scim.post("/Users", user_body("x@elsewhere.org"))
    errors = admin_client.get(_url(org, directory) + "?result=error")
    assert b"elsewhere.org is not a verified domain" in errors.content
    ok = admin_client.get(_url(org, directory) + "?result=ok")
    assert b"not a verified domain" not in ok.content and b"badge-success" in ok.content


def test_clash_merge_from_the_console(admin_client, org, directory):
    local = Group.objects.create(org=org, name="Engineering")
    group = services.scim_group_create(directory=directory, data={"displayName": "engineering"})
    page = admin_client.get(_url(org, directory))
    assert b"Groups waiting for your decision" in page.content
    response = admin_client.post(
        _url(org, directory, f"groups/{group.scim_id}/resolve"), {"decision": "merge"}
    )
    assert response.status_code == 302
    local.refresh_from_db()
    assert local.directory == directory


def test_a_clash_decision_sent_twice_says_there_is_none_left(admin_client, org, directory):
    """The second decision answered a 404 page; it says the clash is resolved now, and changes nothing."""
    from orgwarden.audit.models import AuditEvent

    Group.objects.create(org=org, name="Engineering")
    group = services.scim_group_create(directory=directory, data={"displayName": "engineering"})
    url = _url(org, directory, f"groups/{group.scim_id}/resolve")
    assert admin_client.post(url, {"decision": "rename", "new_name": "Eng (IdP)"}).status_code == 302
    again = admin_client.post(url, {"decision": "rename", "new_name": "Eng (IdP) 2"}, follow=True)
    assert again.status_code == 200 and "has no name clash to resolve" in again.content.decode()
    assert sorted(Group.objects.values_list("name", flat=True)) == ["Eng (IdP)", "Engineering"]
    assert AuditEvent.objects.filter(action="scim:group:clash_resolved").count() == 1


@pytest.mark.django_db(transaction=True)
def test_clash_rename_racing_a_new_group_of_that_name_asks_for_another(
    admin_client, org, org_admin, directory
):
    """The admin renames the synced group to "Eng (Entra)" while a colleague creates a local group of
    that name: the rename waits for it (PostgreSQL) and fails on the unique name. The console asks
    for another name, as when the group came first, and the synced group still waits; no 500."""
    from orgwarden.orgs.services.access import group_create
    from orgwarden.scim.models import ScimGroup
    from orgwarden.testing.races import behind_an_open_transaction

    Group.objects.create(org=org, name="Engineering")
    group = services.scim_group_create(directory=directory, data={"displayName": "engineering"})
    response = behind_an_open_transaction(
        lambda: group_create(org=org, actor=org_admin.account, name="Eng (Entra)"),
        lambda: admin_client.post(
            _url(org, directory, f"groups/{group.scim_id}/resolve"),
            {"decision": "rename", "new_name": "Eng (Entra)"},
            follow=True,
        ),
    )
    assert response.status_code == 200
    assert b"Choose a name no other group uses (Eng (Entra))" in response.content
    group = ScimGroup.objects.get(pk=group.pk)
    assert group.group is None and group.clash_group is not None
    assert sorted(Group.objects.values_list("name", flat=True)) == ["Eng (Entra)", "Engineering"]


def _unlinked_user(directory):
    """A provisioned user whose email the IdP changed to one another account already uses."""
    from orgwarden.accounts.tests.factories import AccountFactory

    user = services.scim_user_create(directory=directory, data=user_body())
    AccountFactory(email="new@example.com")
    body = user_body()
    body["emails"] = [{"value": "new@example.com", "primary": True}]
    services.scim_user_replace(directory=directory, scim_id=user.scim_id, data=body)
    return user


def test_relink_from_the_console(admin_client, org, directory):
    user = _unlinked_user(directory)
    assert b"new@example.com belongs to another account" in admin_client.get(_url(org, directory)).content
    response = admin_client.post(_url(org, directory, f"users/{user.scim_id}/relink"))
    assert response.status_code == 302
    assert b"Every provisioned user is linked" in admin_client.get(_url(org, directory)).content


def test_a_record_is_relinked_or_resolved_only_under_its_own_directorys_url(
    admin_client, org, org_admin, directory
):
    """The URL names the directory; a record of another of the org's directories was acted on."""
    from orgwarden.audit.models import AuditEvent

    other = sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta").directory
    user = _unlinked_user(directory)
    Group.objects.create(org=org, name="Engineering")
    group = services.scim_group_create(directory=directory, data={"displayName": "engineering"})
    assert admin_client.post(_url(org, other, f"users/{user.scim_id}/relink")).status_code == 404
    resolve = _url(org, other, f"groups/{group.scim_id}/resolve")
    assert admin_client.post(resolve, {"decision": "merge"}).status_code == 404
    assert not AuditEvent.objects.filter(
        action__in=["scim:user:relinked", "scim:group:clash_resolved"]
    ).exists()


def test_a_relink_sent_twice_relinks_once_and_says_so(admin_client, org, directory):
    from orgwarden.audit.models import AuditEvent

    user = _unlinked_user(directory)
    url = _url(org, directory, f"users/{user.scim_id}/relink")
    assert admin_client.post(url).status_code == 302
    again = admin_client.post(url, follow=True)
    assert again.status_code == 200 and "is linked already" in again.content.decode()
    assert AuditEvent.objects.filter(action="scim:user:relinked").count() == 1


def test_the_log_names_what_each_create_made_or_whom_a_refused_one_was_for(
    admin_client, org, org_admin, directory
):
    """A create's line shows the id it made; a refused create's error starts with the userName (or
    the group's displayName) it was for, so an admin can tell whose provisioning failed."""
    from orgwarden.scim.models import ProvisioningLog

    key = services.scim_key_generate(org=org, actor=org_admin.account, directory_id=directory.directory_id)
    scim = ScimClient(directory, key)
    created = scim.post("/Users", user_body()).json()["id"]
    assert scim.post("/Users", user_body("x@elsewhere.org")).status_code == 400
    group = {"displayName": "Designers", "members": [{"value": "no-such-user"}]}
    assert scim.post("/Groups", group).status_code == 400
    assert scim.post("/Users", user_body()).status_code == 409  # its detail names the userName already
    rows = list(ProvisioningLog.objects.filter(directory=directory).order_by("at", "pk"))
    assert [(r.resource_id, r.error.split(":")[0]) for r in rows[:3]] == [
        (created, ""),
        ("", "x@elsewhere.org"),
        ("", "Designers"),
    ]
    assert rows[3].error == "A user with userName ada@example.com already exists."
    page = admin_client.get(_url(org, directory)).content.decode()
    assert f'<code class="small">{created}</code>' in page and "x@elsewhere.org: " in page


def test_every_unlinked_record_is_reachable_page_by_page(admin_client, org, directory):
    """A released domain can unlink thousands of records at once: the list pages through all of
    them by userName (it showed the first 200 and no more), and keeps the log's filter meanwhile."""
    from orgwarden.scim.models import ScimUser

    names = [f"user{i:03}@example.com" for i in range(230)]
    ScimUser.objects.bulk_create(ScimUser(directory=directory, user_name=n, user_name_key=n) for n in names)
    seen, url, pages = [], _url(org, directory) + "?operation=create", 0
    while url:
        page = admin_client.get(url).content.decode()
        pages += 1
        assert 'name="operation"' in page and '<option value="create" selected>' in page
        section = page.split('id="unlinked"', 1)[1].split('id="log"', 1)[0]
        seen += re.findall(r"<tr><td>(user\d+@example\.com)</td>", section)
        following = re.search(r'href="([^"]*after=[^"]*)" rel="next"', section)
        url = _url(org, directory) + following.group(1).replace("&amp;", "&") if following else None
    assert seen == names and pages == 5
    assert "← First page" in section and "No account" in section


# --- in a real browser --------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_provisioning_journey_in_a_browser(new_page, live_server):
    """An admin opens the IdP's page, sets up user provisioning, copies the key shown once; the IdP
    (an HTTP client against the live server) provisions a user; the page counts it and logs it."""
    import httpx
    from playwright.sync_api import expect

    from orgwarden.orgs.tests.factories import OrgAdminFactory

    role = OrgAdminFactory(org__name="Acme", account__email="ann@acme.test")
    verified_domain(role.org, "acme.test")
    SubscriptionFactory(org=role.org)
    connection = sso_services.idp_add(org=role.org, actor=role.account, vendor="okta", name="Okta")
    ann = new_page()
    browser.sign_in(ann, "ann@acme.test", "correct horse battery staple")
    ann.goto(f"/admin/o/{role.org.org_id}/identity-providers/{connection.connection_id}/")
    ann.get_by_role("link", name="Set up user provisioning").click()
    expect(ann.get_by_role("heading", name="User provisioning (SCIM)")).to_be_visible()
    ann.get_by_role("button", name="Generate API key").click()
    key = ann.get_by_label("Directory API key (Bearer token)").input_value()
    base = ann.get_by_label("SCIM base URL").input_value()
    assert key.startswith("scim_") and base.endswith(f"/scim/directory/{connection.directory.directory_id}")
    guide = ann.get_by_role("region", name="Connect Okta")
    expect(guide.get_by_role("listitem").first).to_contain_text("Provisioning to SCIM")

    response = httpx.post(
        base + "/Users",
        json=user_body("bob@acme.test"),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/scim+json"},
    )
    assert response.status_code == 201, response.text
    ann.get_by_role("link", name="← Okta").click()
    ann.get_by_role("link", name="Set up user provisioning").click()
    expect(ann.get_by_text("1 (1 active)")).to_be_visible()
    expect(ann.get_by_role("cell", name="create")).to_be_visible()
    ann.get_by_label("Result").select_option("error")
    ann.get_by_role("button", name="Apply").click()
    expect(ann.get_by_text("No provisioning requests match these filters.")).to_be_visible()


@pytest.mark.parametrize("page", ["9223372036854775807", "99999999999999999999999"])
def test_a_page_number_past_any_log_is_an_empty_page_not_a_500(admin_client, org, directory, page):
    """The offset it made overflowed the database's 64-bit integer (a 500 on SQLite and PostgreSQL)."""
    response = admin_client.get(_url(org, directory), {"page": page})
    assert response.status_code == 200


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_merging_a_clashing_group_asks_first_in_a_browser(new_page, live_server):
    """Merge replaces the local group's members by the IdP's, and with them the product access the
    group gives: it happened at the first click. It now opens a confirmation saying so."""
    from playwright.sync_api import expect

    from orgwarden.accounts.tests.factories import PASSWORD
    from orgwarden.orgs.tests.factories import OrgAdminFactory

    role = OrgAdminFactory(org__name="Acme")
    org = role.org
    verified_domain(org, "example.com")
    SubscriptionFactory(org=org)
    directory = sso_services.idp_add(org=org, actor=role.account, vendor="okta", name="Okta").directory
    local = Group.objects.create(org=org, name="Engineering")
    services.scim_group_create(directory=directory, data={"displayName": "engineering"})
    ann = new_page()
    browser.sign_in(ann, role.account.email, PASSWORD)
    ann.goto(_url(org, directory))

    ann.get_by_text("Merge…").click()
    confirm = ann.get_by_role("button", name="Merge into Engineering")
    expect(confirm).to_be_visible()
    expect(ann.get_by_text("members are replaced by the identity provider's at once")).to_be_visible()
    local.refresh_from_db()
    assert local.directory is None  # the first click merged nothing

    confirm.click()
    expect(ann.get_by_text("Groups waiting for your decision")).to_be_hidden()
    local.refresh_from_db()
    assert local.directory == directory
