"""Every invitation email is counted (``orgs.services.invitation_limits``), and inviting again
supersedes the earlier sign-in links; first invitations are capped per org, for all its admins and
API keys together.

Before: inviting someone again (``user_invite`` / ``users_invite``, an admin invitation to an
address with one pending) sent an email every time — a stolen admin session or org API key could
fill a mailbox from the customer's own domain — and a person still "Invited" who was invited again
got a new one-time link while the older ones kept working. And first invitations were bounded per
address only: a stolen key or admin session could invite new address after new address without end.
Then they were capped per sender, which bounded nothing either: an admin session can create API
keys, and invite addresses it controls as admins, each a fresh sender with a full hour of its own.
"""

from __future__ import annotations

import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from orgwarden.accounts.models import Account, SignInLink
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.api.tests.helpers import api_client_for
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs import services as org_services
from orgwarden.orgs.exceptions import InvitationThrottled
from orgwarden.orgs.models import AdminInvitation, Domain, GroupMember, OrgUser, SiteAccess
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services import invitations
from orgwarden.orgs.tests.factories import ApiKey, OrgAdminFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver(/login/link/\S+)")
HOUR = "2026-05-04T10:00:30Z"  # 30 s into an hour's window: a refusal waits 3571 s


@pytest.fixture
def wiki(org, admin):
    return s.site_add(
        org=org, actor=admin, product="confluence", name="Acme Wiki", url="https://wiki.acme.test"
    )


@pytest.fixture
def small_sender_limit(resends_per_sender):
    """The per-sender limit (100 an hour) at 2, the per-address one as it is."""
    resends_per_sender(2)


@pytest.fixture
def three_an_hour(settings):
    settings.FIRST_INVITATIONS_PER_HOUR = 3


def state() -> tuple:
    """What a refused call must leave as it was."""
    return (
        Account.objects.count(),
        OrgUser.objects.count(),
        GroupMember.objects.count(),
        SignInLink.objects.count(),
        AuditEvent.objects.count(),
        AdminInvitation.objects.filter(revoked_at__isnull=True).count(),
    )


# --- inviting again counts with resending -----------------------------------------------------------


def test_an_invite_again_and_a_resend_count_together_per_address(org, admin, jira, wiki, run, mailoutbox):
    with time_machine.travel(HOUR, tick=False):
        dana = run(s.user_invite, org=org, actor=admin, email="dana@partner.test", site_ids=[jira.site_id])
        run(s.user_invite, org=org, actor=admin, email="dana@partner.test", site_ids=[jira.site_id])
        run(invitations.user_invitation_resend, org=org, actor=admin, account_id=dana.account_id)
        assert len(mailoutbox) == 3
        before = state()

        # A fourth invitation email to the address, by any way and from anyone, is refused.
        with pytest.raises(
            InvitationThrottled,
            match=r"^Too many invitation emails to dana@partner\.test\. Wait 60 minutes, then try again\.$",
        ) as raised:
            run(s.user_invite, org=org, actor=admin, email="Dana@Partner.test", site_ids=[wiki.site_id])
        assert raised.value.retry_after == 3571
        with pytest.raises(InvitationThrottled):
            run(
                s.user_invite,
                org=org,
                actor=ApiKey(org.pk),
                email="dana@partner.test",
                site_ids=[jira.site_id],
            )
        with pytest.raises(InvitationThrottled):
            run(invitations.user_invitation_resend, org=org, actor=admin, account_id=dana.account_id)
        # Nothing changed: no email, no event, no group joined (not even the new site's), no link.
        assert len(mailoutbox) == 3 and state() == before
        wiki_groups = SiteAccess.objects.filter(site=wiki).values("group")
        assert not GroupMember.objects.filter(account=dana, group__in=wiki_groups).exists()

    with time_machine.travel("2026-05-04T12:00:01Z", tick=False):  # two windows later
        run(s.user_invite, org=org, actor=admin, email="dana@partner.test", site_ids=[wiki.site_id])
    assert len(mailoutbox) == 4 and "Acme Wiki" in mailoutbox[-1].subject


