"""Services: the key, the mapping of users and groups to accounts and org groups, events, atomicity."""

from __future__ import annotations

import pytest

from orgwarden.accounts.models import Account, Session, stored_session_key
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Group, GroupMember, OrgUser
from orgwarden.orgs.tests.factories import OrgAdminFactory, OrganizationFactory
from orgwarden.policies.selectors import policy_for
from orgwarden.scim import selectors, services
from orgwarden.scim.exceptions import KeyReplaced, ScimError
from orgwarden.scim.models import ScimGroup, ScimKey, ScimUser
from orgwarden.scim.tests.conftest import patch_body, user_body, verified_domain


def _events(action: str):
    return AuditEvent.objects.filter(action=action)


def test_key_is_shown_once_stored_hashed_and_regenerating_invalidates(org, org_admin, directory):
    first = services.scim_key_generate(org=org, actor=org_admin.account, directory_id=directory.directory_id)
    row = ScimKey.objects.get(directory=directory)
    assert first not in row.key_hash and len(row.key_hash) == 64
    assert selectors.directory_for_key(directory_id=directory.directory_id, key=first) == directory
    second = services.scim_key_generate(org=org, actor=org_admin.account, directory_id=directory.directory_id)
    assert selectors.directory_for_key(directory_id=directory.directory_id, key=first) is None
    assert selectors.directory_for_key(directory_id=directory.directory_id, key=second) == directory
    event = _events("scim:key:generated").last()
    assert event.actor_id == org_admin.account.account_id and event.details == {"replaced": True}


def test_key_replaces_only_the_key_it_names(org, org_admin, directory):
    """A confirmation names the key it replaces: sent twice, or from a page older than the key,
    it is refused and the key just shown keeps working — no change, no event."""
    admin, directory_id = org_admin.account, directory.directory_id
    first = services.scim_key_generate(org=org, actor=admin, directory_id=directory_id, replaces="")
    with pytest.raises(KeyReplaced, match="nothing changed"):  # "Generate" sent twice
        services.scim_key_generate(org=org, actor=admin, directory_id=directory_id, replaces="")
    second = services.scim_key_generate(org=org, actor=admin, directory_id=directory_id, replaces=first[:10])
    with pytest.raises(KeyReplaced, match=f"it now begins {second[:10]}"):  # the confirmation sent twice
        services.scim_key_generate(org=org, actor=admin, directory_id=directory_id, replaces=first[:10])
    assert selectors.directory_for_key(directory_id=directory_id, key=second) == directory
    assert _events("scim:key:generated").count() == 2


def test_key_of_another_org_or_local_directory_is_not_found(org, directory, other_org_admin):
    with pytest.raises(NotFound):
        services.scim_key_generate(
            org=org, actor=other_org_admin.account, directory_id=directory.directory_id
        )
    local = org.directories.get(kind="local")
    admin = org.admins.first().account
    with pytest.raises(NotFound):
        services.scim_key_generate(org=org, actor=admin, directory_id=local.directory_id)
    assert not ScimKey.objects.exists()


def test_key_reaches_its_own_directory_only(org, org_admin, directory, scim_key):
    other = OrganizationFactory()
    other_admin = OrgAdminFactory(org=other).account
    verified_domain(other, "other.com")
    from orgwarden.sso import services as sso_services

    other_dir = sso_services.idp_add(org=other, actor=other_admin, vendor="entra", name="Entra").directory
    assert selectors.directory_for_key(directory_id=other_dir.directory_id, key=scim_key) is None


def test_create_makes_a_managed_account_in_the_idp_directory_with_directory_actor(directory):
    user = services.scim_user_create(directory=directory, data=user_body(title="Analyst"))
    account = user.account
    assert account.email == "ada@example.com" and account.display_name == "Ada Lovelace"
    assert account.job_title == "Analyst" and account.email_verified
    org_user = OrgUser.objects.get(account=account)
    assert org_user.is_managed and org_user.directory == directory
    policy = policy_for(account)
    assert policy.directory == directory and policy.is_default
    event = _events("scim:user:created").get()
    assert (event.actor_type, event.actor_id, event.actor_name) == (
        "directory",
        directory.directory_id,
        "Okta",
    )


