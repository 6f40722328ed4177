"""orgs.services.invitations.users_invitation_resend: the invitation sent again to several people.

Before: an admin could send an invitation again only one person at a time, from each person's page.
"""

from __future__ import annotations

import re

import pytest
import time_machine
from django.test import Client

from orgwarden.accounts.models import Account, SignInLink
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.exceptions import InvalidInput, InvitationThrottled, NotFound
from orgwarden.orgs.models import GroupMember, OrgUser
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services import invitations
from orgwarden.orgs.services import users as user_services
from orgwarden.orgs.tests.factories import ApiKey

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver(/login/link/\S+)")
HOUR = "2026-05-04T10:00:30Z"  # 30 s into an hour's window: a refusal waits 3571 s


@pytest.fixture
def invite(org, admin, jira, run):
    def make(email: str) -> Account:
        return run(s.user_invite, org=org, actor=admin, email=email, site_ids=[jira.site_id])

    return make


@pytest.fixture
def resend(org, admin, run):
    def call(*accounts, actor=None, ids=None, **kwargs) -> invitations.InvitationsResent:
        return run(
            invitations.users_invitation_resend,
            org=org,
            actor=actor or admin,
            account_ids=ids if ids is not None else [a.account_id for a in accounts],
            **kwargs,
        )

    return call


def state() -> tuple:
    """What a refused call must leave as it was."""
    return (SignInLink.objects.count(), AuditEvent.objects.count())


def test_each_gets_the_invitation_again_with_a_new_link_and_an_event(invite, resend, admin, jira, mailoutbox):
    dana, eli = invite("dana@partner.test"), invite("eli@partner.test")
    first_links = [LINK.search(m.body).group(1) for m in mailoutbox]
    done = resend(eli, dana)
    assert [one.account for one in done.sent] == [eli, dana] and done.not_sent == []
    assert all(one.signin_link and one.sites == [jira] for one in done.sent)

    again = mailoutbox[2:]
    assert [m.to for m in again] == [["eli@partner.test"], ["dana@partner.test"]]
    assert all("sent your invitation again" in m.body for m in again)
    events = AuditEvent.objects.filter(action="org:user:invitation_resent").order_by("id")
    assert [(e.targets[0]["id"], e.actor_id) for e in events] == [
        (eli.account_id, admin.account_id),
        (dana.account_id, admin.account_id),
    ]
    assert AuditEvent.objects.filter(action="account:signin_link:created").count() == 2 + 2
    # Each earlier link stops working; each new one signs its person in.
    for link in first_links:
        assert Client().post(link).status_code == 400
    for mail, person in zip(again, (eli, dana), strict=True):
        client = Client()
        assert client.post(LINK.search(mail.body).group(1)).status_code == 302
        assert client.session["_auth_user_id"] == str(person.pk)


def test_the_emails_leave_only_when_the_call_commits(
    org, admin, invite, mailoutbox, django_capture_on_commit_callbacks
):
    dana = invite("dana@partner.test")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        invitations.users_invitation_resend(org=org, actor=admin, account_ids=[dana.account_id])
    assert len(mailoutbox) == 1 and len(queued) == 1  # queued for after commit, not sent inside it


def test_people_no_longer_invited_are_passed_over_with_the_reason(org, admin, invite, resend, mailoutbox):
    signed_in, deactivated, no_site, waiting = (
        invite(e) for e in ("sig@partner.test", "dee@acme.test", "nos@partner.test", "wai@partner.test")
    )
    assert Client().post(LINK.search(mailoutbox[0].body).group(1)).status_code == 302  # sig signs in
    OrgUser.objects.filter(account=deactivated).update(is_managed=True)
    user_services.user_deactivate(org=org, actor=admin, account_id=deactivated.account_id, message="")
    GroupMember.objects.filter(account=no_site).delete()
    never = AccountFactory(email="known@partner.test")  # a user of the org never sent a link
    OrgUser.objects.create(org=org, account=never, email=never.email)
    sent = len(mailoutbox)

    done = resend(signed_in, deactivated, no_site, never, waiting)
    assert [one.account for one in done.sent] == [waiting]
    assert [(one.account, one.why) for one in done.not_sent] == [
        (
            signed_in,
            "sig@partner.test has signed in since the invitation: there is no invitation to send again.",
        ),
        (deactivated, "dee@acme.test is deactivated: reactivate them before you send the invitation again."),
        (
            no_site,
            f"nos@partner.test has no access to any product site of {org.name} any more: "
            "invite them to a product site instead.",
        ),
        (never, "known@partner.test was never sent a sign-in link: there is no invitation to send again."),
    ]
    assert [m.to for m in mailoutbox[sent:]] == [["wai@partner.test"]]
    assert AuditEvent.objects.filter(action="org:user:invitation_resent").count() == 1

    # Nobody left to send it to: nothing sent, nothing recorded, nothing counted.
    before = state()
    done = resend(signed_in, no_site)
    assert done.sent == [] and len(done.not_sent) == 2 and state() == before
    assert len(mailoutbox) == sent + 1


