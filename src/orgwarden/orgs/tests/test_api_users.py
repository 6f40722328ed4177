"""REST API user management: every operation through the real services, audited as the API key."""

from __future__ import annotations

import pytest

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.api.tests.helpers import ApiClient, key_for
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Directory, Domain, OrgUser
from orgwarden.orgs.services.claims import account_claim, org_user_ensure

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(org_admin):
    return key_for(org_admin, name="HR sync")


@pytest.fixture
def api(key) -> ApiClient:
    return ApiClient(key[1])


@pytest.fixture
def domain(org):
    return Domain.objects.create(
        org=org, name="acme.test", token="t", status=Domain.Status.VERIFIED, method=Domain.Method.DNS
    )


@pytest.fixture
def managed(org, domain) -> Account:
    account = AccountFactory(email="mia@acme.test", display_name="Mia")
    account_claim(org=org, account=account, domain=domain, actor=Actor.system())
    return account


@pytest.fixture
def external(org) -> Account:
    account = AccountFactory(email="ext@partner.test", display_name="Ext")
    org_user_ensure(org=org, account=account)
    return account


def manage(account: Account, rest: str = "") -> str:
    return f"/api/users/{account.account_id}/manage{rest}"


def only_event(action: str) -> AuditEvent:
    events = list(AuditEvent.objects.filter(action=action))
    assert len(events) == 1, action
    return events[0]


def assert_api_key_actor(event: AuditEvent, key, org, account: Account) -> None:
    assert event.actor_type == "api_key" and event.actor_id == key[0].key_id and event.actor_name == "HR sync"
    assert event.org_id == org.org_id and event.targets[0]["id"] == account.account_id


def test_permissions(api, managed, external, org_admin, org):
    assert api.get(manage(managed)).json() == {
        "profile.write": True,
        "email.set": True,
        "lifecycle.enablement": True,
        "lifecycle.delete": True,
    }
    assert set(api.get(manage(external)).json().values()) == {False}
    # An admin's account can't be deleted until it stops being an admin.
    account_claim(org=org, account=org_admin.account, domain=None, actor=Actor.system())
    assert api.get(manage(org_admin.account)).json()["lifecycle.delete"] is False
    # A profile from an identity provider is written there.
    idp = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name="Okta")
    OrgUser.objects.filter(account=managed).update(directory=idp)
    assert api.get(manage(managed)).json()["profile.write"] is False


def test_profile_read_and_update(api, key, org, managed):
    profile = api.get(manage(managed, "/profile")).json()
    assert profile["email"] == "mia@acme.test" and profile["name"] == "Mia" and profile["managed"] is True
    response = api.patch(
        manage(managed, "/profile"), {"name": "  Mia  Wong ", "job_title": "CTO", "location": None}
    )
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Mia Wong" and response.json()["job_title"] == "CTO"
    managed.refresh_from_db()
    assert managed.display_name == "Mia Wong" and managed.job_title == "CTO"
    event = only_event("org:account:profile_updated")
    assert_api_key_actor(event, key, org, managed)
    assert event.details["changed"]["display_name"] == {"from": "Mia", "to": "Mia Wong"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 151},
        {"unknown": "x"},
        {"name": 5},
        {"name": ["a"]},
        {"name": "a\x00b"},
    ],
)
def test_profile_update_bad_input_is_400_and_changes_nothing(api, managed, body):
    response = api.patch(manage(managed, "/profile"), body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_request"
    managed.refresh_from_db()
    assert managed.display_name == "Mia"
    assert not AuditEvent.objects.filter(action="org:account:profile_updated").exists()


def test_profile_from_an_identity_provider_is_409(api, org, managed):
    idp = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name="Okta")
    OrgUser.objects.filter(account=managed).update(directory=idp)
    response = api.patch(manage(managed, "/profile"), {"name": "New"})
    assert response.status_code == 409 and response.json()["code"] == "managed_by_identity_provider"


def test_email_change(api, key, org, managed):
    response = api.put(manage(managed, "/email"), {"email": "Mia.Wong@ACME.test"})
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "mia.wong@acme.test"
    assert OrgUser.objects.get(account=managed).email == "mia.wong@acme.test"
    assert_api_key_actor(only_event("org:account:email_changed"), key, org, managed)


@pytest.mark.parametrize("email", ["", "not-an-email", "mia@unverified.test", "x" * 300 + "@acme.test"])
def test_email_change_refused(api, managed, email):
    response = api.put(manage(managed, "/email"), {"email": email})
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    managed.refresh_from_db()
    assert managed.email == "mia@acme.test"
    assert not AuditEvent.objects.filter(action="org:account:email_changed").exists()


def test_disable_and_enable(api, key, org, managed):
    response = api.post(manage(managed, "/lifecycle/disable"), {"message": "Left the company"})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "account_id": managed.account_id,
        "status": "deactivated",
        "deletion_scheduled_for": None,
    }
    assert OrgUser.objects.get(account=managed).deactivation_message == "Left the company"
    assert_api_key_actor(only_event("org:account:deactivated"), key, org, managed)
    response = api.post(manage(managed, "/lifecycle/enable"))
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert_api_key_actor(only_event("org:account:reactivated"), key, org, managed)
    # Without a body at all, too.
    assert api.post(manage(managed, "/lifecycle/disable")).json()["status"] == "deactivated"


