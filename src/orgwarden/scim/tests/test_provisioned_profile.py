"""A provisioned person's own profile: the name and email the identity provider sends are read-only
on their account pages too, as they are to their admins; the IdP itself still changes them."""

from __future__ import annotations

import pytest
from django.test import Client

from orgwarden.accounts import services as account_services
from orgwarden.accounts.exceptions import ChangeRefused
from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.services.claims import account_claim
from orgwarden.scim.models import ScimUser
from orgwarden.scim.tests.conftest import user_body

pytestmark = pytest.mark.django_db

REFUSAL = "manages your name and email through Okta, its identity provider: ask your admins"


def signed_in(account: Account) -> Client:
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    return client


@pytest.fixture
def ada(scim) -> Account:
    assert scim.post("/Users", user_body("ada@example.com", displayName="Ada Lovelace")).status_code == 201
    return Account.objects.get(email="ada@example.com")


def test_the_profile_page_shows_the_name_read_only_and_says_who_changes_it(ada, org):
    page = signed_in(ada).get("/account/").content.decode()
    assert f"{org.name} {REFUSAL}" in page
    assert "Ada Lovelace" in page and 'name="display_name"' not in page
    assert "/account/email" not in page  # no "Change" link for the email either


def test_a_rename_of_ones_own_is_refused_and_changes_nothing(ada):
    before = AuditEvent.objects.count()
    response = signed_in(ada).post("/account/", {"display_name": "Countess"})
    assert response.status_code == 400 and REFUSAL in response.content.decode()
    assert Account.objects.get(pk=ada.pk).display_name == "Ada Lovelace"
    assert AuditEvent.objects.count() == before
    with pytest.raises(ChangeRefused):
        account_services.profile_update(account=ada, display_name="Countess")


def test_an_email_change_of_ones_own_is_refused(ada, org):
    ada.set_password("a long enough passphrase 1")
    ada.save(update_fields=["password"])
    response = signed_in(ada).post(
        "/account/email", {"new_email": "ada.l@example.com", "current_password": "a long enough passphrase 1"}
    )
    body = response.content.decode()
    assert response.status_code == 400 and f"{org.name} manages your email through Okta" in body
    assert Account.objects.get(pk=ada.pk).email == "ada@example.com"


def test_the_identity_provider_still_renames(ada, scim):
    scim_id = ScimUser.objects.get(account=ada).scim_id
    body = user_body("ada@example.com", displayName="Countess of Lovelace")
    assert scim.put(f"/Users/{scim_id}", body).status_code == 200
    assert Account.objects.get(pk=ada.pk).display_name == "Countess of Lovelace"


def test_a_managed_account_of_the_local_directory_still_renames_itself(org, domain):
    person = AccountFactory(email="bob@example.com", display_name="Bob")
    account_claim(org=org, account=person, domain=domain, actor=Actor.system())
    page = signed_in(person).get("/account/").content.decode()
    assert 'name="display_name"' in page and REFUSAL not in page
    assert signed_in(person).post("/account/", {"display_name": "Robert"}).status_code == 302
    assert Account.objects.get(pk=person.pk).display_name == "Robert"
