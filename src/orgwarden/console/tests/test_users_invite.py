"""Directory → Users → Invite people: the invitation an admin looks for on the Users page.

Until it existed, Users offered no way to invite anyone; the only invitation form sat on each
product site's page, which Users did not mention (the empty state said "give people access to a
product site" without a link).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import GroupMember, OrgUser
from orgwarden.orgs.services import access as s
from orgwarden.testing import browser

pytestmark = pytest.mark.django_db


@pytest.fixture
def jira(org, admin):
    return s.site_add(
        org=org, actor=admin, product="jira-software", name="Acme Jira", url="https://jira.acme.example"
    )


@pytest.fixture
def wiki(org, admin):
    return s.site_add(
        org=org, actor=admin, product="confluence", name="Acme Wiki", url="https://wiki.acme.example"
    )


def invite_url(org) -> str:
    return reverse("console:users_invite", args=[org.org_id])


def test_the_users_page_leads_to_the_invitation(admin_client, org):
    body = admin_client.get(reverse("console:users", args=[org.org_id])).content.decode()
    assert f'href="{invite_url(org)}">Invite people</a>' in body
    # The empty state names its two ways forward as links, not as prose.
    assert f'<a href="{invite_url(org)}">invite people</a>' in body
    assert f'<a href="{reverse("console:domains", args=[org.org_id])}">Verify a domain</a>' in body


def test_without_a_product_site_it_says_to_add_one_first(admin_client, org):
    response = admin_client.get(invite_url(org))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Add a product site first" in body
    assert f'href="{reverse("console:products", args=[org.org_id])}">Add a product site</a>' in body
    assert "Send invitations" not in body


def test_one_site_is_chosen_already(admin_client, org, jira):
    body = admin_client.get(invite_url(org)).content.decode()
    assert f'value="{jira.site_id}" id="site-{jira.site_id}" checked' in body
    assert f'<label for="site-{jira.site_id}">Acme Jira' in body  # each box has its label


def test_invite_two_people_to_two_sites(
    admin_client, org, jira, wiki, django_capture_on_commit_callbacks, mailoutbox
):
    AccountFactory(email="known@partner.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            invite_url(org),
            {
                "emails": "New@Acme.example\nknown@partner.example",
                "site_ids": [jira.site_id, wiki.site_id],
                "role": "user",
            },
        )
    assert response.status_code == 302 and response["Location"] == reverse("console:users", args=[org.org_id])
    for group in ("Acme Jira users", "Acme Wiki users"):
        members = set(GroupMember.objects.filter(group__name=group).values_list("account__email", flat=True))
        assert members == {"new@acme.example", "known@partner.example"}
    assert AuditEvent.objects.filter(action="org:user:invited").count() == 2
    assert sorted(m.to[0] for m in mailoutbox if "Acme Jira, Acme Wiki" in m.subject) == [
        "known@partner.example",
        "new@acme.example",
    ]
    page = admin_client.get(response["Location"]).content.decode()
    assert "Invited 2 people to Acme Wiki and Acme Jira. They get an email." in page
    assert "new@acme.example" in page and "known@partner.example" in page


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"emails": "new@acme.example", "role": "user"}, "Choose at least one product site."),
        (
            {"emails": "not-an-email", "role": "user", "site_ids": "JIRA"},
            "Not valid email addresses: not-an-email",
        ),
        ({"emails": "", "role": "user", "site_ids": "JIRA"}, "This field is required."),
        ({"emails": "new@acme.example", "role": "owner", "site_ids": "JIRA"}, "Select a valid choice."),
    ],
)
def test_bad_input_invites_nobody(admin_client, org, jira, form, says, mailoutbox):
    if form.get("site_ids") == "JIRA":
        form = {**form, "site_ids": jira.site_id}
    before = AuditEvent.objects.count()
    response = admin_client.post(invite_url(org), form)
    assert response.status_code == 400 and says in response.content.decode()
    assert not OrgUser.objects.exclude(account__email=org.admins.first().account.email).exists()
    assert not mailoutbox and AuditEvent.objects.count() == before


def test_a_closed_account_stops_the_whole_invitation(admin_client, org, jira, mailoutbox):
    closed = AccountFactory(email="closed@acme.example", status=Account.Status.CLOSED)
    response = admin_client.post(
        invite_url(org),
        {"emails": f"fine@acme.example, {closed.email}", "site_ids": jira.site_id, "role": "user"},
    )
    assert response.status_code == 400 and "is closed" in response.content.decode()
    assert not Account.objects.filter(email="fine@acme.example").exists() and not mailoutbox


def test_another_orgs_site_is_a_form_error_that_invites_nobody(admin_client, org, jira, their_site):
    response = admin_client.post(
        invite_url(org),
        {"emails": "new@acme.example", "site_ids": [jira.site_id, their_site.site_id], "role": "user"},
    )
    assert response.status_code == 400
    assert "One of these product sites no longer exists" in response.content.decode()
    assert "Theirs" not in response.content.decode()
    assert not Account.objects.filter(email="new@acme.example").exists()


def test_only_the_orgs_admins_see_it(client, org, other_org_admin):
    client.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    assert client.get(invite_url(org)).status_code == 404
    assert client.post(invite_url(org), {"emails": "x@example.com", "role": "user"}).status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_invite_people_from_the_users_page_in_a_browser(new_page, org_admin):
    from playwright.sync_api import expect

    org = org_admin.org
    s.site_add(
        org=org,
        actor=org_admin.account,
        product="jira-software",
        name="Acme Jira",
        url="https://jira.acme.test",
    )
    s.site_add(
        org=org, actor=org_admin.account, product="confluence", name="Acme Wiki", url="https://wiki.acme.test"
    )
    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:users", args=[org.org_id]))
    page.get_by_role("link", name="Invite people", exact=True).click()
    expect(page.get_by_role("heading", name="Invite people", level=1)).to_be_visible()

    page.get_by_role("button", name="Send invitations").click()  # nothing filled in
    expect(page.get_by_text("Choose at least one product site.")).to_be_visible()
    page.get_by_label("Email addresses").fill("dana@acme.test, eli@partner.test")
    page.get_by_role("group", name="Product sites").get_by_label("Acme Wiki").check()
    page.get_by_role("button", name="Send invitations").click()
    expect(page.get_by_text("Invited 2 people to Acme Wiki. They get an email.")).to_be_visible()
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    expect(page.get_by_role("cell", name="eli@partner.test")).to_be_visible()
    assert set(
        GroupMember.objects.filter(group__name="Acme Wiki users").values_list("account__email", flat=True)
    ) == {"dana@acme.test", "eli@partner.test"}