def test_create_on_a_domain_claimed_automatically_is_claimed_once_by_the_directory(directory, domain):
    """The account-created hook would claim it for the local directory as the system; the SCIM
    create claims it itself, into the IdP directory, and the hook stands aside."""
    domain.claim = domain.Claim.AUTOMATIC
    domain.save(update_fields=["claim"])
    user = services.scim_user_create(directory=directory, data=user_body())
    org_user = OrgUser.objects.get(account=user.account)
    assert org_user.is_managed and (org_user.directory, org_user.domain) == (directory, domain)
    claimed = _events("org:account:claimed").get()
    assert (claimed.actor_type, claimed.actor_id) == ("directory", directory.directory_id)


def test_existing_account_is_linked_and_becomes_managed(directory):
    existing = AccountFactory(email="ada@example.com")
    user = services.scim_user_create(directory=directory, data=user_body())
    assert user.account == existing
    assert OrgUser.objects.get(account=existing).is_managed


def test_email_off_the_verified_domains_is_refused_with_no_change(directory):
    with pytest.raises(ScimError) as caught:
        services.scim_user_create(directory=directory, data=user_body("ada@elsewhere.org"))
    assert caught.value.status == 400 and "verified domain" in caught.value.detail
    assert not ScimUser.objects.exists() and not Account.objects.filter(email="ada@elsewhere.org").exists()
    assert not _events("scim:user:created").exists()


def test_duplicate_user_name_is_409_uniqueness(directory):
    services.scim_user_create(directory=directory, data=user_body())
    with pytest.raises(ScimError) as caught:
        services.scim_user_create(directory=directory, data=user_body("ADA@example.com"))
    assert (caught.value.status, caught.value.scim_type) == (409, "uniqueness")
    assert _events("scim:user:created").count() == 1


def test_account_managed_by_another_org_is_409(directory):
    other = OrganizationFactory()
    from orgwarden.audit.services import Actor
    from orgwarden.orgs.services.claims import account_claim

    account = AccountFactory(email="ada@example.com")
    account_claim(org=other, account=account, domain=None, actor=Actor.system())
    with pytest.raises(ScimError) as caught:
        services.scim_user_create(directory=directory, data=user_body())
    assert caught.value.status == 409
    assert not ScimUser.objects.exists()


def test_deactivate_ends_sessions_and_reactivate(directory):
    user = services.scim_user_create(directory=directory, data=user_body())
    Session.objects.create(
        session_key=stored_session_key("k" * 32),
        session_data="",
        expire_date="2999-01-01T00:00Z",
        account=user.account,
    )
    services.scim_user_patch(
        directory=directory,
        scim_id=user.scim_id,
        body=patch_body({"op": "replace", "path": "active", "value": False}),
    )
    user.account.refresh_from_db()
    assert user.account.status == Account.Status.DEACTIVATED
    assert not Session.objects.filter(account=user.account).exists()
    deactivated = AuditEvent.objects.get(action="org:account:deactivated")
    assert deactivated.actor_type == "directory"
    services.scim_user_patch(
        directory=directory,
        scim_id=user.scim_id,
        body=patch_body({"op": "replace", "path": "active", "value": True}),
    )
    user.account.refresh_from_db()
    assert user.account.status == Account.Status.ACTIVE


