"""POST /oauth2/introspect: the product site's view of a user API token, and the activity it records."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.test import Client

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import Activity, Directory, GroupMember, OrgUser
from orgwarden.orgs.selectors.access import site_role_of
from orgwarden.orgs.selectors.users import UserFilters, users_of
from orgwarden.orgs.services import access
from orgwarden.orgs.services.claims import local_directory
from orgwarden.orgs.services.users import user_deactivate
from orgwarden.policies.models import PolicyMember
from orgwarden.policies.selectors import policy_for
from orgwarden.policies.services import policy_create, policy_members_move, policy_update
from orgwarden.tokens.introspection import site_credential_create
from orgwarden.tokens.models import SiteCredential
from orgwarden.tokens.user_services import user_token_create, user_token_revoke

pytestmark = pytest.mark.django_db

URL = "/oauth2/introspect"
T0 = "2026-03-02T10:00:00Z"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def ask(site, token: str, **extra):
    headers = {"HTTP_AUTHORIZATION": _basic(site.client_id, site.secret)}
    headers.update(extra)
    return Client().post(URL, {"token": token}, **headers)


@pytest.fixture
def person(manage, grant):
    account = manage(AccountFactory(email="mia@acme.test", display_name="Mia"))
    grant(account)
    return account


def test_a_working_token_is_active_with_the_account_and_site_access(site, person):
    with time_machine.travel(T0, tick=False):
        _, value = user_token_create(account=person, label="cli", expires_in_days=30)
        response = ask(site, value)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["active"] is True and body["account_id"] == person.account_id == body["sub"]
    assert body["email"] == "mia@acme.test" and body["site_access"] is True and body["site_role"] == "user"
    assert body["exp"] == int(datetime(2026, 4, 1, 10, tzinfo=UTC).timestamp())
    assert body["client_id"] == site.site.site_id


def test_no_access_to_the_calling_site_is_said_to_a_user_of_its_org(site, manage, other_org_admin):
    """The product says "ask your admin": a managed account, an external user (here through
    another site), one that another org manages and that is an external user here."""
    managed = manage()
    external = AccountFactory()
    OrgUser.objects.create(org=site.site.org, account=external, email=external.email)
    theirs = manage(in_org=other_org_admin.org)
    OrgUser.objects.create(org=site.site.org, account=theirs, email=theirs.email)
    for account in (managed, external, theirs):
        _, value = user_token_create(account=account, label="cli")
        body = ask(site, value).json()
        assert body["active"] is True and body["site_access"] is False and body["site_role"] is None
        assert body["account_id"] == account.account_id


def test_a_token_of_someone_outside_the_sites_org_is_inactive_there(site, manage, other_org_admin):
    """RFC 7662 §4 lets the answer depend on who asks. Before, any org's site holding a token heard
    the email, name and account id of another org's person (``site_access: false``); now it hears
    what an unknown token gets, and nothing is counted as activity or a use of the token."""
    theirs = manage(AccountFactory(email="zoe@other.test", display_name="Zoe"), in_org=other_org_admin.org)
    nobodys = AccountFactory(email="sam@gmail.test")  # a user of no org at all
    for account in (theirs, nobodys):
        token, value = user_token_create(account=account, label="cli")
        assert ask(site, value).json() == {"active": False}
        assert ask(site, f"{account.email}:{value}").json() == {"active": False}
        token.refresh_from_db()
        assert token.last_used_at is None
    assert not Activity.objects.exists()


@pytest.mark.parametrize("form", ["email_token", "base64", "header"])
def test_the_basic_email_token_form(site, person, form):
    _, value = user_token_create(account=person, label="cli")
    raw = {
        "email_token": f"MIA@acme.test:{value}",
        "base64": base64.b64encode(f"mia@acme.test:{value}".encode()).decode(),
        "header": _basic("mia@acme.test", value),
    }[form]
    assert ask(site, raw).json()["active"] is True


def test_the_basic_form_with_someone_elses_email_is_inactive(site, person):
    _, value = user_token_create(account=person, label="cli")
    assert ask(site, f"bob@acme.test:{value}").json() == {"active": False}


def test_revoked_expired_blocked_and_deactivated_are_inactive(org, org_admin, site, person, default_policy):
    with time_machine.travel(T0, tick=False):
        _, expiring = user_token_create(account=person, label="a", expires_in_days=1)
        revoked, revoked_value = user_token_create(account=person, label="b")
        _, value = user_token_create(account=person, label="c")
        user_token_revoke(account=person, token_id=revoked.token_id)
        assert ask(site, revoked_value).json() == {"active": False}
        assert ask(site, "owt_unknown").json() == {"active": False}
        assert ask(site, "garbage").json() == {"active": False}
    with time_machine.travel("2026-03-03T10:00:01Z", tick=False):
        assert ask(site, expiring).json() == {"active": False}
        policy_update(
            org=org,
            actor=org_admin.account,
            policy_id=default_policy.policy_id,
            settings={"api_tokens_allowed": False},
        )
        assert ask(site, value).json() == {"active": False}
        policy_update(
            org=org,
            actor=org_admin.account,
            policy_id=default_policy.policy_id,
            settings={"api_tokens_allowed": True},
        )
        assert ask(site, value).json()["active"] is True
        user_deactivate(org=org, actor=org_admin.account, account_id=person.account_id)
        assert ask(site, value).json() == {"active": False}


def test_activity_is_one_row_per_account_site_and_day(site, person):
    _, value = user_token_create(account=person, label="cli")
    with time_machine.travel(T0, tick=False):
        ask(site, value)
        ask(site, value)
    with time_machine.travel("2026-03-03T09:00:00Z", tick=False):
        ask(site, value)
    rows = list(Activity.objects.order_by("day").values_list("day", "api_calls", "signins"))
    assert rows == [(date(2026, 3, 2), 2, 0), (date(2026, 3, 3), 1, 0)]
    org_user = OrgUser.objects.get(account=person)
    assert org_user.last_active_at == datetime(2026, 3, 3, 9, tzinfo=UTC)
    ask(site, "owt_unknown")
    assert Activity.objects.count() == 2


def test_client_authentication(site, person):
    _, value = user_token_create(account=person, label="cli")
    client = Client()
    assert client.post(URL, {"token": value}).status_code == 401
    wrong = client.post(URL, {"token": value}, HTTP_AUTHORIZATION=_basic(site.client_id, "owcs_wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert "Basic" in wrong["WWW-Authenticate"]
    assert client.post(URL, {"token": value}, HTTP_AUTHORIZATION="Basic %%%").status_code == 401
    in_body = client.post(URL, {"token": value, "client_id": site.client_id, "client_secret": site.secret})
    assert in_body.json()["active"] is True
    missing = client.post(URL, {}, HTTP_AUTHORIZATION=_basic(site.client_id, site.secret))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert client.get(URL).status_code == 405


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("token=owt_x", "application/x-www-form-urlencoded; charset=latin1"),
        ("token=" + "a" * (1024 * 1024 + 1), "application/x-www-form-urlencoded"),
        ("&".join(f"f{i}=1" for i in range(1001)), "application/x-www-form-urlencoded"),
        ("token=owt_x", "multipart/form-data"),
    ],
    ids=["latin1", "too_big", "too_many_fields", "no_boundary"],
)
def test_a_body_that_is_no_readable_form_is_an_oauth_error_not_an_html_page(site, body, content_type):
    """Reading such a form raises in Django (a non-UTF-8 URL-encoded charset, its size or field
    limit, a multipart body without boundary) and its answer was the console's HTML 400 page."""
    response = Client().post(
        URL, body, content_type=content_type, HTTP_AUTHORIZATION=_basic(site.client_id, site.secret)
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert not Activity.objects.exists()


def test_a_new_secret_replaces_the_old_one(org, org_admin, site, person):
    _, value = user_token_create(account=person, label="cli")
    credential, secret = site_credential_create(org=org, actor=org_admin.account, site_id=site.site.site_id)
    assert ask(site, value).status_code == 401  # the fixture's secret is gone
    response = Client().post(URL, {"token": value}, HTTP_AUTHORIZATION=_basic(credential.client_id, secret))
    assert response.json()["active"] is True
    event = AuditEvent.objects.filter(action="org:site:credential_created").latest("id")
    assert event.details["replaced"] is True and secret not in str(event.details)
    assert SiteCredential.objects.get().secret_hash != secret


def test_another_orgs_admin_cannot_create_a_secret(site, other_org_admin):
    from orgwarden.orgs.exceptions import NotFound

    before = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        site_credential_create(org=site.site.org, actor=other_org_admin.account, site_id=site.site.site_id)
    with pytest.raises(NotFound):
        site_credential_create(
            org=other_org_admin.org, actor=other_org_admin.account, site_id=site.site.site_id
        )
    assert AuditEvent.objects.count() == before


def test_deactivated_via_status_only(site, person):
    _, value = user_token_create(account=person, label="cli")
    Account.objects.filter(pk=person.pk).update(status=Account.Status.CLOSED)
    assert ask(site, value).json() == {"active": False}


# --- the hot path's plain SQL agrees with the ORM's definitions ------------------------------------


def _expected(site, account: Account) -> dict:
    """What the ORM's rules say: the account is active and its policy allows tokens; it is a user
    of the site's org (on its Users page, whatever kind or status) or has access; its site role."""
    account.refresh_from_db()
    policy = policy_for(account)
    works = account.status == Account.Status.ACTIVE and (policy is None or policy.api_tokens_allowed)
    role = site_role_of(site=site.site, account=account) if works else None
    user_of_org = users_of(org=site.site.org, filters=UserFilters()).filter(account=account).exists()
    return {"active": bool(works) and (user_of_org or role is not None), "site_role": role}


def _answered(site, value: str) -> dict:
    body = ask(site, value).json()
    return {"active": body["active"], "site_role": body.get("site_role")}


def test_introspection_agrees_with_policy_for_and_site_role_of_in_every_case(
    org, org_admin, site, manage, grant, default_policy, other_org_admin
):
    actor = org_admin.account
    admins = access.group_create(org=org, actor=actor, name="jira-admins")
    access.access_grant(
        org=org, actor=actor, site_id=site.site.site_id, group_id=admins.group_id, role="admin"
    )
    strict = policy_create(
        org=org, actor=actor, directory_id=local_directory(org).directory_id, name="Strict"
    )
    policy_update(org=org, actor=actor, policy_id=strict.policy_id, settings={"api_tokens_allowed": False})

    unmanaged, unmanaged_user = AccountFactory(), AccountFactory()
    OrgUser.objects.create(org=org, account=unmanaged_user, email=unmanaged_user.email)  # external user
    managed, both_groups, in_strict, no_directory, deactivated = (manage() for _ in range(5))
    theirs, theirs_user = (manage(in_org=other_org_admin.org) for _ in range(2))
    OrgUser.objects.create(org=org, account=theirs_user, email=theirs_user.email)  # external user here
    people = [unmanaged, unmanaged_user, managed, both_groups, in_strict, no_directory, deactivated]
    access_only = AccountFactory()  # in the site's group without a user row (no service does that)
    GroupMember.objects.create(group=site.group, account=access_only)
    people += [theirs, theirs_user, access_only]
    values = [user_token_create(account=p, label="t")[1] for p in people]
    for person in (unmanaged_user, both_groups, in_strict, no_directory, deactivated, theirs_user):
        grant(person)
    access.group_members_add(
        org=org, actor=actor, group_id=admins.group_id, account_ids=[both_groups.account_id]
    )
    policy_members_move(org=org, actor=actor, policy_id=strict.policy_id, account_ids=[in_strict.account_id])
    OrgUser.objects.filter(org=org, account=no_directory).update(directory=None)
    user_deactivate(org=org, actor=actor, account_id=deactivated.account_id)

    def check_all() -> list[tuple]:
        seen = []
        for person, value in zip(people, values, strict=True):
            expected, answered = _expected(site, person), _answered(site, value)
            assert answered == expected, person.email
            seen.append((answered["active"], answered["site_role"]))
        return seen

    def actives() -> str:
        """Which of ``people`` are active, in order: "A" active, "-" inactive."""
        return "".join("A" if active else "-" for active, _ in check_all())

    assert check_all() == [
        (False, None),  # unmanaged, not a user of the org
        (True, "user"),  # external user with access
        (True, None),  # managed, no access
        (True, "admin"),  # in both groups: admin wins
        (False, None),  # member of a policy that blocks tokens
        (True, "user"),  # managed without a directory: the local directory's default policy
        (False, None),  # deactivated
        (False, None),  # another org's managed account, not a user of this org
        (True, "user"),  # another org's managed account, external user here with access
        (True, "user"),  # access without a user row: access decides
    ]
    # the default policy blocks and the strict one allows: the answers follow (another org's
    # managed account keeps its own org's policy)
    policy_update(
        org=org, actor=actor, policy_id=default_policy.policy_id, settings={"api_tokens_allowed": False}
    )
    policy_update(org=org, actor=actor, policy_id=strict.policy_id, settings={"api_tokens_allowed": True})
    assert actives() == "-A--A---AA"
    # a member row of a policy in another directory does not apply: the directory's default does
    idp = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name="Okta")
    other = policy_create(org=org, actor=actor, directory_id=idp.directory_id, name="Okta users")
    PolicyMember.objects.filter(account=in_strict).update(policy=other)
    assert actives() == "-A------AA"
    # an external user here who loses access stays a user of the org: active, without a role …
    access.group_member_remove(
        org=org, actor=actor, group_id=site.group.group_id, account_id=theirs_user.account_id
    )
    assert check_all()[-2] == (True, None)
    # … and, removed from the org, is another org's person again
    access.user_remove(org=org, actor=actor, account_id=theirs_user.account_id)
    assert check_all()[-2] == (False, None)
