"""How real IdPs send SCIM: one JSON fixture file per client habit, replayed against the endpoint.

Each fixture is a list of steps (method, path, query, body) with the status expected, values
expected in the answer (``a.b``; ``x.count`` for a list's length; a URN attribute as ``urn….attr``),
ids saved for later steps (``{user}``), and optionally the linked account's status or the synced
org group's member count afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orgwarden.accounts.models import Account
from orgwarden.orgs.models import GroupMember
from orgwarden.scim.models import ScimGroup
from orgwarden.scim.tests.conftest import fill

FIXTURES = Path(__file__).parent / "fixtures"
FILES = sorted(p.name for p in FIXTURES.glob("*.json"))


def _lookup(data: dict, key: str) -> Any:
    if key.startswith("urn:"):
        head, _, sub = key.rpartition(".")
        parts = [head, sub]
    else:
        parts = key.split(".")
    value: Any = data
    for part in parts:
        if part == "count" and isinstance(value, list):
            return len(value)
        value = value.get(part) if isinstance(value, dict) else None
        if value is None and part in ("members", "emails", "Resources"):
            value = []
    return value


@pytest.mark.parametrize("name", FILES)
def test_real_client_fixture(scim, name):
    fixture = json.loads((FIXTURES / name).read_text())
    saved: dict[str, str] = {}
    for step in fixture["steps"]:
        response = scim.call(
            step["method"],
            fill(step["path"], saved),
            fill(step.get("body"), saved),
            query=fill(step.get("query", ""), saved),
        )
        assert response.status_code == step["status"], (step["name"], response.content)
        data = response.json() if response.content else {}
        if response.content:
            assert response["Content-Type"].startswith("application/scim+json")
        for key, expected in step.get("expect", {}).items():
            assert _lookup(data, key) == expected, (step["name"], key, data)
        for key, field in step.get("save", {}).items():
            saved[key] = data[field]
        if "account_status" in step:
            account = Account.objects.get(scim_users__scim_id=saved["user"])
            assert account.status == step["account_status"], step["name"]
        if "org_group_members" in step:
            group = ScimGroup.objects.get(scim_id=saved["group"])
            assert GroupMember.objects.filter(group_id=group.group_id).count() == step["org_group_members"]
