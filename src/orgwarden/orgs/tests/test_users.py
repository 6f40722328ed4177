"""orgs.services.users and orgs.selectors.users: every admin action on a managed account, its
event, nothing half-applied; the deletion job; the keyset-paged list and the account page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from orgwarden.accounts import hooks
from orgwarden.accounts.models import Account, Session
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.exceptions import InvalidInput, NotFound, NotManaged, ProfileManagedByIdp
from orgwarden.orgs.models import (
    Activity,
    Directory,
    Domain,
    Group,
    GroupMember,
    OrgAdmin,
    OrgUser,
    ProductSite,
    SiteAccess,
)
from orgwarden.orgs.selectors import users as selectors
from orgwarden.orgs.selectors.users import UserFilters
from orgwarden.orgs.services import users as services
from orgwarden.orgs.services.claims import account_claim, local_directory, org_user_ensure

pytestmark = pytest.mark.django_db

BACKEND = "orgwarden.accounts.backends.AccountBackend"


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def one_event(action: str) -> AuditEvent:
    found = events(action)
    assert len(found) == 1, f"expected one {action} event, found {len(found)}"
    return found[0]


def verified_domain(org, name: str = "acme.test") -> Domain:
    return Domain.objects.create(
        org=org, name=name, token="t", status=Domain.Status.VERIFIED, verified_at=timezone.now()
    )


def managed(org, email: str | None = None, **account_fields) -> Account:
    """A managed account of ``org`` (claimed through the real primitive, its event cleared)."""
    account = AccountFactory(**({"email": email} if email else {}), **account_fields)
    account_claim(org=org, account=account, domain=None, actor=Actor.system("test"))
    return account


def external(org, **account_fields) -> Account:
    account = AccountFactory(**account_fields)
    org_user_ensure(org=org, account=account)
    return account


def session_for(account: Account) -> Client:
    client = Client()
    client.force_login(account, backend=BACKEND)
    return client


@dataclass
class ApiKey:
    """An org API key as ``org_actor`` sees one (the real key model belongs to the tokens app)."""

    org_id: int
    key_id: str = "key_123"
    name: str = "Provisioning script"


@pytest.fixture
def person(org) -> Account:
    return managed(org, email="pat@acme.test", display_name="Pat Doe")


def no_change_events() -> set[str]:
    return set(AuditEvent.objects.exclude(action="org:account:claimed").values_list("action", flat=True))


# --- who may act ---------------------------------------------------------------------------------------


def test_another_orgs_admin_gets_not_found(other_org_admin, person, org):
    with pytest.raises(NotFound):
        services.user_deactivate(org=org, actor=other_org_admin.account, account_id=person.account_id)
    person.refresh_from_db()
    assert person.status == Account.Status.ACTIVE and not no_change_events()


def test_another_orgs_account_is_not_found(admin, org, other_org_admin):
    theirs = managed(other_org_admin.org)
    for call in (
        lambda: services.user_deactivate(org=org, actor=admin, account_id=theirs.account_id),
        lambda: services.user_profile_update(
            org=org, actor=admin, account_id=theirs.account_id, changes={"job_title": "x"}
        ),
        lambda: services.user_sessions_end(org=org, actor=admin, account_id=theirs.account_id),
        lambda: services.user_deletion_schedule(org=org, actor=admin, account_id=theirs.account_id),
        lambda: selectors.user_detail(org=org, account_id=theirs.account_id),
    ):
        with pytest.raises(NotFound):
            call()
    theirs.refresh_from_db()
    assert theirs.status == Account.Status.ACTIVE and not no_change_events()


@pytest.mark.parametrize("account_id", ["", "nope", "x\x00y", "a" * 500])
def test_unknown_account_ids_are_not_found(admin, org, account_id):
    with pytest.raises(NotFound):
        services.user_deactivate(org=org, actor=admin, account_id=account_id)


def test_an_api_key_of_the_org_may_act_and_is_the_recorded_actor(org, person):
    services.user_deactivate(org=org, actor=ApiKey(org_id=org.pk), account_id=person.account_id)
    event = one_event("org:account:deactivated")
    assert event.actor_type == "api_key" and event.actor_id == "key_123"


def test_an_api_key_of_another_org_is_not_found(org, person, other_org_admin):
    with pytest.raises(NotFound):
        services.user_deactivate(
            org=org, actor=ApiKey(org_id=other_org_admin.org.pk), account_id=person.account_id
        )


# --- profile -------------------------------------------------------------------------------------------


def test_profile_update_changes_fields_and_records_what_changed(admin, org, person):
    account = services.user_profile_update(
        org=org,
        actor=admin,
        account_id=person.account_id,
        changes={"display_name": "  Pat   Smith ", "job_title": "Engineer", "location": ""},
    )
    person.refresh_from_db()
    assert person.display_name == "Pat Smith" and person.job_title == "Engineer" and account == person
    event = one_event("org:account:profile_updated")
    assert event.org_id == org.org_id and event.actor_id == admin.account_id
    assert event.details == {
        "changed": {
            "display_name": {"from": "Pat Doe", "to": "Pat Smith"},
            "job_title": {"from": "", "to": "Engineer"},
        }
    }
    assert event.targets[0]["id"] == person.account_id


def test_profile_update_without_a_change_records_nothing(admin, org, person):
    services.user_profile_update(
        org=org, actor=admin, account_id=person.account_id, changes={"display_name": "Pat Doe"}
    )
    assert not events("org:account:profile_updated")


@pytest.mark.parametrize(
    "changes",
    [
        {"display_name": ""},
        {"display_name": "x" * 151},
        {"job_title": "x" * 151},
        {"email": "a@b.c"},
        {"password": "x"},
        {"department": 3},
        {},
        {"job_title": "ok", "nope": "x"},
    ],
)
def test_profile_update_refuses_bad_input_and_changes_nothing(admin, org, person, changes):
    with pytest.raises(InvalidInput):
        services.user_profile_update(org=org, actor=admin, account_id=person.account_id, changes=changes)
    person.refresh_from_db()
    assert person.display_name == "Pat Doe" and person.job_title == "" and not no_change_events()


def test_profile_of_an_idp_provisioned_account_is_read_only(admin, org, person):
    idp = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name="Okta")
    OrgUser.objects.filter(account=person).update(directory=idp)
    with pytest.raises(ProfileManagedByIdp):
        services.user_profile_update(
            org=org, actor=admin, account_id=person.account_id, changes={"job_title": "x"}
        )
    person.refresh_from_db()
    assert person.job_title == "" and not no_change_events()
    assert selectors.user_detail(org=org, account_id=person.account_id).profile_read_only


def test_profile_of_an_external_user_is_not_the_orgs_to_change(admin, org):
    guest = external(org)
    with pytest.raises(NotManaged):
        services.user_profile_update(
            org=org, actor=admin, account_id=guest.account_id, changes={"job_title": "x"}
        )
    guest.refresh_from_db()
    assert guest.job_title == "" and not no_change_events()


# --- email ---------------------------------------------------------------------------------------------


def test_email_change_to_a_verified_domain_updates_every_copy_and_signs_out(
    admin, org, person, other_org_admin
):
    domain = verified_domain(org)
    org_user_ensure(org=other_org_admin.org, account=person)  # also an external user elsewhere
    client = session_for(person)
    assert Session.objects.filter(account=person).count() == 1
    services.user_email_change(
        org=org, actor=admin, account_id=person.account_id, email=" Pat.Smith@ACME.test "
    )
    person.refresh_from_db()
    assert person.email == "pat.smith@acme.test" and person.email_verified
    assert set(OrgUser.objects.filter(account=person).values_list("email", flat=True)) == {
        "pat.smith@acme.test"
    }
    assert OrgUser.objects.get(org=org, account=person).domain == domain
    assert not Session.objects.filter(account=person).exists()
    assert client.get("/account/").status_code == 302  # signed out
    event = one_event("org:account:email_changed")
    assert event.details == {"from": "pat@acme.test", "to": "pat.smith@acme.test", "sessions_ended": 1}


@pytest.mark.parametrize(
    "email,why",
    [
        ("pat@elsewhere.test", "not a verified domain"),
        ("pat@unverified.test", "not a verified domain"),
        ("not-an-email", "valid email"),
        ("", "valid email"),
    ],
)
def test_email_change_refuses_addresses_off_the_verified_domains(admin, org, person, email, why):
    verified_domain(org)
    Domain.objects.create(org=org, name="unverified.test", token="t")
    session_for(person)
    with pytest.raises(InvalidInput, match=why):
        services.user_email_change(org=org, actor=admin, account_id=person.account_id, email=email)
    person.refresh_from_db()
    assert person.email == "pat@acme.test" and Session.objects.filter(account=person).exists()
    assert not no_change_events()


def test_email_change_to_an_address_in_use_is_refused(admin, org, person):
    verified_domain(org)
    AccountFactory(email="taken@acme.test")
    with pytest.raises(InvalidInput, match="already uses"):
        services.user_email_change(
            org=org, actor=admin, account_id=person.account_id, email="taken@acme.test"
        )
    person.refresh_from_db()
    assert person.email == "pat@acme.test" and not no_change_events()


def test_another_orgs_verified_domain_does_not_count(admin, org, person, other_org_admin):
    verified_domain(other_org_admin.org, "theirs.test")
    with pytest.raises(InvalidInput):
        services.user_email_change(
            org=org, actor=admin, account_id=person.account_id, email="pat@theirs.test"
        )


# --- deactivation --------------------------------------------------------------------------------------


def test_deactivate_ends_sessions_and_keeps_the_message(admin, org, person):
    session_for(person)
    services.user_deactivate(org=org, actor=admin, account_id=person.account_id, message=" On leave. ")
    person.refresh_from_db()
    assert person.status == Account.Status.DEACTIVATED and not Session.objects.filter(account=person).exists()
    assert OrgUser.objects.get(account=person).deactivation_message == "On leave."
    event = one_event("org:account:deactivated")
    assert event.details == {"message": "On leave.", "sessions_ended": 1} and event.org_id == org.org_id
    # Deactivating again changes nothing and records nothing.
    services.user_deactivate(org=org, actor=admin, account_id=person.account_id)
    assert len(events("org:account:deactivated")) == 1


def test_deactivating_an_external_user_is_refused_and_changes_nothing(admin, org):
    guest = external(org)
    session_for(guest)
    with pytest.raises(NotManaged):
        services.user_deactivate(org=org, actor=admin, account_id=guest.account_id)
    guest.refresh_from_db()
    assert guest.status == Account.Status.ACTIVE and Session.objects.filter(account=guest).exists()
    assert not no_change_events()


def test_deactivate_refuses_an_overlong_message(admin, org, person):
    with pytest.raises(InvalidInput):
        services.user_deactivate(org=org, actor=admin, account_id=person.account_id, message="x" * 501)
    person.refresh_from_db()
    assert person.status == Account.Status.ACTIVE and not no_change_events()


def test_an_admin_cannot_deactivate_themselves(org, admin):
    account_claim(org=org, account=admin, domain=None, actor=Actor.system("test"))
    with pytest.raises(InvalidInput):
        services.user_deactivate(org=org, actor=admin, account_id=admin.account_id)
    admin.refresh_from_db()
    assert admin.status == Account.Status.ACTIVE


def test_reactivate_clears_the_message(admin, org, person):
    services.user_deactivate(org=org, actor=admin, account_id=person.account_id, message="Bye")
    services.user_reactivate(org=org, actor=admin, account_id=person.account_id)
    person.refresh_from_db()
    assert person.status == Account.Status.ACTIVE
    assert OrgUser.objects.get(account=person).deactivation_message == ""
    assert one_event("org:account:reactivated").targets[0]["id"] == person.account_id
    services.user_reactivate(org=org, actor=admin, account_id=person.account_id)  # no-op
    assert len(events("org:account:reactivated")) == 1


def test_the_deactivation_notice_names_the_org_and_the_message(admin, org, person):
    services.user_deactivate(org=org, actor=admin, account_id=person.account_id, message="Call IT.")
    person.refresh_from_db()
    assert hooks.notice_for_deactivated(person) == f"{org.name} deactivated your account. Call IT."
    assert services.deactivation_notice(external(org)) is None


def test_a_deactivated_person_cannot_sign_in_and_sees_why(admin, org, person):
    services.user_deactivate(org=org, actor=admin, account_id=person.account_id, message="Ask Sam at IT.")
    client = Client()
    assert client.post("/login", {"email": person.email})["Location"] == "/login/step/password"
    response = client.post("/login/step/password", {"password": PASSWORD})
    assert response.status_code == 403
    assert f"{org.name} deactivated your account. Ask Sam at IT.".encode() in response.content
    assert "_auth_user_id" not in client.session
    # A wrong password learns nothing.
    client.post("/login", {"email": person.email})
    wrong = client.post("/login/step/password", {"password": "wrong password here"})
    assert b"deactivated" not in wrong.content


# --- scheduled deletion --------------------------------------------------------------------------------


def test_deletion_scheduled_deactivates_at_once_and_can_be_cancelled(admin, org, person):
    session_for(person)
    with time_machine.travel("2026-03-01 12:00Z", tick=False):
        org_user = services.user_deletion_schedule(org=org, actor=admin, account_id=person.account_id)
    assert org_user.deletion_scheduled_for.isoformat() == "2026-03-15T12:00:00+00:00"
    person.refresh_from_db()
    assert person.status == Account.Status.DEACTIVATED and not Session.objects.filter(account=person).exists()
    event = one_event("org:account:deletion_scheduled")
    assert event.details["deletion_scheduled_for"] == "2026-03-15T12:00:00+00:00"
    assert event.details["sessions_ended"] == 1
    assert "deleted on Sunday 15 March 2026, 12:00 UTC." in hooks.notice_for_deactivated(person)
    assert selectors.user_detail(org=org, account_id=person.account_id).status == "deletion_scheduled"
    # Reactivating is refused while the deletion stands: cancelling is the way back.
    with pytest.raises(InvalidInput):
        services.user_reactivate(org=org, actor=admin, account_id=person.account_id)

    services.user_deletion_cancel(org=org, actor=admin, account_id=person.account_id)
    person.refresh_from_db()
    assert person.status == Account.Status.ACTIVE
    assert OrgUser.objects.get(account=person).deletion_scheduled_for is None
    one_event("org:account:deletion_cancelled")
    services.user_deletion_cancel(org=org, actor=admin, account_id=person.account_id)  # no-op
    assert len(events("org:account:deletion_cancelled")) == 1
    assert services.deletions_run(now=timezone.now() + timedelta(days=30)) == 0


def test_deletion_of_an_external_user_or_an_admin_is_refused(admin, org, other_org_admin):
    guest = external(org)
    with pytest.raises(NotManaged):
        services.user_deletion_schedule(org=org, actor=admin, account_id=guest.account_id)
    boss = managed(org)
    OrgAdmin.objects.create(org=other_org_admin.org, account=boss)
    with pytest.raises(InvalidInput, match="admins"):
        services.user_deletion_schedule(org=org, actor=admin, account_id=boss.account_id)
    boss.refresh_from_db()
    assert (
        boss.status == Account.Status.ACTIVE and not OrgUser.objects.get(account=boss).deletion_scheduled_for
    )
    assert not no_change_events()


def test_deletions_run_anonymises_due_accounts_and_audit_keeps_its_snapshots(
    admin, org, person, other_org_admin
):
    group = Group.objects.create(org=org, name="Engineering")
    GroupMember.objects.create(group=group, account=person)
    org_user_ensure(org=other_org_admin.org, account=person)
    services.user_profile_update(
        org=org, actor=admin, account_id=person.account_id, changes={"job_title": "CTO"}
    )
    with time_machine.travel("2026-03-01 12:00Z", tick=False):
        services.user_deletion_schedule(org=org, actor=admin, account_id=person.account_id)
    bystander = managed(org)
    with time_machine.travel("2026-03-15 11:59Z", tick=False):
        assert services.deletions_run() == 0
    with time_machine.travel("2026-03-15 12:00Z", tick=False):
        call_command("accounts", "purge")
    person.refresh_from_db()
    assert person.email == f"deleted-{person.account_id}@deleted.invalid"
    assert person.display_name == "Deleted user" and person.job_title == ""
    assert person.status == Account.Status.CLOSED and not person.has_usable_password()
    assert person.totp_secret == "" and person.totp_enabled_at is None
    assert not GroupMember.objects.filter(account=person).exists()
    assert not OrgUser.objects.filter(account=person).exists()
    assert OrgUser.objects.filter(account=bystander).exists()
    event = one_event("org:account:deleted")
    assert event.actor_type == "system" and event.actor_name == "scheduled deletion"
    assert event.org_id == org.org_id and event.targets == [
        {"type": "account", "id": person.account_id, "name": "Deleted user"}
    ]
    assert event.details["group_memberships_removed"] == 1
    # Earlier events still show who it was.
    scheduled = one_event("org:account:deletion_scheduled")
    assert scheduled.targets[0]["name"] == "Pat Doe" and scheduled.targets[0]["email"] == "pat@acme.test"
    # Running again deletes nothing more.
    assert services.deletions_run(now=timezone.now() + timedelta(days=60)) == 0


# --- sessions ------------------------------------------------------------------------------------------


def test_a_failing_deletion_does_not_hold_back_the_others(admin, org):
    first, second = managed(org), managed(org)
    for p in (first, second):
        services.user_deletion_schedule(org=org, actor=admin, account_id=p.account_id)
    # The second row's account breaks the email-lowercase constraint: its anonymising fails.
    Account.objects.filter(pk=second.pk).update(account_id="BROKEN")
    with pytest.raises(services.DeletionsFailed):
        services.deletions_run(now=timezone.now() + timedelta(days=15))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Account.Status.CLOSED and second.status == Account.Status.DEACTIVATED
    assert len(events("org:account:deleted")) == 1


def test_user_sessions_end(admin, org, person):
    session_for(person)
    session_for(person)
    assert services.user_sessions_end(org=org, actor=admin, account_id=person.account_id) == 2
    event = one_event("account:sessions:ended_all")
    assert event.org_id == org.org_id and event.actor_id == admin.account_id
    assert event.details["sessions_ended"] == 2


def test_user_sessions_end_of_an_external_user_is_refused(admin, org):
    guest = external(org)
    session_for(guest)
    with pytest.raises(NotManaged):
        services.user_sessions_end(org=org, actor=admin, account_id=guest.account_id)
    assert Session.objects.filter(account=guest).exists() and not no_change_events()


# --- bulk ----------------------------------------------------------------------------------------------


def test_bulk_deactivate_one_event_each(admin, org):
    people = [managed(org) for _ in range(3)]
    for p in people:
        session_for(p)
    ids = [p.account_id for p in people]
    assert (
        services.users_deactivate(org=org, actor=admin, account_ids=ids + ids[:1], message="Contract over")
        == 3
    )
    assert set(Account.objects.filter(pk__in=[p.pk for p in people]).values_list("status", flat=True)) == {
        "deactivated"
    }
    assert not Session.objects.filter(account__in=people).exists()
    assert len(events("org:account:deactivated")) == 3


@pytest.mark.parametrize("bad", ["unknown", "external", "other_org", "self"])
def test_bulk_deactivate_is_all_or_nothing(admin, org, other_org_admin, bad):
    people = [managed(org) for _ in range(3)]
    for p in people:
        session_for(p)
    if bad == "self":
        account_claim(org=org, account=admin, domain=None, actor=Actor.system("test"))
    odd = {
        "unknown": lambda: "does-not-exist",
        "external": lambda: external(org).account_id,
        "other_org": lambda: managed(other_org_admin.org).account_id,
        "self": lambda: admin.account_id,
    }[bad]()
    with pytest.raises((NotFound, NotManaged, InvalidInput)):
        services.users_deactivate(org=org, actor=admin, account_ids=[p.account_id for p in people] + [odd])
    assert set(Account.objects.values_list("status", flat=True)) == {"active"}
    assert Session.objects.filter(account__in=people).count() == 3
    assert not no_change_events()


def test_bulk_skip_gone_passes_over_ids_that_are_not_managed_users(admin, org, other_org_admin):
    """The console's stale selection: ids gone or released meanwhile (or never the org's) are
    passed over; without ``skip_gone`` an unmanaged user refuses the whole selection."""
    people = [managed(org) for _ in range(2)]
    for p in people:
        session_for(p)
    theirs = managed(other_org_admin.org)
    session_for(theirs)
    odd = ["does-not-exist", theirs.account_id, "a\x00b", "x" * 65, 7]
    ids = [people[0].account_id, *odd, people[1].account_id]
    assert services.users_deactivate(org=org, actor=admin, account_ids=ids, skip_gone=True) == 2
    assert services.users_sessions_end(org=org, actor=admin, account_ids=odd, skip_gone=True) == 0
    assert Account.objects.get(pk=theirs.pk).status == "active" and Session.objects.filter(account=theirs)
    assert [e.targets[0]["id"] for e in events("org:account:deactivated")] == [p.account_id for p in people]
    assert not events("account:sessions:ended_all")
    guest, fresh = external(org), managed(org)
    session_for(guest)
    session_for(fresh)
    mixed = [fresh.account_id, guest.account_id]
    with pytest.raises(NotManaged):
        services.users_sessions_end(org=org, actor=admin, account_ids=mixed)
    assert not events("account:sessions:ended_all")
    assert services.users_sessions_end(org=org, actor=admin, account_ids=mixed, skip_gone=True) == 1
    assert [e.targets[0]["id"] for e in events("account:sessions:ended_all")] == [fresh.account_id]
    assert Session.objects.filter(account=guest).exists()


def test_bulk_limits(admin, org):
    with pytest.raises(InvalidInput):
        services.users_deactivate(org=org, actor=admin, account_ids=[])
    with pytest.raises(InvalidInput):
        services.users_sessions_end(org=org, actor=admin, account_ids=[f"id{i}" for i in range(501)])
    with pytest.raises(InvalidInput):
        services.users_sessions_end(org=org, actor=admin, account_ids="not-a-list")


def test_bulk_sessions_end(admin, org):
    people = [managed(org) for _ in range(2)]
    for p in people:
        session_for(p)
        session_for(p)
    assert services.users_sessions_end(org=org, actor=admin, account_ids=[p.account_id for p in people]) == 4
    assert len(events("account:sessions:ended_all")) == 2 and not Session.objects.exists()


def test_bulk_sessions_end_is_all_or_nothing(admin, org):
    people = [managed(org) for _ in range(2)]
    for p in people:
        session_for(p)
    with pytest.raises(NotManaged):
        services.users_sessions_end(
            org=org, actor=admin, account_ids=[people[0].account_id, external(org).account_id]
        )
    assert Session.objects.count() == 2 and not events("account:sessions:ended_all")


# --- the list ------------------------------------------------------------------------------------------


def walk(org, filters: UserFilters | None = None, size=50) -> list[list[selectors.UserRow]]:
    filters = filters or UserFilters()
    pages, after = [], None
    for _ in range(100):
        page = selectors.users_page(org=org, filters=filters, after=after, size=size)
        pages.append(page.rows)
        after = page.next_cursor
        if after is None:
            return pages
    raise AssertionError("paging never ended")


def test_keyset_paging_walks_every_user_once_in_email_order(org, other_org_admin):
    accounts = Account.objects.bulk_create(
        [Account(email=f"user{i:03d}@acme.test", display_name=f"User {i}", password="!") for i in range(120)]
    )
    OrgUser.objects.bulk_create(
        [OrgUser(org=org, account=a, email=a.email, is_managed=i % 3 != 0) for i, a in enumerate(accounts)]
    )
    managed(other_org_admin.org)  # another org's user never shows
    pages = walk(org)
    assert [len(p) for p in pages] == [50, 50, 20]
    emails = [row.email for page in pages for row in page]
    assert emails == sorted(emails) and len(set(emails)) == 120
    managed_pages = walk(org, UserFilters(kind="managed"), size=30)
    managed_emails = [row.email for page in managed_pages for row in page]
    assert len(managed_emails) == 80 and managed_emails == sorted(managed_emails)
    assert all(row.is_managed for page in managed_pages for row in page)
    external_rows = [row for page in walk(org, UserFilters(kind="external")) for row in page]
    assert len(external_rows) == 40 and not any(r.is_managed for r in external_rows)


def test_search_by_email_prefix_or_name(org):
    managed(org, email="alice@acme.test", display_name="Alice Liddell")
    managed(org, email="al.bundy@acme.test", display_name="Al Bundy")
    managed(org, email="bob@acme.test", display_name="Bob Alderson")
    managed(org, email="carol@acme.test", display_name="Carol")

    def emails(q):
        return [row.email for row in selectors.users_page(org=org, filters=UserFilters(q=q), after=None).rows]

    assert emails("AL") == ["al.bundy@acme.test", "alice@acme.test", "bob@acme.test"]
    assert emails("alice@") == ["alice@acme.test"]
    assert emails("lidd") == ["alice@acme.test"]
    assert emails("cob") == []
    # Digits, "@", ".", "_" and "+" are email characters: such a search is by email prefix alone.
    managed(org, email="x9@acme.test", display_name="Agent 99")
    assert emails("x9") == ["x9@acme.test"] and emails("99") == []
    assert emails("%") == [] and emails("_") == []
    # An internationalized domain typed as people write it finds the address stored in ASCII form.
    managed(org, email="anna@xn--mller-kva.de", display_name="Anna")
    assert emails("Anna@Müller.de") == emails("anna@xn--mller") == ["anna@xn--mller-kva.de"]


def test_status_site_and_last_active_filters(admin, org):
    now = timezone.now()
    active = managed(org, email="a@acme.test")
    off = managed(org, email="b@acme.test")
    gone = managed(org, email="c@acme.test")
    guest = external(org, email="d@guest.test")
    services.user_deactivate(org=org, actor=admin, account_id=off.account_id)
    services.user_deletion_schedule(org=org, actor=admin, account_id=gone.account_id)
    OrgUser.objects.filter(account=active).update(last_active_at=now - timedelta(days=10))
    OrgUser.objects.filter(account=off).update(last_active_at=now - timedelta(days=60))
    OrgUser.objects.filter(account=gone).update(last_active_at=now - timedelta(days=200))
    site = ProductSite.objects.create(
        org=org, product="confluence", name="Wiki", url="https://wiki.acme.test"
    )
    other_site = ProductSite.objects.create(
        org=org, product="jira-software", name="Jira", url="https://j.acme.test"
    )
    group = Group.objects.create(org=org, name="Everyone")
    SiteAccess.objects.create(site=site, group=group)
    SiteAccess.objects.create(site=other_site, group=group)
    GroupMember.objects.create(group=group, account=guest)
    GroupMember.objects.create(group=group, account=active)

    def emails(**f):
        return [r.email for r in selectors.users_page(org=org, filters=UserFilters(**f), after=None).rows]

    assert emails(status="active") == ["a@acme.test", "d@guest.test"]
    assert emails(status="deactivated") == ["b@acme.test"]
    assert emails(status="deletion_scheduled") == ["c@acme.test"]
    assert emails(site_id=site.site_id) == ["a@acme.test", "d@guest.test"]
    assert emails(last_active="active_30") == ["a@acme.test"]
    assert emails(last_active="active_90") == ["a@acme.test", "b@acme.test"]
    assert emails(last_active="never") == ["d@guest.test"]
    assert emails(last_active="inactive_30") == ["b@acme.test", "c@acme.test", "d@guest.test"]
    assert emails(last_active="inactive_60") == ["b@acme.test", "c@acme.test", "d@guest.test"]
    assert emails(last_active="inactive_90") == ["c@acme.test", "d@guest.test"]
    assert emails(kind="managed", status="active") == ["a@acme.test"]
    rows = {r.email: r for r in selectors.users_page(org=org, filters=UserFilters(), after=None).rows}
    assert rows["a@acme.test"].site_count == 2 and rows["b@acme.test"].site_count == 0
    assert rows["c@acme.test"].status == "deletion_scheduled" and rows["d@guest.test"].is_managed is False


@pytest.mark.parametrize("few", [0, 3, 10_000])
def test_last_active_pages_are_the_same_whichever_index_serves_them(org, monkeypatch, few):
    """With at most ``FEW`` matches the page is sorted from the ``(org, last_active_at)`` index's
    rows, with more it is the walk along the email index: the same pages either way, paged by the
    same cursors, combined with the other filters and the search."""
    monkeypatch.setattr(selectors, "FEW", few)
    now = timezone.now()
    ages = [None, 1, 29, 31, 59, 61, 89, 91, 400, None, 5]  # days since last active
    for n, age in enumerate(ages):
        account = managed(org, email=f"u{n:02d}@acme.test")
        when = None if age is None else now - timedelta(days=age)
        OrgUser.objects.filter(account=account).update(last_active_at=when)
    external(org, email="zz@guest.test")  # never active

    def walk(**f) -> list[str]:
        seen, after = [], None
        while True:
            page = selectors.users_page(org=org, filters=UserFilters(**f), after=after, size=2)
            seen += [r.email for r in page.rows]
            if page.next_cursor is None:
                return seen
            after = page.next_cursor

    def expected(keep) -> list[str]:
        found = [f"u{n:02d}@acme.test" for n, age in enumerate(ages) if keep(age)]
        return found + (["zz@guest.test"] if keep(None) else [])

    assert walk(last_active="active_30") == expected(lambda a: a is not None and a < 30)
    assert walk(last_active="active_90") == expected(lambda a: a is not None and a < 90)
    assert walk(last_active="inactive_30") == expected(lambda a: a is None or a > 30)
    assert walk(last_active="inactive_60") == expected(lambda a: a is None or a > 60)
    assert walk(last_active="inactive_90") == expected(lambda a: a is None or a > 90)
    assert walk(last_active="never") == expected(lambda a: a is None)
    assert walk(last_active="never", kind="managed") == ["u00@acme.test", "u09@acme.test"]
    assert walk(last_active="inactive_90", q="u0") == [f"u0{n}@acme.test" for n in (0, 7, 8, 9)]


def test_the_last_active_probe_gives_up_past_few_matches(org, monkeypatch, django_assert_max_num_queries):
    """The probe stops after ``FEW`` + 1 keys per range: no matter how many users are active, the
    inactive filter asks for at most that many (so its cost does not grow with the org)."""
    now = timezone.now()
    for n in range(6):
        account = managed(org, email=f"a{n}@acme.test")
        OrgUser.objects.filter(account=account).update(last_active_at=now - timedelta(days=n))
    assert selectors._last_active_few(org=org, value="active_30", now=now) is not None
    with monkeypatch.context() as patch:
        patch.setattr(selectors, "FEW", 4)
        assert selectors._last_active_few(org=org, value="active_30", now=now) is None
        assert selectors._last_active_few(org=org, value="never", now=now) == []
    with django_assert_max_num_queries(4):  # probe (two ranges), page, site counts
        page = selectors.users_page(org=org, filters=UserFilters(last_active="inactive_90"), after=None)
    assert page.rows == [] and page.next_cursor is None


def test_invited_until_the_first_sign_in(
    admin, org, django_capture_on_commit_callbacks, mailoutbox, django_assert_num_queries
):
    """A person invited to a product site is "invited", not "active", until they sign in: in the
    list, its status filter and the account page. The list stays one query for the page (plus the
    site counts), however many are invited."""
    from orgwarden.orgs.services import access

    site = access.site_add(
        org=org, actor=admin, product="jira-software", name="Jira", url="https://jira.acme.test"
    )
    with django_capture_on_commit_callbacks(execute=True):
        new = access.user_invite(org=org, actor=admin, email="new@acme.test", site_ids=[site.site_id])
        off = access.user_invite(org=org, actor=admin, email="off@acme.test", site_ids=[site.site_id])
    account_claim(org=org, account=off, domain=None, actor=Actor.system("test"))
    services.user_deactivate(org=org, actor=admin, account_id=off.account_id)
    # An account that signed in before: invited to a site, it is simply active (no sign-in link).
    known = external(org, email="known@else.test")
    session_for(known)
    access.user_invite(org=org, actor=admin, email=known.email, site_ids=[site.site_id])

    def statuses(**f) -> dict[str, str]:
        page = selectors.users_page(org=org, filters=UserFilters(**f), after=None)
        return {row.email: row.status for row in page.rows if row.email != admin.email}

    with django_assert_num_queries(2):  # the page, the site counts
        assert statuses() == {
            "known@else.test": "active",
            "new@acme.test": "invited",
            "off@acme.test": "deactivated",  # deactivated says more than invited
        }
    assert statuses(status="invited") == {"new@acme.test": "invited"}
    assert statuses(status="active") == {"known@else.test": "active"}
    assert statuses(status="deactivated") == {"off@acme.test": "deactivated"}
    assert [r.status for r in selectors.users_by_ids(org=org, account_ids=[new.account_id])] == ["invited"]
    assert selectors.user_detail(org=org, account_id=new.account_id).status == "invited"

    # The invitation's link, followed through the real views, signs them in: active from then on.
    link = re.search(r"http://testserver(/login/link/\S+)", mailoutbox[0].body).group(1)
    assert mailoutbox[0].to == ["new@acme.test"]
    assert Client().post(link).status_code == 302
    assert statuses()["new@acme.test"] == "active"
    assert selectors.user_detail(org=org, account_id=new.account_id).status == "active"
    assert statuses(status="invited") == {}


def test_a_sign_in_link_made_after_the_last_sign_in_is_an_invitation_again(org):
    """Invited means "not signed in since the link was made": a squatter's earlier sign-in on an
    address the org then takes over does not make the real person active."""
    from orgwarden.accounts.services import signin_link_create

    person = managed(org, email="sam@acme.test")
    session_for(person)  # signs in: last_login is set
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        signin_link_create(account=person, actor=Actor.system("test"))
    assert selectors.user_detail(org=org, account_id=person.account_id).status == "invited"
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        session_for(person)
    assert selectors.user_detail(org=org, account_id=person.account_id).status == "active"


@pytest.mark.parametrize(
    "filters,after",
    [
        (UserFilters(status="gone"), None),
        (UserFilters(kind="robots"), None),
        (UserFilters(last_active="7"), None),
        (UserFilters(last_active="30"), None),
        (UserFilters(last_active="inactive_45"), None),
        (UserFilters(q="x" * 201), None),
        (UserFilters(site_id="nope"), None),
        (UserFilters(), "!!!"),
        (UserFilters(), "bm90LWFuLWVtYWls"),  # base64 of "not-an-email"
    ],
)
def test_bad_filters_and_cursors_are_invalid_input(org, filters, after):
    with pytest.raises(InvalidInput):
        selectors.users_page(org=org, filters=filters, after=after)


def test_another_orgs_site_is_not_a_filter(org, other_org_admin):
    theirs = ProductSite.objects.create(
        org=other_org_admin.org, product="trello", name="T", url="https://t.test"
    )
    with pytest.raises(InvalidInput):
        selectors.users_page(org=org, filters=UserFilters(site_id=theirs.site_id), after=None)


# --- the account page ----------------------------------------------------------------------------------


def test_user_detail_shows_groups_access_sessions_and_activity(org, person, other_org_admin):
    site = ProductSite.objects.create(
        org=org, product="confluence", name="Wiki", url="https://wiki.acme.test"
    )
    readers = Group.objects.create(org=org, name="Readers")
    admins = Group.objects.create(org=org, name="Wiki admins")
    SiteAccess.objects.create(site=site, group=readers)
    SiteAccess.objects.create(site=site, group=admins, role=SiteAccess.Role.ADMIN)
    GroupMember.objects.create(group=readers, account=person)
    GroupMember.objects.create(group=admins, account=person)
    their_group = Group.objects.create(org=other_org_admin.org, name="Theirs")
    GroupMember.objects.create(group=their_group, account=person)
    seen = timezone.now() - timedelta(hours=2)
    Activity.objects.create(org=org, site=site, account=person, day=seen.date(), signins=1, last_at=seen)
    session_for(person)
    detail = selectors.user_detail(org=org, account_id=person.account_id)
    assert [g.name for g in detail.groups] == ["Readers", "Wiki admins"]
    assert len(detail.access) == 1 and detail.access[0].role == "admin"
    assert detail.access[0].groups == ["Readers", "Wiki admins"]
    assert len(detail.sessions) == 1 and detail.activity[0].last_at == seen
    assert detail.directory == local_directory(org) and detail.status == "active" and detail.is_managed


def test_the_purge_command_is_wired(capsys):
    call_command("accounts", "purge")
    assert "0 account(s) deleted." in capsys.readouterr().out
