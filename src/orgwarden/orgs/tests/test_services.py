"""orgs.services: who may do what, exactly one event per change, nothing half-applied."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from orgwarden.accounts.ids import secret_hash
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs import selectors, services
from orgwarden.orgs.exceptions import (
    AlreadyAdmin,
    EmailNotVerified,
    InvalidName,
    InvitationForSomeoneElse,
    InvitationInvalid,
    LastAdmin,
    NotFound,
)
from orgwarden.orgs.models import AdminInvitation, OrgAdmin, Organization
from orgwarden.orgs.tests.factories import OrgAdminFactory

pytestmark = pytest.mark.django_db


def one_event(action: str) -> AuditEvent:
    events = list(AuditEvent.objects.filter(action=action))
    assert len(events) == 1, f"expected one {action} event, found {len(events)}"
    return events[0]


def invite(org, actor, email, django_capture_on_commit_callbacks, mailoutbox) -> str:
    """Invite ``email`` and return the token from the emailed link."""
    with django_capture_on_commit_callbacks(execute=True):
        services.admin_invite(org=org, actor=actor, email=email)
    match = re.search(r"http://testserver/admin/invitations/(\S+)", mailoutbox[-1].body)
    assert match, mailoutbox[-1].body
    return match.group(1)


# --- org_create, org_rename --------------------------------------------------------------------------


def test_org_create_makes_the_creator_its_admin(account):
    org = services.org_create(creator=account, name="  Acme   Corp ")
    assert org.name == "Acme Corp"
    assert list(OrgAdmin.objects.filter(org=org).values_list("account", flat=True)) == [account.pk]
    event = one_event("org:created")
    assert event.org_id == org.org_id and event.actor_id == account.account_id
    assert event.targets == [
        {"type": "org", "id": org.org_id, "name": "Acme Corp"},
        {"type": "account", "id": account.account_id, "name": account.display_name, "email": account.email},
    ]
    assert event.details == {"name": "Acme Corp"}


def test_org_create_requires_a_verified_email():
    account = AccountFactory(email_verified=False)
    with pytest.raises(EmailNotVerified):
        services.org_create(creator=account, name="Acme")
    assert not Organization.objects.exists() and not AuditEvent.objects.exists()


def test_org_create_by_the_bootstrap_may_skip_the_email_check():
    account = AccountFactory(email_verified=False)
    org = services.org_create(creator=account, name="Acme", require_verified_email=False)
    assert selectors.is_org_admin(org=org, account=account)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "\t\n"])
def test_org_create_refuses_bad_names(account, name):
    with pytest.raises(InvalidName):
        services.org_create(creator=account, name=name)
    assert not Organization.objects.exists() and not OrgAdmin.objects.exists()
    assert not AuditEvent.objects.exists()


def test_org_name_of_100_characters_is_fine(account):
    assert len(services.org_create(creator=account, name="x" * 100).name) == 100


def test_org_rename_records_from_and_to(org_admin):
    org = org_admin.org
    old = org.name
    services.org_rename(org=org, actor=org_admin.account, name="New name")
    org.refresh_from_db()
    assert org.name == "New name"
    event = one_event("org:renamed")
    assert event.org_id == org.org_id and event.details == {"from": old, "to": "New name"}
    assert event.actor_id == org_admin.account.account_id


def test_org_rename_to_the_same_name_records_nothing(org_admin):
    services.org_rename(org=org_admin.org, actor=org_admin.account, name=f"  {org_admin.org.name} ")
    assert not AuditEvent.objects.exists()


def test_org_rename_by_a_non_admin_is_not_found(org, other_org_admin):
    old = org.name
    with pytest.raises(NotFound):
        services.org_rename(org=org, actor=other_org_admin.account, name="Hijacked")
    org.refresh_from_db()
    assert org.name == old and not AuditEvent.objects.exists()


def test_org_rename_refuses_a_bad_name(org_admin):
    old = org_admin.org.name
    with pytest.raises(InvalidName):
        services.org_rename(org=org_admin.org, actor=org_admin.account, name="x" * 101)
    org_admin.org.refresh_from_db()
    assert org_admin.org.name == old and not AuditEvent.objects.exists()


# --- admin_invite ------------------------------------------------------------------------------------


def test_admin_invite_emails_a_link_after_commit(org_admin, django_capture_on_commit_callbacks, mailoutbox):
    org, admin = org_admin.org, org_admin.account
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = services.admin_invite(org=org, actor=admin, email="New.Admin@Example.com")
    assert mailoutbox == [] and len(callbacks) == 1
    callbacks[0]()
    assert invitation.email == "new.admin@example.com" and invitation.is_pending
    assert invitation.expires_at - timezone.now() > timedelta(days=6)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["new.admin@example.com"]
    assert org.name in mailoutbox[0].subject
    token = re.search(r"/admin/invitations/(\S+)", mailoutbox[0].body).group(1)
    assert invitation.token_hash == secret_hash(token) and token not in invitation.token_hash
    event = one_event("org:admin:invited")
    assert event.org_id == org.org_id and event.actor_id == admin.account_id
    assert event.targets[0] == {"type": "org", "id": org.org_id, "name": org.name}
    assert event.targets[1]["type"] == "invitation"
    assert event.targets[1]["id"] == invitation.invitation_id
    assert event.details["email"] == "new.admin@example.com"


def test_reinviting_replaces_the_old_invitation(org_admin, django_capture_on_commit_callbacks, mailoutbox):
    org, admin = org_admin.org, org_admin.account
    first = invite(org, admin, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    second = invite(org, admin, "NEW@example.com", django_capture_on_commit_callbacks, mailoutbox)
    assert first != second
    assert selectors.invitations_pending(org=org).count() == 1
    newcomer = AccountFactory(email="new@example.com")
    with pytest.raises(InvitationInvalid):
        services.invitation_accept(token=first, account=newcomer)
    assert services.invitation_accept(token=second, account=newcomer) == org


def test_inviting_an_existing_admin_is_refused(org_admin, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(AlreadyAdmin):
        services.admin_invite(
            org=org_admin.org, actor=org_admin.account, email=org_admin.account.email.upper()
        )
    assert not AdminInvitation.objects.exists() and not AuditEvent.objects.exists()
    assert mailoutbox == []


def test_inviting_into_another_org_is_not_found(org, other_org_admin, mailoutbox):
    with pytest.raises(NotFound):
        services.admin_invite(org=org, actor=other_org_admin.account, email="x@example.com")
    assert not AdminInvitation.objects.exists() and not AuditEvent.objects.exists()


# --- invitation_accept -------------------------------------------------------------------------------


def test_invitation_accept_makes_an_admin_and_verifies_the_email(
    org_admin, django_capture_on_commit_callbacks, mailoutbox
):
    org = org_admin.org
    token = invite(org, org_admin.account, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    newcomer = AccountFactory(email="new@example.com", email_verified=False)
    assert services.invitation_accept(token=token, account=newcomer) == org
    newcomer.refresh_from_db()
    assert newcomer.email_verified
    assert selectors.is_org_admin(org=org, account=newcomer)
    invitation = AdminInvitation.objects.get()
    assert invitation.accepted_at is not None
    event = one_event("org:admin:invitation_accepted")
    assert event.org_id == org.org_id and event.actor_id == newcomer.account_id
    assert event.details == {"invitation_id": invitation.invitation_id}
    with pytest.raises(InvitationInvalid):
        services.invitation_accept(token=token, account=newcomer)


def test_invitation_for_someone_else_is_refused(org_admin, django_capture_on_commit_callbacks, mailoutbox):
    token = invite(
        org_admin.org, org_admin.account, "new@example.com", django_capture_on_commit_callbacks, mailoutbox
    )
    intruder = AccountFactory(email="intruder@example.com", email_verified=False)
    with pytest.raises(InvitationForSomeoneElse):
        services.invitation_accept(token=token, account=intruder)
    intruder.refresh_from_db()
    assert not intruder.email_verified
    assert not selectors.is_org_admin(org=org_admin.org, account=intruder)
    assert AdminInvitation.objects.get().is_pending
    assert not AuditEvent.objects.filter(action="org:admin:invitation_accepted").exists()


def test_revoked_invitation_cannot_be_accepted(org_admin, django_capture_on_commit_callbacks, mailoutbox):
    org = org_admin.org
    token = invite(org, org_admin.account, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    invitation = AdminInvitation.objects.get()
    services.invitation_revoke(org=org, actor=org_admin.account, invitation_id=invitation.invitation_id)
    event = one_event("org:admin:invitation_revoked")
    assert event.org_id == org.org_id and event.targets[1]["id"] == invitation.invitation_id
    newcomer = AccountFactory(email="new@example.com")
    with pytest.raises(InvitationInvalid):
        services.invitation_accept(token=token, account=newcomer)
    assert not selectors.is_org_admin(org=org, account=newcomer)


def test_expired_invitation_cannot_be_accepted(org_admin, django_capture_on_commit_callbacks, mailoutbox):
    newcomer = AccountFactory(email="new@example.com")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = invite(
            org_admin.org, org_admin.account, newcomer.email, django_capture_on_commit_callbacks, mailoutbox
        )
        clock.shift(services.INVITATION_LIFETIME + timedelta(seconds=1))
        with pytest.raises(InvitationInvalid):
            services.invitation_accept(token=token, account=newcomer)
        assert selectors.invitations_pending(org=org_admin.org).count() == 0
    assert not selectors.is_org_admin(org=org_admin.org, account=newcomer)


def test_unknown_invitation_token_is_invalid(account):
    with pytest.raises(InvitationInvalid):
        services.invitation_accept(token="nope", account=account)


# --- invitation_revoke -------------------------------------------------------------------------------


def test_invitation_revoke_of_another_orgs_invitation_is_not_found(
    org_admin, other_org_admin, django_capture_on_commit_callbacks, mailoutbox
):
    invite(
        other_org_admin.org,
        other_org_admin.account,
        "x@example.com",
        django_capture_on_commit_callbacks,
        mailoutbox,
    )
    theirs = AdminInvitation.objects.get()
    before = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        services.invitation_revoke(
            org=org_admin.org, actor=org_admin.account, invitation_id=theirs.invitation_id
        )
    with pytest.raises(NotFound):  # nor through their org, not being its admin
        services.invitation_revoke(
            org=other_org_admin.org, actor=org_admin.account, invitation_id=theirs.invitation_id
        )
    theirs.refresh_from_db()
    assert theirs.is_pending and AuditEvent.objects.count() == before


def test_revoking_twice_is_not_found(org_admin):
    invitation = services.admin_invite(org=org_admin.org, actor=org_admin.account, email="x@example.com")
    services.invitation_revoke(
        org=org_admin.org, actor=org_admin.account, invitation_id=invitation.invitation_id
    )
    for invitation_id in [invitation.invitation_id, "nope", "a\x00b"]:
        with pytest.raises(NotFound):
            services.invitation_revoke(
                org=org_admin.org, actor=org_admin.account, invitation_id=invitation_id
            )
    one_event("org:admin:invitation_revoked")


# --- admin_remove ------------------------------------------------------------------------------------


def test_the_last_admin_cannot_be_removed(org_admin):
    with pytest.raises(LastAdmin):
        services.admin_remove(
            org=org_admin.org, actor=org_admin.account, account_id=org_admin.account.account_id
        )
    assert OrgAdmin.objects.filter(org=org_admin.org).count() == 1 and not AuditEvent.objects.exists()


def test_an_admin_removes_another(org_admin):
    second = OrgAdminFactory(org=org_admin.org)
    services.admin_remove(org=org_admin.org, actor=org_admin.account, account_id=second.account.account_id)
    assert not selectors.is_org_admin(org=org_admin.org, account=second.account)
    event = one_event("org:admin:removed")
    assert event.org_id == org_admin.org.org_id and event.actor_id == org_admin.account.account_id
    assert event.targets[1]["id"] == second.account.account_id


def test_an_admin_may_leave_while_others_remain(org_admin):
    OrgAdminFactory(org=org_admin.org)
    services.admin_remove(org=org_admin.org, actor=org_admin.account, account_id=org_admin.account.account_id)
    assert not selectors.is_org_admin(org=org_admin.org, account=org_admin.account)
    one_event("org:admin:removed")


@pytest.mark.parametrize("account_id", ["0" * 24, "", "x" * 1000])
def test_removing_an_unknown_account_is_not_found(org_admin, account_id):
    OrgAdminFactory(org=org_admin.org)
    with pytest.raises(NotFound):
        services.admin_remove(org=org_admin.org, actor=org_admin.account, account_id=account_id)
    assert OrgAdmin.objects.filter(org=org_admin.org).count() == 2 and not AuditEvent.objects.exists()


def test_removing_an_admin_of_another_org_is_not_found(org_admin, other_org_admin):
    OrgAdminFactory(org=org_admin.org)
    with pytest.raises(NotFound):
        services.admin_remove(
            org=org_admin.org, actor=org_admin.account, account_id=other_org_admin.account.account_id
        )
    with pytest.raises(NotFound):
        services.admin_remove(
            org=other_org_admin.org,
            actor=org_admin.account,
            account_id=other_org_admin.account.account_id,
        )
    assert OrgAdmin.objects.count() == 3 and not AuditEvent.objects.exists()


# --- selectors ---------------------------------------------------------------------------------------


def test_org_for_admin_is_not_found_for_strangers(org, other_org_admin, org_admin):
    assert selectors.org_for_admin(account=org_admin.account, org_id=org.org_id) == org
    for org_id in [org.org_id, "nope", "", "a\x00b"]:
        with pytest.raises(NotFound):
            selectors.org_for_admin(account=other_org_admin.account, org_id=org_id)


def test_orgs_administered_by_lists_only_ones_own(org_admin, other_org_admin):
    second = OrgAdminFactory(account=org_admin.account).org
    assert set(selectors.orgs_administered_by(account=org_admin.account)) == {org_admin.org, second}