def test_a_several_person_invite_is_refused_whole_naming_who_had_too_many(org, admin, jira, run, mailoutbox):
    with time_machine.travel(HOUR, tick=False):
        for _ in range(3):
            run(s.users_invite, org=org, actor=admin, emails=["dana@partner.test"], site_ids=[jira.site_id])
        before, sent = state(), len(mailoutbox)
        with pytest.raises(InvitationThrottled) as raised:
            run(
                s.users_invite,
                org=org,
                actor=admin,
                emails=["new1@partner.test", "dana@partner.test", "new2@partner.test"],
                site_ids=[jira.site_id],
            )
        assert raised.value.message == (
            "Too many invitation emails to dana@partner.test: nobody was invited. Wait 60 minutes, "
            "then try again, or invite the others without this address now."
        )
        # Nobody: the two new people's accounts were not created either.
        assert state() == before and len(mailoutbox) == sent
        assert not Account.objects.filter(email__startswith="new").exists()

        # The others without it go through at once: the refusal counted nothing.
        run(
            s.users_invite,
            org=org,
            actor=admin,
            emails=["new1@partner.test", "new2@partner.test"],
            site_ids=[jira.site_id],
        )
    assert [m.to for m in mailoutbox[sent:]] == [["new1@partner.test"], ["new2@partner.test"]]


def test_first_invitations_do_not_count_against_the_sender_invitations_again_do(
    org, admin, jira, run, small_sender_limit, mailoutbox
):
    people = [f"p{i}@partner.test" for i in range(4)]
    with time_machine.travel(HOUR, tick=False):
        # Four new people, with a sender limit of 2: bringing people in is not what it bounds.
        run(s.users_invite, org=org, actor=admin, emails=people, site_ids=[jira.site_id])
        before = state()
        # Three of them again in one call: 3 emails sent again, past 2 — all refused.
        with pytest.raises(
            InvitationThrottled,
            match=r"^Too many invitation emails sent again by .+: at most 2 an hour to people who were "
            r"invited before: nobody was invited\. Wait 60 minutes, then try again\.$",
        ):
            run(s.users_invite, org=org, actor=admin, emails=people[:3], site_ids=[jira.site_id])
        assert state() == before and len(mailoutbox) == 4
        # Two fit; then the sender has none left, for a resend too — the same counter.
        run(s.users_invite, org=org, actor=admin, emails=people[:2], site_ids=[jira.site_id])
        p3 = Account.objects.get(email=people[3])
        with pytest.raises(InvitationThrottled, match="sent again by"):
            run(invitations.user_invitation_resend, org=org, actor=admin, account_id=p3.account_id)
        # Another sender (an API key of the org) has its own count.
        run(s.user_invite, org=org, actor=ApiKey(org.pk), email=people[3], site_ids=[jira.site_id])
    assert len(mailoutbox) == 4 + 2 + 1


# --- admin invitations --------------------------------------------------------------------------------


def test_admin_invitations_count_with_the_other_invitation_emails(org, admin, jira, run, mailoutbox):
    with time_machine.travel(HOUR, tick=False):
        run(s.user_invite, org=org, actor=admin, email="ops@partner.test", site_ids=[jira.site_id])
        run(org_services.admin_invite, org=org, actor=admin, email="ops@partner.test")
        run(org_services.admin_invite, org=org, actor=admin, email="ops@partner.test")  # sent again
        pending = AdminInvitation.objects.get(revoked_at__isnull=True)
        before, sent = state(), len(mailoutbox)
        with pytest.raises(InvitationThrottled, match=r"^Too many invitation emails to ops@partner\.test\. "):
            run(org_services.admin_invite, org=org, actor=admin, email="ops@partner.test")
        # Refused: the pending invitation was not replaced, and its emailed link still works.
        assert state() == before and len(mailoutbox) == sent
        assert AdminInvitation.objects.get(revoked_at__isnull=True) == pending
        assert AuditEvent.objects.filter(action="org:admin:invited").count() == 2