@pytest.mark.parametrize("message", ["\x00", "Left\x00"])
def test_disable_with_a_nul_in_the_message_is_400_and_changes_nothing(api, managed, message):
    """PostgreSQL refuses NUL in text (was a 500 there; SQLite stored it)."""
    response = api.post(manage(managed, "/lifecycle/disable"), {"message": message})
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    managed.refresh_from_db()
    assert managed.status == Account.Status.ACTIVE
    assert not AuditEvent.objects.filter(action="org:account:deactivated").exists()


def test_delete_and_cancel(api, key, org, managed):
    response = api.post(manage(managed, "/lifecycle/delete"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "deactivated" and response.json()["deletion_scheduled_for"]
    assert_api_key_actor(only_event("org:account:deletion_scheduled"), key, org, managed)
    # Reactivating while a deletion is scheduled is refused: cancel it instead.
    assert api.post(manage(managed, "/lifecycle/enable")).status_code == 400
    response = api.post(manage(managed, "/lifecycle/cancel-delete"))
    assert response.status_code == 200
    assert response.json() == {
        "account_id": managed.account_id,
        "status": "active",
        "deletion_scheduled_for": None,
    }
    assert_api_key_actor(only_event("org:account:deletion_cancelled"), key, org, managed)


WRITES = [
    ("patch", "/profile", {"name": "X"}),
    ("put", "/email", {"email": "x@acme.test"}),
    ("post", "/lifecycle/disable", {}),
    ("post", "/lifecycle/enable", None),
    ("post", "/lifecycle/delete", None),
    ("post", "/lifecycle/cancel-delete", None),
]


@pytest.mark.parametrize(("method", "rest", "body"), WRITES)
def test_writes_to_an_external_user_are_403_not_managed(api, external, method, rest, body):
    response = getattr(api, method)(manage(external, rest), body)
    assert response.status_code == 403 and response.json()["code"] == "not_managed"
    assert not AuditEvent.objects.filter(action__startswith="org:account:").exists()


@pytest.mark.parametrize(("method", "rest", "body"), [*WRITES, ("get", "", None), ("get", "/profile", None)])
def test_another_orgs_account_is_404(org, other_org_admin, managed, method, rest, body):
    """A key of org B can't touch (or learn about) org A's accounts, nor accounts of no org."""
    _, value = key_for(other_org_admin)
    theirs = ApiClient(value)
    stranger = AccountFactory()
    for account in [managed, stranger]:
        call = getattr(theirs, method)
        response = call(manage(account, rest)) if method == "get" else call(manage(account, rest), body)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    managed.refresh_from_db()
    assert managed.status == "active" and managed.display_name == "Mia"
    for path in ["/api/users/nope/manage", "/api/users/%00/manage/profile"]:
        assert theirs.get(path).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_email_change_racing_a_sign_up_of_the_new_email_is_refused_not_500(api, managed):
    """Someone signs up with the new address after the change checked it was free: the update waits
    for the sign-up (PostgreSQL) and fails on the unique email. As when the sign-up came first, the
    change is refused with 400 and the managed account keeps its address; no 500."""
    from orgwarden.accounts.services import account_create
    from orgwarden.testing.races import behind_an_open_transaction

    response = behind_an_open_transaction(
        lambda: account_create(email="mia.wong@acme.test", display_name="Someone", password=None),
        lambda: api.put(manage(managed, "/email"), {"email": "mia.wong@acme.test"}),
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    assert "already uses" in response.json()["message"]
    managed.refresh_from_db()
    assert managed.email == "mia@acme.test"
    assert OrgUser.objects.get(account=managed).email == "mia@acme.test"
    assert Account.objects.get(email="mia.wong@acme.test").display_name == "Someone"
    assert not AuditEvent.objects.filter(action="org:account:email_changed").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("first", "path", "action"),
    [
        ("user_deactivate", "/lifecycle/disable", "org:account:deactivated"),
        ("user_reactivate", "/lifecycle/enable", "org:account:reactivated"),
    ],
)
def test_a_disable_or_enable_sent_twice_at_once_is_recorded_once(
    api, org, org_admin, managed, first, path, action
):
    """A script (or two admins) disables Mia twice at once: the second waited for the first's lock
    on her user row, but on PostgreSQL that lock came back with her account joined as it was before
    the first committed (still active), so it deactivated her again and recorded a second event (an
    enable sent twice, likewise). Her account is now locked and read with the row."""
    from orgwarden.orgs.services import users
    from orgwarden.testing.races import behind_an_open_transaction

    if first == "user_reactivate":
        users.user_deactivate(org=org, actor=org_admin.account, account_id=managed.account_id)
    service = getattr(users, first)
    response = behind_an_open_transaction(
        lambda: service(org=org, actor=org_admin.account, account_id=managed.account_id),
        lambda: api.post(manage(managed, path), {}),
    )
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action=action).count() == 1
