"""Fixtures of the SCIM tests: an org with a verified domain, an IdP directory, its SCIM key, and a
client that speaks SCIM to it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from orgwarden.billing.tests.factories import SubscriptionFactory
from orgwarden.orgs.models import Domain
from orgwarden.scim import services
from orgwarden.sso import services as sso_services


def verified_domain(org, name: str) -> Domain:
    return Domain.objects.create(
        org=org,
        name=name,
        token="t" * 32,
        status=Domain.Status.VERIFIED,
        method=Domain.Method.DNS,
        verified_at=timezone.now(),
    )


@pytest.fixture
def domain(org) -> Domain:
    return verified_domain(org, "example.com")


@pytest.fixture
def directory(org, org_admin, domain):
    """An IdP directory of an org with a paid security subscription (provisioning needs one)."""
    SubscriptionFactory(org=org)
    return sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta").directory


@pytest.fixture
def scim_key(org, org_admin, directory) -> str:
    return services.scim_key_generate(org=org, actor=org_admin.account, directory_id=directory.directory_id)


class ScimClient:
    """Django's test client, with the key and the SCIM media type."""

    def __init__(self, directory, key: str) -> None:
        self.client = Client()
        self.base = f"/scim/directory/{directory.directory_id}"
        self.key = key

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, query: str = ""):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        url = self.base + path + (("?" + query) if query else "")
        return self.client.generic(
            method, url, data, content_type="application/scim+json", HTTP_AUTHORIZATION=f"Bearer {self.key}"
        )

    def get(self, path: str, query: str = ""):
        return self.call("GET", path, query=query)

    def post(self, path: str, body: Any):
        return self.call("POST", path, body)

    def put(self, path: str, body: Any):
        return self.call("PUT", path, body)

    def patch(self, path: str, body: Any):
        return self.call("PATCH", path, body)

    def delete(self, path: str):
        return self.call("DELETE", path)


@pytest.fixture
def scim(directory, scim_key) -> ScimClient:
    return ScimClient(directory, scim_key)


def user_body(user_name: str = "ada@example.com", **extra: Any) -> dict:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
    }
    body.update(extra)
    return body


def patch_body(*operations: dict) -> dict:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}


def fill(value: Any, ids: dict[str, str]) -> Any:
    """``value`` (a request body, a path) with each ``{name}`` replaced by ``ids[name]``: the ids a
    test only knows once the resources it names exist."""
    if isinstance(value, str):
        for name, replacement in ids.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {fill(k, ids): fill(v, ids) for k, v in value.items()}
    return value
