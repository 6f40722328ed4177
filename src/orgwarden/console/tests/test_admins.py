"""Settings → Administrators, and the invitation page, through the real views."""

from __future__ import annotations

import re

import lxml.html
import pytest
from django.test import Client

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs import selectors
from orgwarden.orgs.models import AdminInvitation, OrgAdmin
from orgwarden.orgs.tests.factories import OrgAdminFactory

pytestmark = pytest.mark.django_db

BACKEND = "orgwarden.accounts.backends.AccountBackend"
STRONG = "a long and unusual passphrase 7"


def client_for(account) -> Client:
    client = Client()
    client.force_login(account, backend=BACKEND)
    return client


def admins_url(org) -> str:
    return f"/admin/o/{org.org_id}/admins/"


def invite(client, org, email, django_capture_on_commit_callbacks, mailoutbox) -> str:
    """Invite through the page; return the path of the emailed link."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(admins_url(org), {"email": email})
    assert response.status_code == 302 and response["Location"] == admins_url(org)
    return re.search(r"http://testserver(/admin/invitations/\S+)", mailoutbox[-1].body).group(1)


# --- the admins page ---------------------------------------------------------------------------------


def test_admins_page_lists_admins_and_pending_invitations(admin_client, org, org_admin):
    second = OrgAdminFactory(org=org)
    AdminInvitation.objects.create(
        org=org, email="pending@example.com", token_hash="h" * 64, expires_at="2999-01-01T00:00:00Z"
    )
    response = admin_client.get(admins_url(org))
    assert response.status_code == 200
    for text in [org_admin.account.email, second.account.email, "pending@example.com"]:
        assert text.encode() in response.content


def test_the_only_admin_gets_no_remove_button(admin_client, org, org_admin):
    response = admin_client.get(admins_url(org))
    assert f"/admins/{org_admin.account.account_id}/remove".encode() not in response.content


def test_invite_through_the_page(
    admin_client, org, org_admin, django_capture_on_commit_callbacks, mailoutbox
):
    path = invite(admin_client, org, "New@Example.com", django_capture_on_commit_callbacks, mailoutbox)
    assert mailoutbox[0].to == ["new@example.com"]
    invitation = AdminInvitation.objects.get()
    assert invitation.org == org and invitation.invited_by == org_admin.account
    event = AuditEvent.objects.get(action="org:admin:invited")
    assert event.org_id == org.org_id and event.actor_id == org_admin.account.account_id
    assert path.startswith("/admin/invitations/")
    page = admin_client.get(admins_url(org))
    assert b"Invitation sent to new@example.com." in page.content


@pytest.mark.parametrize("email", ["", "not-an-email", "x" * 10_000 + "@example.com"])
def test_invite_with_a_bad_email_is_a_form_error(admin_client, org, email, mailoutbox):
    response = admin_client.post(admins_url(org), {"email": email})
    assert response.status_code == 400 and b'class="errorlist"' in response.content
    assert not AdminInvitation.objects.exists() and not AuditEvent.objects.exists()


def test_inviting_an_existing_admin_is_a_form_error(admin_client, org, org_admin):
    response = admin_client.post(admins_url(org), {"email": org_admin.account.email})
    assert response.status_code == 400
    assert b"already an admin of this organization" in response.content
    assert not AdminInvitation.objects.exists()


def test_remove_an_admin(admin_client, org, org_admin):
    second = OrgAdminFactory(org=org)
    response = admin_client.post(f"{admins_url(org)}{second.account.account_id}/remove")
    assert response.status_code == 302 and response["Location"] == admins_url(org)
    assert not selectors.is_org_admin(org=org, account=second.account)
    event = AuditEvent.objects.get(action="org:admin:removed")
    assert event.org_id == org.org_id and event.targets[1]["id"] == second.account.account_id


def test_remove_and_leave_ask_for_confirmation_first(admin_client, org, org_admin):
    # Like revoking an API key: the row's button only opens a <details class="confirm"> that names
    # who loses admin rights; the POST button is inside it.
    second = OrgAdminFactory(org=org, account__display_name="Ada Lovelace", account__email="ada@example.com")
    page = lxml.html.fromstring(admin_client.get(admins_url(org)).content)
    forms = page.xpath("//form[contains(@action, '/remove')]")
    assert len(forms) == 2
    for form in forms:
        details = form.getparent()
        assert details.tag == "details" and "confirm" in details.classes, lxml.html.tostring(form)
        assert details.find("summary").text_content().strip() in {"Leave", "Remove ada@example.com"}
    remove = next(f for f in forms if second.account.account_id in f.get("action"))
    assert "Ada Lovelace (ada@example.com) stops being an admin" in remove.text_content()
    leave = next(f for f in forms if org_admin.account.account_id in f.get("action"))
    assert f"Leave {org.name}" in leave.text_content()


def test_the_removed_message_says_who(admin_client, org, org_admin):
    second = OrgAdminFactory(
        org=org, account__display_name="Ada Lovelace", account__email="ada@xn--bcher-kva.example"
    )
    response = admin_client.post(f"{admins_url(org)}{second.account.account_id}/remove", follow=True)
    said = f"Ada Lovelace (ada@bücher.example) is no longer an admin of {org.name}."
    assert said in response.content.decode()


def test_removing_the_last_admin_is_refused_with_a_message(admin_client, org, org_admin):
    response = admin_client.post(f"{admins_url(org)}{org_admin.account.account_id}/remove")
    assert response.status_code == 302 and response["Location"] == admins_url(org)
    assert selectors.is_org_admin(org=org, account=org_admin.account)
    assert b"must keep at least one admin" in admin_client.get(admins_url(org)).content
    assert not AuditEvent.objects.exists()


def test_leaving_an_org_goes_to_the_console_home(admin_client, org, org_admin):
    OrgAdminFactory(org=org)
    response = admin_client.post(f"{admins_url(org)}{org_admin.account.account_id}/remove")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert admin_client.get(f"/admin/o/{org.org_id}/").status_code == 404
    # The console home no longer sends the person back into the org they left.
    assert admin_client.get("/admin/").status_code == 200


def test_remove_and_revoke_are_post_only(admin_client, org, org_admin):
    second = OrgAdminFactory(org=org)
    invitation = AdminInvitation.objects.create(
        org=org, email="p@example.com", token_hash="h" * 64, expires_at="2999-01-01T00:00:00Z"
    )
    assert admin_client.get(f"{admins_url(org)}{second.account.account_id}/remove").status_code == 405
    assert (
        admin_client.get(f"/admin/o/{org.org_id}/invitations/{invitation.invitation_id}/revoke").status_code
        == 405
    )
    assert OrgAdmin.objects.filter(org=org).count() == 2


def test_an_invitation_revoke_sent_twice_says_it_is_no_longer_pending(admin_client, org, other_org_admin):
    invitation = AdminInvitation.objects.create(
        org=org, email="p@example.com", token_hash="h" * 64, expires_at="2999-01-01T00:00:00Z"
    )
    url = f"/admin/o/{org.org_id}/invitations/{invitation.invitation_id}/revoke"
    assert admin_client.post(url).status_code == 302
    again = admin_client.post(url, follow=True)
    assert again.status_code == 200 and "no longer pending" in again.content.decode()
    assert AuditEvent.objects.filter(action="org:admin:invitation_revoked").count() == 1
    theirs = AdminInvitation.objects.create(
        org=other_org_admin.org, email="q@example.com", token_hash="i" * 64, expires_at="2999-01-01T00:00:00Z"
    )
    theirs_url = f"/admin/o/{org.org_id}/invitations/{theirs.invitation_id}/revoke"
    assert admin_client.post(theirs_url).status_code == 404  # another org's: never confirmed


@pytest.mark.django_db(transaction=True)
def test_two_invitations_of_one_email_at_once_leave_one_link_working(admin_client, org, org_admin):
    """Two admins invite the same person at once (or one clicks Invite twice): each revokes the
    pending invitations it sees, then creates its own. The second did not see the first's, still
    uncommitted (PostgreSQL), so two links stayed live, where a second invitation replaces the first
    ("the old link stops working"). Invitations of an org are now made one at a time: the second
    waits for the first (the race helper fails when nothing waits), then revokes it."""
    from orgwarden.orgs.services import admin_invite
    from orgwarden.testing.races import behind_an_open_transaction

    second_admin = OrgAdminFactory(org=org).account
    response = behind_an_open_transaction(
        lambda: admin_invite(org=org, actor=second_admin, email="new@example.com"),
        lambda: admin_client.post(admins_url(org), {"email": "new@example.com"}),
    )
    assert response.status_code == 302
    live = AdminInvitation.objects.filter(email="new@example.com", revoked_at__isnull=True)
    assert list(live.values_list("invited_by", flat=True)) == [org_admin.account.pk]  # the second one
    assert AdminInvitation.objects.filter(email="new@example.com").count() == 2
    assert AuditEvent.objects.filter(action="org:admin:invited").count() == 2


def test_remove_an_unknown_account_is_404(admin_client, org):
    OrgAdminFactory(org=org)
    assert admin_client.post(f"{admins_url(org)}{'0' * 24}/remove").status_code == 404


def test_revoke_an_invitation(admin_client, org, django_capture_on_commit_callbacks, mailoutbox):
    path = invite(admin_client, org, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    invitation = AdminInvitation.objects.get()
    response = admin_client.post(f"/admin/o/{org.org_id}/invitations/{invitation.invitation_id}/revoke")
    assert response.status_code == 302 and response["Location"] == admins_url(org)
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert AuditEvent.objects.filter(action="org:admin:invitation_revoked").count() == 1
    assert Client().get(path).status_code == 404
    again = admin_client.post(f"/admin/o/{org.org_id}/invitations/{invitation.invitation_id}/revoke")
    assert again.status_code == 302 and again["Location"] == admins_url(org)  # says: no longer pending


# --- tenant isolation ----------------------------------------------------------------------------------


def test_another_orgs_admin_objects_are_404_by_id(
    admin_client, org, other_org_admin, django_capture_on_commit_callbacks, mailoutbox
):
    theirs = other_org_admin.org
    OrgAdminFactory(org=org)
    OrgAdminFactory(org=theirs)
    invite(
        client_for(other_org_admin.account),
        theirs,
        "x@example.com",
        django_capture_on_commit_callbacks,
        mailoutbox,
    )
    their_invitation = AdminInvitation.objects.get(org=theirs)
    their_admin_id = other_org_admin.account.account_id
    before = AuditEvent.objects.count()
    posts = [
        # B's ids through B's org …
        f"/admin/o/{theirs.org_id}/admins/{their_admin_id}/remove",
        f"/admin/o/{theirs.org_id}/invitations/{their_invitation.invitation_id}/revoke",
        f"/admin/o/{theirs.org_id}/admins/",
        # … and B's ids through A's own org.
        f"/admin/o/{org.org_id}/admins/{their_admin_id}/remove",
        f"/admin/o/{org.org_id}/invitations/{their_invitation.invitation_id}/revoke",
    ]
    for path in posts:
        response = admin_client.post(path, {"email": "evil@example.com"})
        assert response.status_code == 404, path
    assert selectors.is_org_admin(org=theirs, account=other_org_admin.account)
    their_invitation.refresh_from_db()
    assert their_invitation.is_pending
    assert AdminInvitation.objects.filter(email="evil@example.com").count() == 0
    assert AuditEvent.objects.count() == before
    assert admin_client.get(f"/admin/o/{theirs.org_id}/admins/").status_code == 404


# --- the invitation page -------------------------------------------------------------------------------


def test_invitation_accepted_by_a_signed_in_invitee(
    admin_client, org, django_capture_on_commit_callbacks, mailoutbox
):
    newcomer = AccountFactory(email="new@example.com", email_verified=False)
    path = invite(admin_client, org, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    client = client_for(newcomer)
    page = client.get(path)
    assert page.status_code == 200 and b"Accept invitation" in page.content
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == f"/admin/o/{org.org_id}/"
    assert selectors.is_org_admin(org=org, account=newcomer)
    newcomer.refresh_from_db()
    assert newcomer.email_verified
    assert client.get(response["Location"]).status_code == 200
    assert client.get(path).status_code == 404  # used


def test_invitation_refused_for_someone_else(
    admin_client, org, django_capture_on_commit_callbacks, mailoutbox
):
    path = invite(admin_client, org, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    intruder = client_for(AccountFactory(email="intruder@example.com"))
    page = intruder.get(path)
    assert b"Sign out and sign in as new@example.com" in page.content
    response = intruder.post(path)
    assert response.status_code == 400 and b"sent to another email address" in response.content
    assert OrgAdmin.objects.filter(org=org).count() == 1


def test_unknown_invitation_link_is_404_page():
    response = Client().get("/admin/invitations/forged-token")
    assert response.status_code == 404 and b"This invitation can" in response.content


def test_signed_out_invitee_signs_in_then_accepts(
    admin_client, org, django_capture_on_commit_callbacks, mailoutbox
):
    AccountFactory(email="new@example.com")
    path = invite(admin_client, org, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    browser = Client()
    page = browser.get(path)
    assert page.status_code == 200
    login_href = re.search(r'href="(/login\?[^"]+)"', page.content.decode()).group(1).replace("&amp;", "&")
    login = browser.get(login_href)
    assert b'value="new@example.com"' in login.content
    next_path = re.search(r'name="next" value="([^"]+)"', login.content.decode()).group(1)
    assert next_path == path
    browser.post("/login", {"email": "new@example.com", "next": next_path})
    response = browser.post("/login/step/password", {"password": PASSWORD})
    assert response["Location"] == path
    assert browser.post(path)["Location"] == f"/admin/o/{org.org_id}/"
    assert OrgAdmin.objects.filter(org=org).count() == 2


def test_signed_out_invitee_signs_up_then_accepts(
    admin_client, org, django_capture_on_commit_callbacks, mailoutbox
):
    path = invite(admin_client, org, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    browser = Client()
    page = browser.get(path).content.decode()
    signup_href = re.search(r'href="(/signup\?[^"]+)"', page).group(1).replace("&amp;", "&")
    form = browser.get(signup_href)
    assert form.status_code == 200 and b'value="new@example.com"' in form.content
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            signup_href,
            {"email": "new@example.com", "display_name": "New Admin", "password": STRONG, "next": path},
        )
    assert response.status_code == 302 and response["Location"] == path
    account = Account.objects.get(email="new@example.com")
    assert not account.email_verified
    accepted = browser.post(path)
    assert accepted["Location"] == f"/admin/o/{org.org_id}/"
    account.refresh_from_db()
    assert account.email_verified and selectors.is_org_admin(org=org, account=account)
    assert browser.get(accepted["Location"]).status_code == 200


def test_a_signed_out_post_to_an_invitation_accepts_nothing(
    admin_client, org, django_capture_on_commit_callbacks, mailoutbox
):
    path = invite(admin_client, org, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    assert Client().post(path).status_code == 200
    assert AdminInvitation.objects.get().is_pending


def pending_accept_url(invitation) -> str:
    return f"/admin/invitations/pending/{invitation.invitation_id}/accept"


def test_an_invitee_who_signs_in_without_the_link_finds_the_invitation_and_accepts_it(
    admin_client, org, org_admin, django_capture_on_commit_callbacks, mailoutbox
):
    invitee = AccountFactory(email="new@example.com", email_verified=True)
    invite(admin_client, org, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    invitation = AdminInvitation.objects.get(org=org, email="new@example.com")
    client = client_for(invitee)
    home = client.get("/admin/")  # where a sign-in lands
    assert home.status_code == 200
    listed = lxml.html.fromstring(home.content).get_element_by_id("invitations").text_content()
    assert org.name in listed and org_admin.account.display_name in listed
    events = AuditEvent.objects.filter(action="org:admin:invitation_accepted").count()

    response = client.post(pending_accept_url(invitation))
    assert response.status_code == 302 and response["Location"] == f"/admin/o/{org.org_id}/"
    assert selectors.is_org_admin(org=org, account=invitee)
    assert AuditEvent.objects.filter(action="org:admin:invitation_accepted").count() == events + 1
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    # accepted: no longer listed, and sent again it is refused and changes nothing
    assert b'id="invitations"' not in client.get("/admin/?choose=1").content
    again = client.post(pending_accept_url(invitation), follow=True)
    assert b"invalid, expired or already used" in again.content
    assert AuditEvent.objects.filter(action="org:admin:invitation_accepted").count() == events + 1


def test_only_the_invitees_verified_email_sees_or_accepts_an_invitation(
    admin_client, org, django_capture_on_commit_callbacks, mailoutbox
):
    invite(admin_client, org, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    invitation = AdminInvitation.objects.get(org=org, email="new@example.com")
    unverified = client_for(AccountFactory(email="new@example.com", email_verified=False))
    someone_else = client_for(AccountFactory(email="other@example.com", email_verified=True))
    for client in (unverified, someone_else):
        assert b'id="invitations"' not in client.get("/admin/").content
        refused = client.post(pending_accept_url(invitation), follow=True)
        assert b"invalid, expired or already used" in refused.content
    assert client.get(pending_accept_url(invitation)).status_code == 405
    assert OrgAdmin.objects.filter(org=org).count() == 1
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_a_revoked_invitation_is_not_listed_or_accepted(
    admin_client, org, django_capture_on_commit_callbacks, mailoutbox
):
    invitee = client_for(AccountFactory(email="new@example.com", email_verified=True))
    invite(admin_client, org, "new@example.com", django_capture_on_commit_callbacks, mailoutbox)
    invitation = AdminInvitation.objects.get(org=org, email="new@example.com")
    admin_client.post(f"/admin/o/{org.org_id}/invitations/{invitation.invitation_id}/revoke")
    assert b'id="invitations"' not in invitee.get("/admin/").content
    invitee.post(pending_accept_url(invitation))
    assert OrgAdmin.objects.filter(org=org).count() == 1