def test_an_admin_invitation_sent_again_counts_against_the_admin(org, admin, run, small_sender_limit):
    with time_machine.travel(HOUR, tick=False):
        for email in ("a@partner.test", "b@partner.test", "c@partner.test"):
            run(org_services.admin_invite, org=org, actor=admin, email=email)  # first: not counted
        run(org_services.admin_invite, org=org, actor=admin, email="a@partner.test")
        run(org_services.admin_invite, org=org, actor=admin, email="b@partner.test")
        with pytest.raises(InvitationThrottled, match="sent again by"):
            run(org_services.admin_invite, org=org, actor=admin, email="c@partner.test")


# --- first invitations: per org, all its admins and API keys together ---------------------------------


@pytest.fixture
def invite_people(org, admin, jira, run):
    """Invite ``emails`` to Acme Jira at once, by ``actor`` (the admin unless said)."""

    def call(*emails: str, actor=None):
        return run(
            s.users_invite, org=org, actor=actor or admin, emails=list(emails), site_ids=[jira.site_id]
        )

    return call


def test_the_default_fits_a_5000_person_onboarding_in_an_hour(settings):
    assert settings.FIRST_INVITATIONS_PER_HOUR == 5000
    assert 5000 % s.MAX_INVITES_PER_CALL == 0  # 100 calls of 50, none of them refused


def test_new_people_past_the_orgs_hourly_number_are_refused_whole(
    org, admin, invite_people, three_an_hour, mailoutbox
):
    with time_machine.travel(HOUR, tick=False):
        invite_people("a@partner.test", "b@partner.test")
        before, sent = state(), len(mailoutbox)
        with pytest.raises(InvitationThrottled) as raised:
            invite_people("c@partner.test", "d@partner.test")
        assert raised.value.message == (
            f"Too many invitations of new people in {org.name}: at most 3 an hour for all its admins "
            "and API keys together: nobody was invited. Wait 60 minutes, then try again."
        )
        assert raised.value.retry_after == 3571
        # Nobody: c was not invited either, though one more would have fit.
        assert state() == before and len(mailoutbox) == sent
        assert not Account.objects.filter(email="c@partner.test").exists()

        invite_people("c@partner.test")
        with pytest.raises(
            InvitationThrottled, match=r"^Too many invitations of new people in .+: at most 3 an hour "
        ):
            invite_people("d@partner.test")
        # Inviting the same people again is not inviting new people: its own count (100 an hour).
        invite_people("a@partner.test", "b@partner.test")
        # Another sender — an API key of the org — shares the org's hourly number.
        with pytest.raises(InvitationThrottled, match="Too many invitations of new people"):
            invite_people("d@partner.test", actor=ApiKey(org_id=org.pk))
    with time_machine.travel("2026-05-04T12:00:01Z", tick=False):  # two windows later
        invite_people("d@partner.test", actor=ApiKey(org_id=org.pk))
    assert [m.to[0][0] for m in mailoutbox] == ["a", "b", "c", "a", "b", "d"]


def test_an_existing_account_new_to_the_org_is_a_first_invitation(org, invite_people, three_an_hour):
    known = [AccountFactory(email=f"k{i}@partner.test") for i in range(4)]
    with time_machine.travel(HOUR, tick=False):
        invite_people(*(k.email for k in known[:3]))
        with pytest.raises(InvitationThrottled, match="Too many invitations of new people"):
            invite_people(known[3].email)
    assert not OrgUser.objects.filter(org=org, account=known[3]).exists()


def test_a_first_admin_invitation_counts_too(org, admin, run, invite_people, three_an_hour):
    with time_machine.travel(HOUR, tick=False):
        invite_people("a@partner.test", "b@partner.test")
        run(org_services.admin_invite, org=org, actor=admin, email="ops@partner.test")
        before = state()
        with pytest.raises(InvitationThrottled, match="Too many invitations of new people"):
            run(org_services.admin_invite, org=org, actor=admin, email="sec@partner.test")
        assert state() == before
        # Sent again (replacing the pending invitation): the other count.
        run(org_services.admin_invite, org=org, actor=admin, email="ops@partner.test")


# --- through the console and the REST API: one hourly number per org ----------------------------------


def refusal(org) -> str:
    return (
        f"Too many invitations of new people in {org.name}: at most 3 an hour for all its admins and API "
        "keys together: nobody was invited. Wait 60 minutes, then try again."
    )


