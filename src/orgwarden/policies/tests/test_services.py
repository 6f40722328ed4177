"""Policy rules, resolution, and every service's event — and no change without it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache

from orgwarden.accounts.models import Session
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.exceptions import InvalidName, NotFound
from orgwarden.orgs.models import Directory
from orgwarden.orgs.services.claims import local_directory
from orgwarden.orgs.tests.factories import OrgAdminFactory
from orgwarden.policies import selectors, services
from orgwarden.policies.exceptions import (
    BreakGlassRefused,
    DefaultPolicyProtected,
    InvalidSetting,
    MoveRefused,
    NameTaken,
    TooManyBreakGlass,
)
from orgwarden.policies.models import AuthenticationPolicy, BreakGlassAdmin, PolicyMember

pytestmark = pytest.mark.django_db


@dataclass
class ApiKey:
    org_id: int
    key_id: str = "key_1"
    name: str = "CI script"


def _policy(org, admin, name="Strict"):
    return services.policy_create(
        org=org, actor=admin, directory_id=local_directory(org).directory_id, name=name
    )


# --- defaults --------------------------------------------------------------------------------------


def test_every_new_org_gets_one_default_policy_for_its_local_directory(org):
    policies = list(AuthenticationPolicy.objects.filter(org=org))
    assert len(policies) == 1
    assert policies[0].is_default and policies[0].name == "Default policy"
    assert policies[0].directory == local_directory(org)
    assert policies[0].billable and policies[0].two_step == "optional"


def test_an_idp_directory_gets_its_own_default(org, idp_directory):
    default = AuthenticationPolicy.objects.get(directory=idp_directory, is_default=True)
    assert default.name == "Okta default policy"


# --- create / rename -------------------------------------------------------------------------------


def test_policy_create_records_the_event(org, org_admin, one_event):
    policy = _policy(org, org_admin.account)
    assert not policy.is_default and policy.directory == local_directory(org)
    event = one_event("org:policy:created")
    assert event.org_id == org.org_id and event.targets[0]["id"] == policy.policy_id


def test_an_api_key_can_create_a_policy(org, one_event):
    services.policy_create(
        org=org, actor=ApiKey(org.pk), directory_id=local_directory(org).directory_id, name="Scripts"
    )
    assert one_event("org:policy:created").actor_type == "api_key"


def test_policy_create_refuses_a_taken_name_whatever_the_case(org, org_admin):
    _policy(org, org_admin.account, "Strict")
    with pytest.raises(NameTaken):
        _policy(org, org_admin.account, "  strict ")
    with pytest.raises(NameTaken):
        _policy(org, org_admin.account, "default POLICY")
    with pytest.raises(InvalidName):
        _policy(org, org_admin.account, "   ")
    assert AuthenticationPolicy.objects.filter(org=org).count() == 2
    assert AuditEvent.objects.filter(action="org:policy:created").count() == 1


def test_another_orgs_directory_or_admin_is_not_found(org, org_admin, other_org_admin):
    other_dir = local_directory(other_org_admin.org)
    with pytest.raises(NotFound):
        services.policy_create(
            org=org, actor=org_admin.account, directory_id=other_dir.directory_id, name="X"
        )
    with pytest.raises(NotFound):
        _policy(org, other_org_admin.account)
    with pytest.raises(NotFound):
        services.policy_create(
            org=org,
            actor=ApiKey(other_org_admin.org.pk),
            directory_id=local_directory(org).directory_id,
            name="X",
        )
    assert not AuditEvent.objects.filter(action="org:policy:created").exists()


def test_policy_rename(org, org_admin, one_event):
    policy = _policy(org, org_admin.account, "Strict")
    services.policy_rename(org=org, actor=org_admin.account, policy_id=policy.policy_id, name="Engineers")
    policy.refresh_from_db()
    assert policy.name == "Engineers"
    assert one_event("org:policy:renamed").details == {"from": "Strict", "to": "Engineers"}
    with pytest.raises(NameTaken):
        services.policy_rename(
            org=org, actor=org_admin.account, policy_id=policy.policy_id, name="Default policy"
        )
    assert AuditEvent.objects.filter(action="org:policy:renamed").count() == 1


# --- update ----------------------------------------------------------------------------------------


def test_policy_update_records_each_change_from_to(org, org_admin, default_policy, one_event):
    services.policy_update(
        org=org,
        actor=org_admin.account,
        policy_id=default_policy.policy_id,
        settings={"two_step": "mandatory", "idle_session_minutes": 60, "password_min_length": 8},
    )
    default_policy.refresh_from_db()
    assert default_policy.two_step == "mandatory" and default_policy.idle_session_minutes == 60
    event = one_event("org:policy:updated")
    assert event.details == {
        "changed": {
            "two_step": {"from": "optional", "to": "mandatory"},
            "idle_session_minutes": {"from": 43200, "to": 60},
        }
    }


def test_policy_update_without_change_records_nothing(org, org_admin, default_policy):
    services.policy_update(
        org=org,
        actor=org_admin.account,
        policy_id=default_policy.policy_id,
        settings={"two_step": "optional"},
    )
    assert not AuditEvent.objects.filter(action="org:policy:updated").exists()


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"two_step": "sometimes"}, "two_step"),
        ({"password_min_length": 7}, "password_min_length"),
        ({"password_min_length": 101}, "password_min_length"),
        ({"password_min_strength": 5}, "password_min_strength"),
        ({"password_expiry_days": 45}, "password_expiry_days"),
        ({"idle_session_minutes": 14}, "idle_session_minutes"),
        ({"idle_session_minutes": 43201}, "idle_session_minutes"),
        ({"absolute_session_minutes": 90 * 1440 + 1}, "absolute_session_minutes"),
        ({"idle_session_minutes": 120, "absolute_session_minutes": 60}, "absolute_session_minutes"),
        ({"api_token_max_days": 0}, "api_token_max_days"),
        ({"api_token_max_days": 366}, "api_token_max_days"),
        ({"api_tokens_allowed": "maybe"}, "api_tokens_allowed"),
        ({"password_min_length": "ten"}, "password_min_length"),
        ({"colour": "blue"}, "settings"),
    ],
)
def test_policy_update_validates_every_setting_and_changes_nothing(
    org, org_admin, default_policy, settings, field
):
    before = AuthenticationPolicy.objects.values().get(pk=default_policy.pk)
    with pytest.raises(InvalidSetting) as caught:
        services.policy_update(
            org=org, actor=org_admin.account, policy_id=default_policy.policy_id, settings=settings
        )
    assert field in caught.value.errors
    assert AuthenticationPolicy.objects.values().get(pk=default_policy.pk) == before
    assert not AuditEvent.objects.filter(action="org:policy:updated").exists()


def test_only_the_local_default_may_be_non_billable(org, org_admin, default_policy, idp_directory):
    services.policy_update(
        org=org, actor=org_admin.account, policy_id=default_policy.policy_id, settings={"billable": False}
    )
    default_policy.refresh_from_db()
    assert default_policy.billable is False
    other = _policy(org, org_admin.account)
    with pytest.raises(InvalidSetting) as caught:
        services.policy_update(
            org=org, actor=org_admin.account, policy_id=other.policy_id, settings={"billable": False}
        )
    assert "billable" in caught.value.errors
    idp_default = AuthenticationPolicy.objects.get(directory=idp_directory, is_default=True)
    with pytest.raises(InvalidSetting):
        services.policy_update(
            org=org, actor=org_admin.account, policy_id=idp_default.policy_id, settings={"billable": False}
        )


def test_sso_can_be_enforced_only_for_an_identity_provider_directory(
    org, org_admin, default_policy, idp_directory
):
    with pytest.raises(InvalidSetting) as caught:
        services.policy_update(
            org=org,
            actor=org_admin.account,
            policy_id=default_policy.policy_id,
            settings={"enforce_sso": True},
        )
    assert "identity provider first" in caught.value.errors["enforce_sso"]
    idp_default = AuthenticationPolicy.objects.get(directory=idp_directory, is_default=True)
    services.policy_update(
        org=org, actor=org_admin.account, policy_id=idp_default.policy_id, settings={"enforce_sso": True}
    )
    idp_default.refresh_from_db()
    assert idp_default.enforce_sso is True


def test_a_non_billable_policy_never_enforces_sso(org, org_admin, default_policy):
    with pytest.raises(InvalidSetting) as caught:
        services.policy_update(
            org=org,
            actor=org_admin.account,
            policy_id=default_policy.policy_id,
            settings={"billable": False, "enforce_sso": True},
        )
    assert "enforce_sso" in caught.value.errors


def test_a_policy_change_bumps_the_generation_after_commit(
    org, org_admin, default_policy, django_capture_on_commit_callbacks
):
    before = selectors.generation()
    with django_capture_on_commit_callbacks(execute=True):
        services.policy_update(
            org=org,
            actor=org_admin.account,
            policy_id=default_policy.policy_id,
            settings={"idle_session_minutes": 30},
        )
    assert selectors.generation() not in (None, before)
    cache.delete(selectors.GENERATION_KEY)


# --- delete ----------------------------------------------------------------------------------------


def test_the_default_policy_cannot_be_deleted(org, org_admin, default_policy):
    with pytest.raises(DefaultPolicyProtected):
        services.policy_delete(org=org, actor=org_admin.account, policy_id=default_policy.policy_id)
    assert AuthenticationPolicy.objects.filter(pk=default_policy.pk).exists()
    assert not AuditEvent.objects.filter(action="org:policy:deleted").exists()


def test_deleting_a_policy_sends_its_members_back_to_the_default(
    org, org_admin, manage, default_policy, one_event
):
    policy = _policy(org, org_admin.account)
    person = manage()
    services.policy_members_move(
        org=org, actor=org_admin.account, policy_id=policy.policy_id, account_ids=[person.account_id]
    )
    assert selectors.policy_for(person) == policy
    assert services.policy_delete(org=org, actor=org_admin.account, policy_id=policy.policy_id) == 1
    assert selectors.policy_for(person) == default_policy
    assert one_event("org:policy:deleted").details["members_moved_to_default"] == 1


# --- members ----------------------------------------------------------------------------------------


def test_moving_members_and_back_to_the_default(org, org_admin, manage, default_policy, one_event):
    policy = _policy(org, org_admin.account)
    people = [manage(), manage()]
    ids = [p.account_id for p in people]
    assert (
        services.policy_members_move(
            org=org, actor=org_admin.account, policy_id=policy.policy_id, account_ids=ids
        )
        == 2
    )
    assert PolicyMember.objects.filter(policy=policy).count() == 2
    event = one_event("org:policy:members_moved")
    assert event.details["count"] == 2 and set(event.details["account_ids"]) == set(ids)
    services.policy_members_move(
        org=org, actor=org_admin.account, policy_id=default_policy.policy_id, account_ids=ids[:1]
    )
    assert not PolicyMember.objects.filter(account=people[0]).exists()
    assert selectors.policy_for(people[0]) == default_policy
    assert selectors.policy_for(people[1]) == policy


def test_moves_are_all_or_nothing_and_only_within_the_directory(
    org, org_admin, manage, idp_directory, other_org_admin
):
    policy = _policy(org, org_admin.account)
    mine = manage()
    unmanaged = AccountFactory()
    in_idp = manage(directory=idp_directory)
    elsewhere = manage(AccountFactory(), in_org=other_org_admin.org)
    for stranger in (unmanaged, in_idp, elsewhere):
        with pytest.raises(MoveRefused):
            services.policy_members_move(
                org=org,
                actor=org_admin.account,
                policy_id=policy.policy_id,
                account_ids=[mine.account_id, stranger.account_id],
            )
    assert not PolicyMember.objects.exists()
    assert not AuditEvent.objects.filter(action="org:policy:members_moved").exists()
    with pytest.raises(MoveRefused):
        services.policy_members_move(
            org=org, actor=org_admin.account, policy_id=policy.policy_id, account_ids=[]
        )
    with pytest.raises(MoveRefused):
        services.policy_members_move(
            org=org,
            actor=org_admin.account,
            policy_id=policy.policy_id,
            account_ids=[f"id{i}" for i in range(501)],
        )


def test_policy_of_another_org_is_not_found(org, org_admin, other_org_admin):
    local_directory(other_org_admin.org)
    theirs = _policy(other_org_admin.org, other_org_admin.account)
    for call in (
        lambda: services.policy_update(
            org=org, actor=org_admin.account, policy_id=theirs.policy_id, settings={}
        ),
        lambda: services.policy_delete(org=org, actor=org_admin.account, policy_id=theirs.policy_id),
        lambda: services.policy_rename(
            org=org, actor=org_admin.account, policy_id=theirs.policy_id, name="x"
        ),
        lambda: services.policy_members_move(
            org=org, actor=org_admin.account, policy_id=theirs.policy_id, account_ids=["a"]
        ),
    ):
        with pytest.raises(NotFound):
            call()


# --- resolution ---------------------------------------------------------------------------------


def test_policy_for_resolution(org, org_admin, manage, default_policy, idp_directory, other_org_admin):
    assert selectors.policy_for(AccountFactory()) is None
    person = manage()
    assert selectors.policy_for(person) == default_policy
    idp_person = manage(directory=idp_directory)
    assert selectors.policy_for(idp_person) == AuthenticationPolicy.objects.get(
        directory=idp_directory, is_default=True
    )
    # A member row in another org's policy (left from an earlier claim) does not apply here.
    local_directory(other_org_admin.org)
    theirs = _policy(other_org_admin.org, other_org_admin.account)
    PolicyMember.objects.create(policy=theirs, account=person)
    assert selectors.policy_for(person) == default_policy


def test_explain_sign_in(org, org_admin, manage, default_policy):
    person = manage()
    services.policy_update(
        org=org,
        actor=org_admin.account,
        policy_id=default_policy.policy_id,
        settings={"two_step": "mandatory", "password_expiry_days": 90, "idle_session_minutes": 60},
    )
    explanation = selectors.explain_sign_in(person)
    assert (
        explanation.managed
        and explanation.policy == default_policy
        and explanation.policy_source == "default"
    )
    by_topic = {r.topic: r for r in explanation.requirements}
    assert by_topic["Two-step verification"].summary == "Required: enrols at the next sign-in"
    assert "expires on" in by_topic["Password"].summary
    assert "1 hour" in by_topic["Sessions"].summary
    assert by_topic["Single sign-on"].summary.startswith("Not enforced")
    unmanaged = selectors.explain_sign_in(AccountFactory())
    assert not unmanaged.managed and unmanaged.requirements == []


# --- break-glass ---------------------------------------------------------------------------------


def test_break_glass_add_and_remove(org, org_admin, one_event):
    admin = org_admin.account
    services.break_glass_add(org=org, actor=admin, account_id=admin.account_id)
    assert selectors.is_break_glass(admin, org)
    assert one_event("org:break_glass:added").org_id == org.org_id
    services.break_glass_remove(org=org, actor=admin, account_id=admin.account_id)
    assert not selectors.is_break_glass(admin, org)
    assert one_event("org:break_glass:removed").org_id == org.org_id


def test_break_glass_rules(org, org_admin):
    admin = org_admin.account
    with pytest.raises(BreakGlassRefused):
        services.break_glass_add(org=org, actor=admin, account_id=AccountFactory().account_id)
    with pytest.raises(NotFound):  # an API key may not choose them
        services.break_glass_add(org=org, actor=ApiKey(org.pk), account_id=admin.account_id)
    admins = [admin] + [OrgAdminFactory(org=org).account for _ in range(3)]
    for person in admins[:3]:
        services.break_glass_add(org=org, actor=admin, account_id=person.account_id)
    with pytest.raises(BreakGlassRefused):
        services.break_glass_add(org=org, actor=admin, account_id=admins[0].account_id)
    with pytest.raises(TooManyBreakGlass):
        services.break_glass_add(org=org, actor=admin, account_id=admins[3].account_id)
    assert BreakGlassAdmin.objects.filter(org=org).count() == 3
    assert AuditEvent.objects.filter(action="org:break_glass:added").count() == 3
    with pytest.raises(NotFound):
        services.break_glass_remove(org=org, actor=admin, account_id=admins[3].account_id)


def test_break_glass_requires_two_step(org, org_admin):
    admin = org_admin.account
    assert selectors.two_step_requirement(admin) is None
    services.break_glass_add(org=org, actor=admin, account_id=admin.account_id)
    assert "break-glass" in selectors.two_step_requirement(admin)


# --- admin reset of 2SV ---------------------------------------------------------------------------


def test_two_step_reset(org, org_admin, manage, one_event):
    from django.test import Client

    from orgwarden.accounts import crypto, otp

    person = manage()
    person.totp_secret, person.totp_enabled_at = crypto.encrypt(otp.new_secret()), person.created_at
    person.save()
    client = Client()
    client.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    assert Session.objects.filter(account=person).count() == 1
    assert services.two_step_reset(org=org, actor=org_admin.account, account_id=person.account_id) == 1
    person.refresh_from_db()
    assert not person.has_two_step and person.totp_secret == ""
    assert not Session.objects.filter(account=person).exists()
    event = one_event("org:account:2sv_reset")
    assert event.org_id == org.org_id and event.details == {"had_two_step": True, "sessions_ended": 1}


def test_two_step_reset_of_an_unmanaged_account_is_not_found(org, org_admin):
    with pytest.raises(NotFound):
        services.two_step_reset(org=org, actor=org_admin.account, account_id=AccountFactory().account_id)
    assert not AuditEvent.objects.filter(action="org:account:2sv_reset").exists()


def test_local_directory_is_the_fallback_when_the_directory_is_gone(org, manage, default_policy):
    person = manage()
    from orgwarden.orgs.models import OrgUser

    OrgUser.objects.filter(account=person).update(directory=None)
    assert selectors.policy_for(person) == default_policy
    assert Directory.objects.filter(org=org).count() == 1


def test_explain_sign_in_for_a_product_without_two_step_enforcement(org, org_admin, manage, default_policy):
    from orgwarden.orgs.models import ProductSite

    person = manage()
    _set = services.policy_update
    _set(
        org=org,
        actor=org_admin.account,
        policy_id=default_policy.policy_id,
        settings={"two_step": "mandatory"},
    )
    trello = ProductSite.objects.create(org=org, product="trello", name="Team board", url="https://t.example")
    jira = ProductSite.objects.create(org=org, product="jira-software", name="Jira", url="https://j.example")
    on_trello = {r.topic: r for r in selectors.explain_sign_in(person, site=trello).requirements}
    assert on_trello["Two-step verification"].summary == "Not enforced by Trello"
    on_jira = {r.topic: r for r in selectors.explain_sign_in(person, site=jira).requirements}
    assert on_jira["Two-step verification"].summary.startswith("Required")


def test_explain_sign_in_when_the_directory_lacks_its_default(org, manage, default_policy):
    person = manage()
    default_policy.delete()
    explanation = selectors.explain_sign_in(person)
    assert explanation.managed and explanation.policy is None and explanation.requirements == []
    assert selectors.policy_for(person) is None