def test_put_without_active_never_deactivates_and_clears_left_out_attributes(directory):
    user = services.scim_user_create(directory=directory, data=user_body(title="Analyst"))
    services.scim_user_patch(
        directory=directory,
        scim_id=user.scim_id,
        body=patch_body({"op": "replace", "path": "active", "value": False}),
    )
    body = user_body()
    body.pop("active")
    replaced = services.scim_user_replace(directory=directory, scim_id=user.scim_id, data=body)
    assert replaced.active is False and replaced.title == ""
    body["active"] = True
    replaced = services.scim_user_replace(directory=directory, scim_id=user.scim_id, data=body)
    assert replaced.active is True


def test_delete_deactivates_and_stays_readable(directory):
    user = services.scim_user_create(directory=directory, data=user_body())
    services.scim_user_delete(directory=directory, scim_id=user.scim_id)
    user.refresh_from_db()
    assert user.active is False and user.account.status == Account.Status.DEACTIVATED
    assert _events("scim:user:deleted").get().actor_type == "directory"


def test_email_change_taken_by_another_account_becomes_unlinked_then_relinks(org, org_admin, directory):
    user = services.scim_user_create(directory=directory, data=user_body())
    AccountFactory(email="countess@example.com")
    body = user_body()
    body["emails"] = [{"value": "countess@example.com", "primary": True}]
    services.scim_user_replace(directory=directory, scim_id=user.scim_id, data=body)
    assert selectors.unlinked_users(directory=directory).items == [ScimUser.objects.get(pk=user.pk)]
    with pytest.raises(NotFound):
        services.scim_user_relink(org=org, actor=org_admin.account, scim_id="nope")
    relinked = services.scim_user_relink(org=org, actor=org_admin.account, scim_id=user.scim_id)
    assert relinked.account.email == "countess@example.com" and relinked.link_error == ""
    assert OrgUser.objects.get(account=relinked.account).directory == directory
    assert selectors.unlinked_users(directory=directory).items == []
    assert _events("scim:user:relinked").get().actor_id == org_admin.account.account_id


def test_group_becomes_a_synced_org_group_with_members_and_delete_removes_it(directory):
    ada = services.scim_user_create(directory=directory, data=user_body())
    group = services.scim_group_create(
        directory=directory, data={"displayName": "Engineering", "members": [{"value": ada.scim_id}]}
    )
    org_group = group.group
    assert org_group.directory == directory and org_group.name == "Engineering"
    assert list(GroupMember.objects.filter(group=org_group).values_list("account_id", flat=True)) == [
        ada.account_id
    ]
    services.scim_group_delete(directory=directory, scim_id=group.scim_id)
    assert not Group.objects.filter(pk=org_group.pk).exists() and not ScimGroup.objects.exists()
    assert _events("scim:group:deleted").get().actor_type == "directory"


def test_group_name_clash_waits_for_merge(org, org_admin, directory):
    local = Group.objects.create(org=org, name="engineering")
    group = services.scim_group_create(directory=directory, data={"displayName": "Engineering"})
    assert group.group is None and group.clash_group == local
    assert selectors.summary(directory=directory).clashes == 1
    merged = services.scim_group_clash_resolve(
        org=org, actor=org_admin.account, scim_id=group.scim_id, decision="merge"
    )
    assert merged == local
    local.refresh_from_db()
    assert local.directory == directory
    assert _events("scim:group:clash_resolved").get().details["decision"] == "merge"


def test_group_name_clash_rename(org, org_admin, directory):
    Group.objects.create(org=org, name="Engineering")
    group = services.scim_group_create(directory=directory, data={"displayName": "Engineering"})
    renamed = services.scim_group_clash_resolve(
        org=org, actor=org_admin.account, scim_id=group.scim_id, decision="rename"
    )
    assert renamed.name == "Engineering (Okta)" and renamed.directory == directory


def test_group_with_unknown_member_changes_nothing(directory):
    with pytest.raises(ScimError) as caught:
        services.scim_group_create(
            directory=directory, data={"displayName": "Eng", "members": [{"value": "x"}]}
        )
    assert caught.value.status == 400
    assert not Group.objects.filter(name="Eng").exists() and not _events("scim:group:created").exists()