@pytest.fixture
def console_invite(django_capture_on_commit_callbacks):
    """Users → Invite people, posted by ``account`` in its own browser session; the response."""

    def call(account, org, site, *emails: str):
        client = Client()
        client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
        url = reverse("console:users_invite", args=[org.org_id])
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, {"emails": "\n".join(emails), "site_ids": [site.site_id], "role": "user"})

    return call


@pytest.fixture
def rest_invite(django_capture_on_commit_callbacks):
    """``POST …/users/invite`` with a key of ``org`` (an ``ApiClient``); the response."""

    def call(api, org, site, *emails: str):
        url = f"/api/admin/v1/orgs/{org.org_id}/users/invite"
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(url, {"emails": list(emails), "site_ids": [site.site_id]})

    return call


def test_two_admins_of_one_org_share_its_hourly_number(
    org, admin, jira, console_invite, three_an_hour, mailoutbox, django_capture_on_commit_callbacks
):
    # An admin the first one invited (an address a stolen session controls, say) is no fresh sender.
    second = OrgAdminFactory(org=org).account
    with time_machine.travel(HOUR, tick=False):
        assert console_invite(admin, org, jira, "a@partner.test", "b@partner.test").status_code == 302
        before, sent = state(), len(mailoutbox)
        refused = console_invite(second, org, jira, "c@partner.test", "d@partner.test")
        assert refused.status_code == 400
        assert refusal(org) in refused.content.decode()
        # Refused whole: nobody invited (not even c, who would have fit), no email, no event.
        assert state() == before and len(mailoutbox) == sent
        assert not Account.objects.filter(email__in=["c@partner.test", "d@partner.test"]).exists()

        assert console_invite(second, org, jira, "c@partner.test").status_code == 302
        # The org's number is used up: the second admin's first admin invitation is refused too.
        client = Client()
        client.force_login(second, backend="orgwarden.accounts.backends.AccountBackend")
        with django_capture_on_commit_callbacks(execute=True):
            admins = client.post(f"/admin/o/{org.org_id}/admins/", {"email": "ops@partner.test"})
        assert admins.status_code == 400
        assert (
            f"Too many invitations of new people in {org.name}: at most 3 an hour" in admins.content.decode()
        )
    assert not AdminInvitation.objects.exists()
    assert [m.to for m in mailoutbox] == [["a@partner.test"], ["b@partner.test"], ["c@partner.test"]]


def test_an_admin_and_the_orgs_api_keys_share_its_hourly_number(
    org_admin, org, admin, jira, console_invite, rest_invite, three_an_hour, mailoutbox
):
    script = api_client_for(org_admin)
    with time_machine.travel(HOUR, tick=False):
        assert console_invite(admin, org, jira, "a@partner.test", "b@partner.test").status_code == 302
        before, sent = state(), len(mailoutbox)
        limited = rest_invite(script, org, jira, "c@partner.test", "d@partner.test")
        assert limited.status_code == 429 and limited["Retry-After"] == "3571"
        assert limited.json() == {"code": "rate_limited", "message": refusal(org)}
        assert state() == before and len(mailoutbox) == sent

        assert rest_invite(script, org, jira, "c@partner.test").status_code == 200
        # Now the admin's own invitation waits for the key's…
        refused = console_invite(admin, org, jira, "d@partner.test")
        assert refused.status_code == 400
        assert (
            f"Too many invitations of new people in {org.name}: at most 3 an hour" in refused.content.decode()
        )
        # …and a key created now, a fresh sender, has no fresh hour of its own.
        fresh = api_client_for(org_admin)
        again = rest_invite(fresh, org, jira, "d@partner.test")
        assert again.status_code == 429 and again.json()["code"] == "rate_limited"
    assert not Account.objects.filter(email="d@partner.test").exists()
    assert [m.to for m in mailoutbox] == [["a@partner.test"], ["b@partner.test"], ["c@partner.test"]]


