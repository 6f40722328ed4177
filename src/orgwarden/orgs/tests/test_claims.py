"""The managed person's side: the notice at sign-in, changing one's email, closing one's account.

Through the real views and the real sign-in flow; the org side registers its rules into
``accounts.hooks`` (see ``OrgsConfig.ready``), which these tests exercise end to end.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from orgwarden.accounts import services as account_services
from orgwarden.accounts.exceptions import ChangeRefused, EmailTaken, InvalidInput, InvalidLink, WrongPassword
from orgwarden.accounts.models import Account, Session
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Domain, OrgUser
from orgwarden.orgs.services import claims

pytestmark = pytest.mark.django_db


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def verified_domain(org, name: str, claim: str = "manual") -> Domain:
    return Domain.objects.create(
        org=org, name=name, token="t" * 32, status="verified", method="dns", claim=claim
    )


@pytest.fixture
def person(org):
    """Ann, on acme.test, which ``org`` verified; claimed by it."""
    domain = verified_domain(org, "acme.test")
    verified_domain(org, "acme-corp.test")
    ann = AccountFactory(email="ann@acme.test", display_name="Ann")
    claims.account_claim(org=org, account=ann, domain=domain, actor=Actor.system())
    return ann


def sign_in(client: Client, email: str):
    first = client.post("/login", {"email": email})
    assert first.status_code == 302 and first["Location"] == "/login/step/password"
    return client.post("/login/step/password", {"password": PASSWORD})


def signed_in(client: Client) -> bool:
    return client.get("/account/").status_code == 200


# --- the notice at sign-in ------------------------------------------------------------------------------


def test_a_managed_account_sees_the_notice_once_at_sign_in(org, person):
    client = Client()
    response = sign_in(client, person.email)
    assert response.status_code == 302 and response["Location"] == "/login/step/managed_notice"
    assert not signed_in(client)
    page = client.get("/login/step/managed_notice")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"Your account is managed by {org.name}" in text
    assert "acme-corp.test, acme.test" in text and "delete your account" in text
    done = client.post("/login/step/managed_notice")
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert signed_in(client)
    row = OrgUser.objects.get(account=person)
    assert row.managed_notice_seen_at is not None
    [event] = events("account:managed_notice:acknowledged")
    assert event.org_id == org.org_id and event.actor_id == person.account_id
    signin = events("account:signin:succeeded")[-1]
    assert signin.details == {"method": "password+managed_notice"}

    # Next time: straight in.
    client.post("/logout")
    again = sign_in(client, person.email)
    assert again.status_code == 302 and again["Location"] == "/admin/"
    assert len(events("account:managed_notice:acknowledged")) == 1


def test_the_notice_step_needs_the_password_first(person):
    client = Client()
    client.post("/login", {"email": person.email})
    response = client.get("/login/step/managed_notice")
    assert response.status_code == 302 and response["Location"] == "/login/step/password"
    client.post("/login/step/managed_notice")
    assert OrgUser.objects.get(account=person).managed_notice_seen_at is None


def test_an_unmanaged_account_never_sees_the_notice(account):
    response = sign_in(Client(), account.email)
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_a_new_claim_shows_the_notice_again(org, person):
    claims.managed_notice_acknowledge(account=person)
    claims.account_release(org=org, account=person, actor=Actor.system(), reason="test")
    claims.account_claim(org=org, account=person, domain=None, actor=Actor.system())
    response = sign_in(Client(), person.email)
    assert response["Location"] == "/login/step/managed_notice"


def test_acknowledging_without_a_managed_account_records_nothing(account):
    claims.managed_notice_acknowledge(account=account)
    assert not events("account:managed_notice:acknowledged")


# --- changing one's email -------------------------------------------------------------------------------


def link_from(mail) -> str:
    match = re.search(r"http://testserver(/account/email/confirm/\S+)", mail.body)
    assert match, mail.body
    return match.group(1)


def test_a_managed_account_cannot_move_its_email_off_the_orgs_verified_domains(org, person):
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    response = client.post("/account/email", {"new_email": "ann@gmail.com", "current_password": PASSWORD})
    assert response.status_code == 400
    text = response.content.decode()
    assert f"{org.name} manages your account" in text and "acme-corp.test, acme.test" in text
    assert not events("account:email:verification_sent")
    with pytest.raises(ChangeRefused):
        account_services.email_change_request(
            account=person, new_email="ann@beta.test", current_password=PASSWORD
        )


def test_a_managed_account_may_move_to_another_verified_domain_of_its_org(
    org, person, mailoutbox, django_capture_on_commit_callbacks
):
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    other = Client()
    other.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/account/email", {"new_email": "Ann@Acme-Corp.test", "current_password": PASSWORD}
        )
    assert response.status_code == 302
    assert mailoutbox[-1].to == ["ann@acme-corp.test"]
    assert Account.objects.get(pk=person.pk).email == "ann@acme.test"  # not until the link is followed
    [sent] = events("account:email:verification_sent")
    assert sent.details == {"purpose": "change", "new_email": "ann@acme-corp.test"}

    url = link_from(mailoutbox[-1])
    assert client.get(url).status_code == 200  # mail scanners: GET changes nothing
    assert Account.objects.get(pk=person.pk).email == "ann@acme.test"
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url)
    assert done.status_code == 302
    person.refresh_from_db()
    assert person.email == "ann@acme-corp.test" and person.email_verified
    row = OrgUser.objects.get(account=person)
    assert row.email == "ann@acme-corp.test" and row.domain.name == "acme-corp.test" and row.is_managed
    [changed] = events("account:email:changed")
    assert changed.details == {"from": "ann@acme.test", "to": "ann@acme-corp.test", "other_sessions_ended": 1}
    assert signed_in(client) and not signed_in(other)
    assert Session.objects.filter(account=person).count() == 1
    assert mailoutbox[-1].to == ["ann@acme.test"] and "was changed" in mailoutbox[-1].subject
    # The link works once.
    assert client.post(url).status_code == 400


def test_an_unmanaged_account_changes_its_email_freely_and_checks_are_repeated_at_confirm(
    account, mailoutbox, django_capture_on_commit_callbacks
):
    with pytest.raises(WrongPassword):
        account_services.email_change_request(
            account=account, new_email="new@beta.test", current_password="nope"
        )
    with pytest.raises(InvalidInput):
        account_services.email_change_request(
            account=account, new_email=account.email, current_password=PASSWORD
        )
    taken = AccountFactory(email="taken@beta.test")
    with pytest.raises(EmailTaken):
        account_services.email_change_request(
            account=account, new_email=taken.email, current_password=PASSWORD
        )
    assert not events("account:email:verification_sent")
    with django_capture_on_commit_callbacks(execute=True):
        account_services.email_change_request(
            account=account, new_email="new@beta.test", current_password=PASSWORD
        )
    token = link_from(mailoutbox[-1]).rsplit("/", 1)[-1]
    # Someone takes the address before the link is followed: refused, nothing changes.
    AccountFactory(email="new@beta.test")
    with pytest.raises(EmailTaken):
        account_services.email_change_confirm(token=token)
    with pytest.raises(InvalidLink):
        account_services.email_change_confirm(token=token + "x")
    assert Account.objects.get(pk=account.pk).email == account.email
    assert not events("account:email:changed")


def test_moving_onto_a_domain_claimed_automatically_makes_the_account_managed(
    org, account, mailoutbox, django_capture_on_commit_callbacks
):
    verified_domain(org, "acme.test", claim="automatic")
    with django_capture_on_commit_callbacks(execute=True):
        account_services.email_change_request(
            account=account, new_email="me@acme.test", current_password=PASSWORD
        )
    account_services.email_change_confirm(token=link_from(mailoutbox[-1]).rsplit("/", 1)[-1])
    row = OrgUser.objects.get(account=account, is_managed=True)
    assert row.org == org and row.email == "me@acme.test"


def test_email_change_page_renders(account):
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    page = client.get("/account/email")
    assert page.status_code == 200 and b"New email address" in page.content
    assert client.post("/account/email", {"new_email": "not an email"}).status_code == 400


# --- closing one's account ------------------------------------------------------------------------------


def test_a_managed_account_cannot_close_itself(org, person):
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    page = client.get("/account/close")
    assert (
        page.status_code == 200
        and f"{org.name} manages your account; ask its admins".encode() in page.content
    )
    response = client.post("/account/close", {"current_password": PASSWORD, "confirm": "on"})
    assert response.status_code == 400
    assert Account.objects.get(pk=person.pk).status == "active"
    with pytest.raises(ChangeRefused):
        account_services.account_close(account=person, current_password=PASSWORD)
    assert not events("account:closed")


def test_a_managed_account_is_not_offered_to_close_itself(org, person):
    """Its profile offered "Close account…", whose page then said to ask the admins: it now says so
    in the card's place, in the close page's words. The close URL still refuses."""
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    body = client.get("/account/").content.decode()
    assert 'href="/account/close"' not in body and "Close account…" not in body
    assert f"{org.name} manages your account; ask its admins to delete it." in body
    refused = client.post("/account/close", {"current_password": PASSWORD, "confirm": "on"})
    assert refused.status_code == 400 and Account.objects.get(pk=person.pk).status == "active"
    assert not events("account:closed")


def test_an_unmanaged_account_is_offered_to_close_itself(account):
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    body = client.get("/account/").content.decode()
    assert 'href="/account/close"' in body and "Close account…" in body


def test_a_refused_close_with_an_empty_form_is_a_form_error(org, person):
    """An empty POST (``curl -X POST``) from an account that may not close used to be a 500: the
    form was left unbound, and adding the refusal to it raised."""
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    response = client.post("/account/close", {})
    assert response.status_code == 400
    assert f"{org.name} manages your account; ask its admins".encode() in response.content
    assert Account.objects.get(pk=person.pk).status == "active" and not events("account:closed")


def test_an_empty_close_form_asks_for_the_password(account):
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    response = client.post("/account/close", {})
    assert response.status_code == 400 and b"This field is required" in response.content
    assert Account.objects.get(pk=account.pk).status == "active" and not events("account:closed")


def test_an_unmanaged_account_closes_itself(account):
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    wrong = client.post("/account/close", {"current_password": "nope", "confirm": "on"})
    assert wrong.status_code == 400 and Account.objects.get(pk=account.pk).status == "active"
    unconfirmed = client.post("/account/close", {"current_password": PASSWORD})
    assert unconfirmed.status_code == 400
    response = client.post("/account/close", {"current_password": PASSWORD, "confirm": "on"})
    assert response.status_code == 302 and response["Location"] == "/login"
    assert Account.objects.get(pk=account.pk).status == "closed"
    assert not Session.objects.filter(account=account).exists()
    [event] = events("account:closed")
    assert event.actor_id == account.account_id and event.details == {"sessions_ended": 1}
    assert sign_in(Client(), account.email).status_code == 400


def test_the_only_admin_of_an_org_cannot_close_their_account(org_admin):
    admin = org_admin.account
    with pytest.raises(ChangeRefused, match="only admin of"):
        account_services.account_close(account=admin, current_password=PASSWORD)
    assert Account.objects.get(pk=admin.pk).status == "active"
    assert not events("account:closed")


# --- OrgUser.email follows the account ------------------------------------------------------------------


def test_org_user_email_follows_for_external_users_too(
    org, account, mailoutbox, django_capture_on_commit_callbacks
):
    claims.org_user_ensure(org=org, account=account)
    with django_capture_on_commit_callbacks(execute=True):
        account_services.email_change_request(
            account=account, new_email="moved@beta.test", current_password=PASSWORD
        )
    account_services.email_change_confirm(token=link_from(mailoutbox[-1]).rsplit("/", 1)[-1])
    row = OrgUser.objects.get(org=org, account=account)
    assert row.email == "moved@beta.test" and not row.is_managed
