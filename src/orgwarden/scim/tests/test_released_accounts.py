"""A directory keeps no power over an account its org has released (a domain removed or unverified).

The scene of the report: org A provisions ada@example.com, loses example.com, org B verifies it and
claims ada (even makes her an admin). A's IdP must not then move ada's email onto another of A's
domains (a password reset would go to A's mailbox), deactivate or delete her.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orgwarden.accounts import emails as account_emails
from orgwarden.accounts import services as account_services
from orgwarden.accounts.models import Account
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Domain, OrgAdmin, OrgUser
from orgwarden.orgs.proofs import ProofResult
from orgwarden.orgs.services import domains as domain_services
from orgwarden.orgs.services.claims import account_claim
from orgwarden.scim import selectors
from orgwarden.scim.models import ScimUser
from orgwarden.scim.tests.conftest import patch_body, user_body, verified_domain

pytestmark = pytest.mark.django_db


def _provision_ada(org, scim) -> tuple[str, Account]:
    verified_domain(org, "a2.com")
    response = scim.post("/Users", user_body("ada@example.com"))
    assert response.status_code == 201, response.content
    return response.json()["id"], Account.objects.get(email="ada@example.com")


def test_removing_the_domain_unlinks_the_accounts_scim_records(org, org_admin, scim, directory, domain):
    scim_id, ada = _provision_ada(org, scim)
    released = domain_services.domain_remove(org=org, actor=org_admin.account, domain_id=domain.domain_id)
    assert released == 1
    record = ScimUser.objects.get(scim_id=scim_id)
    assert record.account_id is None and "released" in record.link_error
    assert [u.scim_id for u in selectors.unlinked_users(directory=directory).items] == [scim_id]
    event = AuditEvent.objects.get(action="org:account:released")
    assert event.details["scim_records_unlinked"] == [scim_id]
    assert event.details["reason"] == "domain_removed"
    assert ada.email == Account.objects.get(pk=ada.pk).email


def test_a_domain_unverified_by_the_recheck_unlinks_them_too(org, scim, directory, domain):
    scim_id, _ = _provision_ada(org, scim)
    now = timezone.now()
    Domain.objects.filter(pk=domain.pk).update(proof_missing_since=now - timedelta(days=365))
    outcome = domain_services._recheck_record(
        domain_pk=domain.pk, result=ProofResult(False, "The TXT record is gone."), now=now
    )
    assert outcome == "unverified"
    assert ScimUser.objects.get(scim_id=scim_id).account_id is None
    event = AuditEvent.objects.get(action="org:account:released")
    assert event.details["reason"] == "domain_unverified"
    assert event.details["scim_records_unlinked"] == [scim_id]


def test_former_orgs_idp_cannot_move_the_email_of_an_account_another_org_now_manages(
    org, org_admin, scim, directory, domain, other_org_admin, django_capture_on_commit_callbacks
):
    scim_id, ada = _provision_ada(org, scim)
    domain_services.domain_remove(org=org, actor=org_admin.account, domain_id=domain.domain_id)
    other = other_org_admin.org
    account_claim(org=other, account=ada, domain=verified_domain(other, "example.com"), actor=Actor.system())
    OrgAdmin.objects.create(org=other, account=ada)

    response = scim.put(f"/Users/{scim_id}", user_body("ada@a2.com", active=False))
    assert response.status_code == 200, response.content  # the record takes it; the account does not
    ada.refresh_from_db()
    assert (ada.email, ada.status) == ("ada@example.com", Account.Status.ACTIVE)
    assert ScimUser.objects.get(scim_id=scim_id).user_name == "ada@a2.com"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        account_services.password_reset_request(email="ada@a2.com")
    account_emails.background_drain()  # what was handed to the background senders has left
    assert mail.outbox == []
    assert scim.delete(f"/Users/{scim_id}").status_code == 204
    assert Account.objects.get(pk=ada.pk).status == Account.Status.ACTIVE


def test_a_record_still_linked_to_an_account_no_longer_managed_is_unlinked_not_obeyed(org, scim, directory):
    """A release from before releases unlinked records left the link: the next write unlinks it
    and changes nothing on the account."""
    scim_id, ada = _provision_ada(org, scim)
    OrgUser.objects.filter(org=org, account=ada).update(is_managed=False, domain=None)

    response = scim.patch(
        f"/Users/{scim_id}",
        patch_body(
            {"op": "replace", "path": "userName", "value": "ada@a2.com"},
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ada@a2.com"},
            {"op": "replace", "path": "active", "value": False},
        ),
    )
    assert response.status_code == 200, response.content
    ada.refresh_from_db()
    assert (ada.email, ada.status) == ("ada@example.com", Account.Status.ACTIVE)
    record = ScimUser.objects.get(scim_id=scim_id)
    assert record.account_id is None and "no longer manages" in record.link_error
    assert not AuditEvent.objects.filter(action="org:account:deactivated").exists()


def test_delete_of_a_record_whose_account_is_no_longer_managed_leaves_the_account_alone(org, scim, directory):
    scim_id, ada = _provision_ada(org, scim)
    OrgUser.objects.filter(org=org, account=ada).update(is_managed=False, domain=None)
    assert scim.delete(f"/Users/{scim_id}").status_code == 204
    assert Account.objects.get(pk=ada.pk).status == Account.Status.ACTIVE
    assert ScimUser.objects.get(scim_id=scim_id).account_id is None


def test_the_migration_unlinks_records_left_linked_by_an_earlier_release(org, scim, directory):
    from importlib import import_module

    from django.apps import apps

    step = import_module("orgwarden.scim.migrations.0002_unlink_released_accounts")
    released_id, ada = _provision_ada(org, scim)
    kept = scim.post("/Users", user_body("bob@example.com"))
    assert kept.status_code == 201
    # as a release before releases unlinked records left them: the account no longer managed
    OrgUser.objects.filter(org=org, account=ada).update(is_managed=False)

    step.unlink_released(apps, None)

    released = ScimUser.objects.get(scim_id=released_id)
    assert released.account_id is None and "released" in released.link_error
    bob = ScimUser.objects.get(scim_id=kept.json()["id"])
    assert bob.account.email == "bob@example.com" and bob.link_error == ""
    assert [u.scim_id for u in selectors.unlinked_users(directory=directory).items] == [released_id]


def test_releasing_ends_what_the_idps_groups_gave_and_keeps_local_groups(
    org, org_admin, scim, directory, domain
):
    """A synced group's members are the IdP's word; once the org releases ada its IdP no longer
    speaks for her, so the product access its groups gave ends with the release — not at a group
    sync that may never come. A local group an admin put her in keeps hers."""
    from orgwarden.orgs.selectors.access import site_role_of
    from orgwarden.orgs.services import access as access_services

    scim_id, ada = _provision_ada(org, scim)
    synced = scim.post("/Groups", {"displayName": "Eng", "members": [{"value": scim_id}]})
    assert synced.status_code == 201, synced.content
    actor = org_admin.account
    site = access_services.site_add(
        org=org, actor=actor, product="confluence", name="Wiki", url="https://w.test"
    )
    admins_site = access_services.site_add(
        org=org, actor=actor, product="jira-software", name="Jira", url="https://j.test"
    )
    eng = org.groups.get(name="Eng")
    access_services.access_grant(
        org=org, actor=actor, site_id=site.site_id, group_id=eng.group_id, role="admin"
    )
    local = access_services.group_create(org=org, actor=actor, name="Contractors")
    access_services.group_members_add(
        org=org, actor=actor, group_id=local.group_id, account_ids=[ada.account_id]
    )
    access_services.access_grant(
        org=org, actor=actor, site_id=admins_site.site_id, group_id=local.group_id, role="user"
    )
    assert (site_role_of(site=site, account=ada), site_role_of(site=admins_site, account=ada)) == (
        "admin",
        "user",
    )

    domain_services.domain_remove(org=org, actor=org_admin.account, domain_id=domain.domain_id)

    assert site_role_of(site=site, account=ada) is None
    assert site_role_of(site=admins_site, account=ada) == "user"
    assert list(eng.memberships.values_list("account__email", flat=True)) == []
    event = AuditEvent.objects.get(action="org:account:released")
    assert event.details["synced_groups_left"] == [eng.group_id]
    # The IdP still lists the record in its group: relinking the record puts ada back at the next sync.
    assert scim.get(f"/Groups/{synced.json()['id']}").json()["members"][0]["value"] == scim_id
