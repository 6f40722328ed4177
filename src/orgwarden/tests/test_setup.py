"""The first-admin setup link that ``orgwarden serve`` prints while no organization exists."""

from __future__ import annotations

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse

from orgwarden.accounts.models import Account
from orgwarden.audit.models import AuditEvent
from orgwarden.console.views.setup import setup_token_create, setup_token_valid, setup_url
from orgwarden.orgs.models import OrgAdmin, Organization
from orgwarden.orgs.tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

GOOD = {
    "email": "Founder@Example.com",
    "display_name": "Grace Hopper",
    "password": "a long and unusual passphrase",
    "org_name": "Acme Inc",
}


def setup_path(token: str | None = None) -> str:
    return reverse("console:setup", args=[token or setup_token_create()])


def test_setup_url_is_absolute_and_signed():
    url = setup_url()
    assert url.startswith("http://testserver/setup/")
    assert setup_token_valid(url.rsplit("/", 1)[1])


def test_form_then_setup_signs_the_first_admin_in_once():
    client = Client()
    path = setup_path()
    page = client.get(path)
    assert page.status_code == 200
    assert b"Organization name" in page.content

    response = client.post(path, GOOD)

    org = Organization.objects.get()
    account = Account.objects.get(email="founder@example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("console:org_home", args=[org.org_id])
    assert account.email_verified and account.check_password(GOOD["password"])
    assert OrgAdmin.objects.filter(org=org, account=account).exists()
    assert client.get(response["Location"]).status_code == 200  # signed in, admin of the org
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[:2] == ["account:created", "org:created"]
    assert "account:signin:succeeded" in actions
    assert AuditEvent.objects.get(action="account:created").details == {"via": "setup"}

    # The same (still unexpired) link now refuses, for anyone.
    again = Client().post(path, {**GOOD, "email": "intruder@example.com", "org_name": "Evil"})
    assert again.status_code == 410
    assert b"already set up" in again.content
    assert Organization.objects.count() == 1
    assert not Account.objects.filter(email="intruder@example.com").exists()


def test_refuses_when_an_org_exists():
    OrganizationFactory()
    assert Client().get(setup_path()).status_code == 410


@pytest.mark.parametrize(
    "make_token",
    [lambda: "nonsense", lambda: signing.dumps("first-admin", salt="another-salt")],
    ids=["garbage", "signed-for-something-else"],
)
def test_bad_token_is_400(make_token):
    token = make_token()
    for response in (Client().get(setup_path(token)), Client().post(setup_path(token), GOOD)):
        assert response.status_code == 400
        assert b"can&#x27;t be used" in response.content or b"can't be used" in response.content
    assert not Organization.objects.exists()


def test_expired_token_is_400():
    with time_machine.travel("2026-01-01 00:00:00+00:00", tick=False):
        token = setup_token_create()
    with time_machine.travel("2026-01-02 00:00:01+00:00", tick=False):
        assert Client().get(setup_path(token)).status_code == 400
    with time_machine.travel("2026-01-01 23:59:00+00:00", tick=False):
        assert Client().get(setup_path(token)).status_code == 200


@pytest.mark.parametrize(
    ("change", "field_error"),
    [
        ({"email": "not-an-email"}, "valid email"),
        ({"password": "short"}, "too short"),
        ({"password": "12345678901234"}, "entirely numeric"),
        ({"org_name": "   "}, "required"),
        ({"display_name": ""}, "required"),
    ],
)
def test_bad_input_shows_form_errors_and_changes_nothing(change, field_error):
    response = Client().post(setup_path(), {**GOOD, **change})
    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert not Account.objects.exists()
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_second_setup_sent_while_the_first_is_writing_is_told_already_set_up():
    """Two setup forms sent at the same instant with different emails: the second waits for the
    first's transaction and then finds the installation set up (410), creating nothing. Before, on
    PostgreSQL, both passed the "no organization yet" check and two first organizations were made."""
    from orgwarden.orgs.services import installation_setup
    from orgwarden.testing.races import behind_an_open_transaction

    response = behind_an_open_transaction(
        lambda: installation_setup(
            email="first@example.com", display_name="First", password=GOOD["password"], org_name="First"
        ),
        lambda: Client().post(setup_path(), GOOD),
    )

    assert response.status_code == 410
    assert b"already set up" in response.content
    assert list(Organization.objects.values_list("name", flat=True)) == ["First"]
    assert not Account.objects.filter(email="founder@example.com").exists()