def test_one_address_past_its_limit_refuses_everyone(invite, resend, mailoutbox):
    dana, eli = invite("dana@partner.test"), invite("eli@partner.test")
    with time_machine.travel(HOUR, tick=False):
        resend(dana)
        resend(dana)
        resend(dana)  # with the first invitation: the address's 3 an hour would be 4
        before, sent = state(), len(mailoutbox)
        with pytest.raises(InvitationThrottled) as raised:
            resend(eli, dana)
    assert raised.value.message == (
        "Too many invitation emails to dana@partner.test: no invitation was sent. Wait 60 minutes, "
        "then try again, or send it to the others without this address now."
    )
    assert raised.value.retry_after == 3571
    # Nothing sent, recorded, or linked — eli's email neither — and eli was not counted.
    assert state() == before and len(mailoutbox) == sent
    with time_machine.travel(HOUR, tick=False):
        assert [one.account for one in resend(eli).sent] == [eli]


def test_the_sender_past_its_limit_refuses_everyone(invite, resend, resends_per_sender, mailoutbox, org):
    resends_per_sender(3)  # emails sent again by one admin or key: 100 an hour, here 3
    people = [invite(f"p{i}@partner.test") for i in range(4)]
    with time_machine.travel(HOUR, tick=False):
        resend(people[0], people[1])
        before, sent = state(), len(mailoutbox)
        with pytest.raises(
            InvitationThrottled,
            match=r"^Too many invitation emails sent again by .+: at most 3 an hour to people who were "
            r"invited before: no invitation was sent\. Wait 60 minutes, then try again\.$",
        ):
            resend(people[2], people[3])
        assert state() == before and len(mailoutbox) == sent
        # More than the limit at once could never pass: the message says to choose fewer.
        with pytest.raises(InvitationThrottled, match=r"Choose at most 3 people at a time\.$"):
            resend(*people)
        assert state() == before and len(mailoutbox) == sent
        # Another sender (a key of the org) has its own count.
        done = resend(people[2], people[3], actor=ApiKey(org_id=org.pk))
    assert len(done.sent) == 2


def test_another_orgs_people_are_refused_or_passed_over_never_sent(
    org, invite, resend, run, other_org_admin, their_site, mailoutbox
):
    dana = invite("dana@partner.test")
    # Invited by the other org: someone waiting on an invitation, but not ours.
    theirs = run(
        s.user_invite,
        org=other_org_admin.org,
        actor=other_org_admin.account,
        email="theirs@other.test",
        site_ids=[their_site.site_id],
    )
    before, sent = state(), len(mailoutbox)
    for ids in (
        [dana.account_id, theirs.account_id],
        [dana.account_id, "nobody"],
        ["x" * 65, dana.account_id],
    ):
        with pytest.raises(NotFound):
            resend(ids=ids)
    assert state() == before and len(mailoutbox) == sent

    # A stale console selection: the ids that are not ours are passed over, named nowhere.
    done = resend(ids=[theirs.account_id, dana.account_id, "a\x00b"], skip_gone=True)
    assert [one.account for one in done.sent] == [dana] and done.not_sent == []
    assert [m.to for m in mailoutbox[sent:]] == [["dana@partner.test"]]

    # Another org's admin, or its key, acting on this org: not found.
    for actor in (other_org_admin.account, ApiKey(org_id=other_org_admin.org.pk)):
        with pytest.raises(NotFound):
            resend(dana, actor=actor)
    assert AuditEvent.objects.filter(action="org:user:invitation_resent").count() == 1


@pytest.mark.parametrize(
    ("ids", "message"), [([], "Select at least one user."), ("abc", "Give a list of account ids.")]
)
def test_bad_selections_are_invalid_input(org, admin, ids, message):
    with pytest.raises(InvalidInput, match=message):
        invitations.users_invitation_resend(org=org, actor=admin, account_ids=ids)


def test_a_person_with_a_password_is_sent_the_sign_in_page(invite, resend, mailoutbox):
    dana = invite("dana@partner.test")
    dana.set_password(PASSWORD)
    dana.save(update_fields=["password"])
    links = SignInLink.objects.count()
    (one,) = resend(dana).sent
    assert one.signin_link is False and SignInLink.objects.count() == links
    assert "Sign in with your existing account:\n\nhttp://testserver/login" in mailoutbox[-1].body


def test_each_email_lists_that_persons_own_sites_by_name_read_once_for_everyone(
    org, admin, jira, invite, resend, run, django_assert_max_num_queries
):
    """The sites of everyone resent to are read together (``selectors.invitations.sites_usable``),
    not once per person, and each still gets only theirs, by name."""
    wiki = s.site_add(
        org=org, actor=admin, product="confluence", name="Acme Wiki", url="https://wiki.acme.test"
    )
    dana, eli = invite("dana@partner.test"), invite("eli@partner.test")
    run(s.user_invite, org=org, actor=admin, email="eli@partner.test", site_ids=[wiki.site_id])
    people = [invite(f"p{i}@partner.test") for i in range(8)]
    with django_assert_max_num_queries(200) as queries:
        resend(*people)
    statements = [q["sql"] or "" for q in queries.captured_queries]  # None: a prepared statement's
    per_person = [sql for sql in statements if "productsite" in sql and "groupmember" in sql]
    assert len(per_person) == 1, per_person  # it was one a person
    done = resend(eli, dana)
    assert [one.sites for one in done.sent] == [[jira, wiki], [jira]]  # "Acme Jira" before "Acme Wiki"
