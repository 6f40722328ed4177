"""What console pages say: no unfilled placeholder (``<org>``) reaches an admin, nor the name of
the framework underneath; counts agree with their words."""

from __future__ import annotations

import re

import pytest

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Domain, Group, OrgUser, ProductSite
from orgwarden.orgs.services import access
from orgwarden.orgs.services.claims import account_claim
from orgwarden.policies import services as policy_services

pytestmark = pytest.mark.django_db

PLACEHOLDER = re.compile(r"&lt;[a-z_ ]+&gt;")  # <org>, <name> … as the page's HTML escapes them


def test_deactivating_says_where_the_message_shows_without_a_placeholder(admin_client, org):
    person = AccountFactory(email="pat@acme.test", display_name="Pat Doe")
    account_claim(org=org, account=person, domain=None, actor=Actor.system("test"))
    base = f"/admin/o/{org.org_id}/users/"

    one = admin_client.get(f"{base}{person.account_id}/deactivate").content.decode()
    bulk = admin_client.post(f"{base}bulk", {"action": "deactivate", "account_id": [person.account_id]})
    for body in (one, bulk.content.decode()):
        assert "Message to the person (optional)" in body
        assert PLACEHOLDER.findall(body) == []
        assert "under the notice that your organization deactivated their account" in body


@pytest.mark.parametrize(
    ("members", "says"), [(1, "The accounts of its 1 member stay"), (2, "The accounts of its 2 members stay")]
)
def test_deleting_a_group_says_who_loses_access_in_grammar(admin_client, org, org_admin, members, says):
    group = access.group_create(org=org, actor=org_admin.account, name="Devs")
    people = [AccountFactory() for _ in range(members)]
    for person in people:
        OrgUser.objects.create(org=org, account=person, email=person.email)
    ids = [person.account_id for person in people]
    access.group_members_add(org=org, actor=org_admin.account, group_id=group.group_id, account_ids=ids)

    page = admin_client.get(f"/admin/o/{org.org_id}/groups/{group.group_id}/delete").content.decode()
    assert says in page


def _members(org, admin, group, people) -> None:
    ids = [person.account_id for person in people]
    access.group_members_add(org=org, actor=admin, group_id=group.group_id, account_ids=ids)


def test_deleting_a_group_or_removing_a_site_counts_who_loses_each_site(admin_client, org, org_admin):
    """Ann and Ben have the wiki only through Writers; Cy has it through Editors too and keeps it.
    Deleting Writers takes the wiki from two people (not three) and the admin role on the tracker
    from one; removing the wiki takes it from all three, each counted once."""
    admin = org_admin.account
    wiki = access.site_add(org=org, actor=admin, product="confluence", name="Wiki", url="https://w.test")
    tracker = access.site_add(
        org=org, actor=admin, product="jira-software", name="Tracker", url="https://t.test"
    )
    writers = access.group_create(org=org, actor=admin, name="Writers")
    editors = access.group_create(org=org, actor=admin, name="Editors")
    ann, ben, cy = (AccountFactory(email=f"{n}@acme.test") for n in ("ann", "ben", "cy"))
    for person in (ann, ben, cy):
        OrgUser.objects.create(org=org, account=person, email=person.email)
    _members(org, admin, writers, [ann, ben, cy])
    _members(org, admin, editors, [cy])
    for group, site, role in ((writers, wiki, "user"), (editors, wiki, "user"), (writers, tracker, "admin")):
        access.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role=role)
    access.access_grant(org=org, actor=admin, site_id=tracker.site_id, group_id=editors.group_id, role="user")
    access.site_default_groups_set(org=org, actor=admin, site_id=wiki.site_id, group_ids=[writers.group_id])
    base = f"/admin/o/{org.org_id}/"

    group_page = admin_client.get(f"{base}groups/{writers.group_id}/delete").content.decode()
    assert "2 people lose Wiki at once: they have it only through Writers." in group_page
    assert "1 of its 3 members keeps it through another group." in group_page
    assert "2 people lose Tracker at once" in group_page
    assert "1 person keeps Tracker but is no longer an admin of it" in group_page
    assert "People you invite to Wiki no longer join Writers." in group_page
    assert "The accounts of its 3 members stay." in group_page

    site_page = admin_client.get(f"{base}products/{wiki.site_id}/remove").content.decode()
    assert "3 people lose it at once." in site_page
    assert "2 groups lose access to it: Editors, Writers." in site_page
    assert Group.objects.filter(pk=writers.pk).exists() and ProductSite.objects.filter(pk=wiki.pk).exists()


@pytest.mark.parametrize(("members", "says"), [(1, "Its 1 member goes back"), (2, "Its 2 members go back")])
def test_deleting_a_policy_says_where_its_members_go_in_grammar(admin_client, org, org_admin, members, says):
    people = [AccountFactory() for _ in range(members)]
    for person in people:
        account_claim(org=org, account=person, domain=None, actor=Actor.system("test"))
    local = org.directories.get(kind="local")
    policy = policy_services.policy_create(
        org=org, actor=org_admin.account, directory_id=local.directory_id, name="Contractors"
    )
    ids = [person.account_id for person in people]
    policy_services.policy_members_move(
        org=org, actor=org_admin.account, policy_id=policy.policy_id, account_ids=ids
    )

    page = admin_client.get(f"/admin/o/{org.org_id}/policies/{policy.policy_id}/delete").content.decode()
    assert says in page


