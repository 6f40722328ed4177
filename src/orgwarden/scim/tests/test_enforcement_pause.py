"""Provisioning pauses with the security subscription: while the org has none, or it lapsed, every
Users and Groups request is a 403 SCIM error saying why (and logged); nothing changes; discovery
still answers. Paid again, the IdP's next request goes through."""

from __future__ import annotations

import pytest

from orgwarden.accounts.models import Account
from orgwarden.billing import services as billing
from orgwarden.billing.models import Subscription
from orgwarden.orgs.models import Group
from orgwarden.scim.models import ProvisioningLog, ScimUser
from orgwarden.scim.processors.resources import ERROR_SCHEMA
from orgwarden.scim.tests.conftest import user_body

pytestmark = pytest.mark.django_db


def test_a_lapsed_subscription_refuses_provisioning_until_paid(scim, directory, org):
    created = scim.post("/Users", user_body("ada@example.com"))
    assert created.status_code == 201
    billing.subscription_lapse(org=org, operator=None)

    refused = [
        scim.post("/Users", user_body("bob@example.com")),
        scim.get("/Users"),
        scim.patch(f"/Users/{created.json()['id']}", {"schemas": [], "Operations": []}),
        scim.delete(f"/Users/{created.json()['id']}"),
        scim.post(
            "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"}
        ),
    ]
    for response in refused:
        assert response.status_code == 403, response.content
        body = response.json()
        assert body["schemas"] == [ERROR_SCHEMA] and body["status"] == "403"
        assert "Provisioning is paused because the security subscription of" in body["detail"]
        assert "lapsed on" in body["detail"] and "Billing" in body["detail"]
    assert not Account.objects.filter(email="bob@example.com").exists()
    assert ScimUser.objects.get().active and not Group.objects.filter(name="G").exists()
    assert scim.get("/ServiceProviderConfig").status_code == 200
    log = ProvisioningLog.objects.filter(directory=directory, status=403)
    assert log.count() == 5 and "paused" in log.first().error

    billing.subscription_mark_paid(org=org, operator=None)
    assert scim.post("/Users", user_body("bob@example.com")).status_code == 201


def test_an_org_that_never_started_the_subscription_cannot_provision(scim, org):
    Subscription.objects.filter(org=org).delete()
    response = scim.post("/Users", user_body())
    assert response.status_code == 403
    assert f"{org.name} has not started the security subscription" in response.json()["detail"]
    assert not Account.objects.filter(email="ada@example.com").exists()