def test_each_org_has_its_own_full_hourly_number(
    org, admin, jira, other_org_admin, their_site, console_invite, rest_invite, three_an_hour, mailoutbox
):
    other = other_org_admin.org
    OrgAdminFactory(org=other, account=admin)  # the same person administers both orgs
    with time_machine.travel(HOUR, tick=False):
        assert (
            console_invite(admin, org, jira, "a@partner.test", "b@partner.test", "c@partner.test").status_code
            == 302
        )
        # The same admin in the other org: that org's own 3, untouched by the first org's.
        assert console_invite(admin, other, their_site, "d@partner.test", "e@partner.test").status_code == 302
        assert (
            rest_invite(api_client_for(other_org_admin), other, their_site, "f@partner.test").status_code
            == 200
        )
        # Both used up now, and each refusal names its own org.
        mine = console_invite(admin, org, jira, "g@partner.test")
        assert (
            mine.status_code == 400
            and refusal(org).replace(": nobody was invited", "") in mine.content.decode()
        )
        theirs = console_invite(other_org_admin.account, other, their_site, "g@partner.test")
        assert theirs.status_code == 400
        assert refusal(other).replace(": nobody was invited", "") in theirs.content.decode()
    assert sorted(m.to[0][0] for m in mailoutbox) == ["a", "b", "c", "d", "e", "f"]


# --- inviting again supersedes the earlier links ------------------------------------------------------


def test_inviting_someone_still_invited_again_voids_their_earlier_link(
    org, admin, jira, wiki, run, mailoutbox
):
    dana = run(s.user_invite, org=org, actor=admin, email="dana@partner.test", site_ids=[jira.site_id])
    first = LINK.search(mailoutbox[-1].body).group(1)
    run(s.user_invite, org=org, actor=admin, email="dana@partner.test", site_ids=[wiki.site_id])
    again = mailoutbox[-1].body
    second = LINK.search(again).group(1)
    assert second != first
    assert "An account is waiting for you with this email address." in again
    assert "the one in any earlier invitation no longer works" in again
    assert AuditEvent.objects.filter(action="account:signin_link:created").last().details == {
        "expires_in_hours": 24,
        "superseded_links": 1,
    }
    assert Client().post(first).status_code == 400  # the first email signs nobody in
    client = Client()
    assert client.post(second).status_code == 302
    assert client.session["_auth_user_id"] == str(dana.pk)


def test_on_a_verified_domain_too_and_without_the_unknown_setter_warning(org, admin, jira, run, mailoutbox):
    Domain.objects.create(org=org, name="acme.test", token="t", status="verified", method="dns")
    run(s.user_invite, org=org, actor=admin, email="ivy@acme.test", site_ids=[jira.site_id])
    first = LINK.search(mailoutbox[-1].body).group(1)
    run(s.user_invite, org=org, actor=admin, email="ivy@acme.test", site_ids=[jira.site_id])
    again = mailoutbox[-1].body
    # The org's own invitation made the account: not "whoever set it up may not have been you".
    assert "may not have been you" not in again and "the one in any earlier invitation" in again
    assert Client().post(first).status_code == 400
    assert Client().post(LINK.search(again).group(1)).status_code == 302


def test_someone_with_a_password_invited_again_keeps_their_way_in(org, admin, jira, wiki, run, mailoutbox):
    dana = run(s.user_invite, org=org, actor=admin, email="dana@partner.test", site_ids=[jira.site_id])
    first = LINK.search(mailoutbox[-1].body).group(1)
    dana.set_password(PASSWORD)
    dana.save(update_fields=["password"])
    links = SignInLink.objects.count()
    run(s.user_invite, org=org, actor=admin, email="dana@partner.test", site_ids=[wiki.site_id])
    assert not LINK.search(mailoutbox[-1].body) and SignInLink.objects.count() == links
    assert Client().post(first).status_code == 302  # nothing superseded: no new link replaces it


def test_a_new_person_is_not_said_to_replace_anything(org, admin, jira, run, mailoutbox):
    run(s.user_invite, org=org, actor=admin, email="new@partner.test", site_ids=[jira.site_id])
    body = mailoutbox[-1].body
    assert "An account was created for you" in body and "earlier invitation" not in body
    assert AuditEvent.objects.filter(action="account:signin_link:created").last().details == {
        "expires_in_hours": 24
    }
