"""orgs.services.invitations.user_invitation_resend: an invited person's invitation sent again."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.test import Client

from orgwarden.accounts.models import Account, SignInLink
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.exceptions import InvitationThrottled, NoProductAccess, NotFound, NotInvited
from orgwarden.orgs.models import GroupMember, OrgUser
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services import invitations
from orgwarden.orgs.services import users as user_services
from orgwarden.orgs.tests.factories import ApiKey

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver(/login/link/\S+)")


@pytest.fixture
def invite(org, admin, jira, django_capture_on_commit_callbacks, mailoutbox):
    """Invite ``email`` to Acme Jira; returns the account and the link in its email."""

    def make(email: str = "dana@partner.test") -> tuple[Account, str]:
        with django_capture_on_commit_callbacks(execute=True):
            account = s.user_invite(org=org, actor=admin, email=email, site_ids=[jira.site_id])
        return account, LINK.search(mailoutbox[-1].body).group(1)

    return make


@pytest.fixture
def resend(org, admin, django_capture_on_commit_callbacks):
    def call(account: Account, actor=None) -> invitations.InvitationResent:
        with django_capture_on_commit_callbacks(execute=True):
            return invitations.user_invitation_resend(
                org=org, actor=actor or admin, account_id=account.account_id
            )

    return call


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_resend_emails_a_new_link_and_the_old_one_stops_working(invite, resend, jira, mailoutbox, admin, org):
    dana, first_link = invite()
    done = resend(dana)
    assert done.account == dana and done.sites == [jira] and done.signin_link is True

    # The same invitation, said to be sent again, with a new one-time link.
    first, again = mailoutbox
    assert again.to == ["dana@partner.test"] and again.subject == first.subject
    assert "sent your invitation again: the sign-in link in any earlier email no longer works" in again.body
    assert "Acme Jira (Jira Software): https://jira.acme.test" in again.body
    new_link = LINK.search(again.body).group(1)
    assert new_link != first_link

    event = events("org:user:invitation_resent")[-1]
    assert event.org_id == org.org_id and event.actor_id == admin.account_id
    assert [t["id"] for t in event.targets] == [dana.account_id, jira.site_id]
    assert event.details == {
        "sites": [{"id": jira.site_id, "name": "Acme Jira", "product": "jira-software"}],
        "signin_link": True,
    }
    assert events("account:signin_link:created")[-1].details == {
        "expires_in_hours": 24,
        "superseded_links": 1,
    }

    # The earlier link signs nobody in; the new one does, once.
    assert Client().post(first_link).status_code == 400
    client = Client()
    assert client.post(new_link).status_code == 302
    assert client.session["_auth_user_id"] == str(dana.pk)


def test_the_email_lists_the_sites_the_person_has_now(invite, resend, org, admin, jira, mailoutbox):
    dana, _ = invite()
    wiki = s.site_add(
        org=org, actor=admin, product="confluence", name="Acme Wiki", url="https://wiki.acme.test"
    )
    writers = s.group_create(org=org, actor=admin, name="Writers")
    s.access_grant(org=org, actor=admin, site_id=wiki.site_id, group_id=writers.group_id, role="user")
    s.group_members_add(org=org, actor=admin, group_id=writers.group_id, account_ids=[dana.account_id])
    assert resend(dana).sites == [jira, wiki]
    assert "You have access to Acme Jira, Acme Wiki at" in mailoutbox[-1].subject

    # Out of every group that grants a site: nothing to invite to, nothing sent or recorded.
    GroupMember.objects.filter(account=dana).delete()
    sent, links, recorded = len(mailoutbox), SignInLink.objects.count(), AuditEvent.objects.count()
    with pytest.raises(NoProductAccess, match="no access to any product site"):
        resend(dana)
    assert (len(mailoutbox), SignInLink.objects.count(), AuditEvent.objects.count()) == (
        sent,
        links,
        recorded,
    )


def test_someone_who_signed_in_since_is_not_invited(invite, resend, mailoutbox):
    dana, link = invite()
    client = Client()
    client.post(link)  # signs in: Django's login sets last_login
    dana.refresh_from_db()
    assert dana.last_login is not None
    recorded = AuditEvent.objects.count()
    with pytest.raises(NotInvited, match="has signed in since the invitation"):
        resend(dana)
    assert len(mailoutbox) == 1 and AuditEvent.objects.count() == recorded


def test_someone_never_sent_a_link_is_not_invited(
    org, admin, jira, resend, django_capture_on_commit_callbacks
):
    # An existing, verified account invited gets a note, not a link: it was never "Invited".
    known = AccountFactory(email="known@partner.test")
    s.user_invite(org=org, actor=admin, email=known.email, site_ids=[jira.site_id])
    with pytest.raises(NotInvited, match="never sent a sign-in link"):
        resend(known)


def test_a_deactivated_person_is_not_invited(org, admin, resend, invite):
    dana, _ = invite("dana@acme.test")
    OrgUser.objects.filter(account=dana).update(is_managed=True)  # only managed accounts are deactivated
    user_services.user_deactivate(org=org, actor=admin, account_id=dana.account_id, message="")
    with pytest.raises(NotInvited, match="is deactivated"):
        resend(dana)


def test_another_orgs_person_or_admin_is_not_found(invite, resend, org, other_org_admin):
    dana, _ = invite()
    stranger = AccountFactory(email="stranger@other.test")
    OrgUser.objects.create(org=other_org_admin.org, account=stranger, email=stranger.email)
    for account_id in (stranger.account_id, "nobody", "x" * 65, "a\x00b"):
        with pytest.raises(NotFound):
            invitations.user_invitation_resend(
                org=org, actor=org.admins.first().account, account_id=account_id
            )
    with pytest.raises(NotFound):  # another org's admin, or its key, acting on this org
        resend(dana, actor=other_org_admin.account)
    with pytest.raises(NotFound):
        resend(dana, actor=ApiKey(org_id=other_org_admin.org.pk))
    assert not events("org:user:invitation_resent")


def test_a_person_with_a_password_is_sent_the_sign_in_page(invite, resend, mailoutbox):
    dana, first_link = invite()
    dana.set_password(PASSWORD)
    dana.save(update_fields=["password"])
    links = SignInLink.objects.count()
    assert resend(dana).signin_link is False
    body = mailoutbox[-1].body
    assert "Sign in with your existing account:\n\nhttp://testserver/login" in body
    assert not LINK.search(body) and "no longer works" not in body
    assert SignInLink.objects.count() == links  # no link made, none superseded
    assert Client().post(first_link).status_code == 302


def test_an_api_key_resends_as_itself(invite, resend, org):
    dana, _ = invite()
    resend(dana, actor=ApiKey(org_id=org.pk))
    event = events("org:user:invitation_resent")[-1]
    assert (event.actor_type, event.actor_id, event.actor_name) == ("api_key", "key_1", "Onboarding script")


def test_three_an_hour_per_address_then_it_waits(invite, resend, mailoutbox):
    dana, _ = invite()
    with time_machine.travel("2026-05-04T10:00:30Z", tick=False):
        for _ in range(3):
            resend(dana)
        sent, recorded, links = len(mailoutbox), AuditEvent.objects.count(), SignInLink.objects.count()
        with pytest.raises(
            InvitationThrottled,
            match=r"^Too many invitation emails to dana@partner\.test\. Wait 60 minutes, then try again\.$",
        ) as raised:
            resend(dana)
        assert raised.value.retry_after == 3571
        # Refused: no email, no event, no new link — and the refusal is not counted itself.
        assert (len(mailoutbox), AuditEvent.objects.count(), SignInLink.objects.count()) == (
            sent,
            recorded,
            links,
        )
    with time_machine.travel("2026-05-04T12:00:01Z", tick=False):
        resend(dana)
    assert len(mailoutbox) == sent + 1


def test_one_sender_is_bounded_across_addresses(invite, resend, resends_per_sender, org):
    resends_per_sender(2)  # the per-sender limit (100 an hour) at 2, so two invitees reach it
    people = [invite(f"p{i}@partner.test")[0] for i in range(3)]
    with time_machine.travel("2026-05-04T10:30:00Z", tick=False):
        resend(people[0])
        resend(people[1])
        with pytest.raises(InvitationThrottled):
            resend(people[2])
        # Another key of the org is another sender.
        resend(people[2], actor=ApiKey(org_id=org.pk, key_id="key_2"))