def test_the_password_strength_choices_speak_of_rules_not_of_the_framework(admin_client, org):
    policy = org.directories.get(kind="local").policies.get(is_default=True)
    page = admin_client.get(f"/admin/o/{org.org_id}/policies/{policy.policy_id}/").content.decode()
    assert "Minimum strength" in page
    assert "Django" not in page
    assert "0 — no score: only the basic rules (not common, not all digits, not like the name)" in page


def test_insights_tables_head_their_columns_in_words_not_keys(admin_client, org):
    page = admin_client.get(f"/admin/o/{org.org_id}/insights/").content.decode()
    headings = re.findall(r'<th scope="col">([^<]*)</th>', page)
    assert "Users with access" in headings and "Active users" in headings
    assert [h for h in headings if "_" in h] == []
    csv = admin_client.get(f"/admin/o/{org.org_id}/insights/site-activity.csv").content.decode()
    assert csv.splitlines()[0] == "site,product,users_with_access,active,inactive"  # the CSV keeps its keys


def test_external_users_are_described_as_the_page_lists_them(admin_client, org, org_admin):
    """The page lists every user with access whom the org doesn't manage — on a verified domain too,
    when claiming is manual and the account is not claimed yet — so it can't say "outside your
    verified domains" alone."""
    domain = Domain.objects.create(org=org, name="acme.test", status=Domain.Status.VERIFIED)
    assert domain.claim == Domain.Claim.MANUAL
    erin = AccountFactory(email="erin@acme.test")
    OrgUser.objects.create(org=org, account=erin, email=erin.email)
    group = access.group_create(org=org, actor=org_admin.account, name="Wiki users")
    access.group_members_add(
        org=org, actor=org_admin.account, group_id=group.group_id, account_ids=[erin.account_id]
    )

    page = admin_client.get(f"/admin/o/{org.org_id}/external-users/").content.decode()
    assert "erin@acme.test" in page
    assert (
        "whose accounts it doesn't manage: outside your verified domains, or on one and not claimed yet"
        in page
    )


def test_an_unclaimed_account_on_a_verified_domain_is_external_everywhere_and_in_the_readme(
    admin_client, org, org_admin
):
    """External means "with access, not managed by the org" — what Atlassian Guard calls external
    users, and what the org's policies don't reach — so an account on a verified domain that is not
    claimed yet (claiming reviewed) is one: on the External users page, in insights, on the
    overview. The README's vocabulary said "an account on an unverified domain", which it isn't."""
    from pathlib import Path

    Domain.objects.create(org=org, name="acme.test", status=Domain.Status.VERIFIED, claim=Domain.Claim.MANUAL)
    admin = org_admin.account
    site = access.site_add(org=org, actor=admin, product="confluence", name="Wiki", url="https://w.acme.test")
    erin = access.user_invite(org=org, actor=admin, email="erin@acme.test", site_ids=[site.site_id])
    assert not OrgUser.objects.get(org=org, account=erin).is_managed

    base = f"/admin/o/{org.org_id}"
    assert "erin@acme.test" in admin_client.get(f"{base}/external-users/").content.decode()
    chart = admin_client.get(f"{base}/insights/managed-vs-external.csv").content.decode()
    assert chart.splitlines()[1:] == ["Managed,0", "External,1"]
    assert "1 external user" in admin_client.get(f"{base}/").content.decode()

    readme = (Path(__file__).resolve().parents[4] / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| external user |"))
    assert "the org does not manage" in row and "verified domain not claimed yet" in row


def test_the_overview_counts_the_external_users_the_external_users_page_lists(admin_client, org, org_admin):
    """The overview counted every user of the org it doesn't manage, also one taken out of its last
    group (no access left, so not listed on External users): "1 external user" over an empty list."""
    admin = org_admin.account
    site = access.site_add(org=org, actor=admin, product="confluence", name="Wiki", url="https://w.acme.test")
    access.user_invite(org=org, actor=admin, email="erin@elsewhere.test", site_ids=[site.site_id])
    fred = access.user_invite(org=org, actor=admin, email="fred@elsewhere.test", site_ids=[site.site_id])
    (membership,) = fred.group_memberships.filter(group__org=org).select_related("group")
    access.group_member_remove(
        org=org, actor=admin, group_id=membership.group.group_id, account_id=fred.account_id
    )
    assert OrgUser.objects.filter(org=org, account=fred, is_managed=False).exists()  # still a user of the org

    base = f"/admin/o/{org.org_id}"
    listed = admin_client.get(f"{base}/external-users/").content.decode()
    assert "erin@elsewhere.test" in listed and "fred@elsewhere.test" not in listed
    assert "1 external user<" in admin_client.get(f"{base}/").content.decode()


def test_insights_does_not_say_everyone_has_been_active_when_nobody_has_access(admin_client, org, org_admin):
    """A new org's Insights said "Everyone with access has been active in the last 30 days" over an
    empty list: nobody had access at all."""
    url = f"/admin/o/{org.org_id}/insights/"
    body = admin_client.get(url).content.decode()
    assert "Nobody has access to your product sites yet." in body and "Everyone with access" not in body

    site = access.site_add(
        org=org, actor=org_admin.account, product="confluence", name="Wiki", url="https://w.example"
    )
    access.user_invite(
        org=org, actor=org_admin.account, email="erin@partner.example", site_ids=[site.site_id]
    )
    body = admin_client.get(url).content.decode()
    assert "erin@partner.example" in body and "Nobody has access" not in body
