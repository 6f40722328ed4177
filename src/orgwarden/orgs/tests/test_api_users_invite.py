"""``POST /api/admin/v1/orgs/{orgId}/users/invite``: inviting people to product sites from a script,
all or nothing, within the invitation limits (``orgs.services.invitation_limits``).

Before: the REST API could not invite anyone, so a script could not onboard a company's people.
"""

from __future__ import annotations

import pytest
import time_machine

from orgwarden.accounts.models import Account
from orgwarden.api.tests.helpers import api_client_for
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import OrgUser

pytestmark = pytest.mark.django_db


def state() -> tuple:
    return Account.objects.count(), OrgUser.objects.count(), AuditEvent.objects.count()


def invite_url(org) -> str:
    return f"/api/admin/v1/orgs/{org.org_id}/users/invite"


def test_rest_invites_people_all_or_nothing(
    org_admin, org, jira, mailoutbox, django_capture_on_commit_callbacks
):
    api = api_client_for(org_admin)
    body = {"emails": ["Dana@Partner.test", "eli@partner.test"], "site_ids": [jira.site_id]}
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(invite_url(org), body)
    assert response.status_code == 200, response.content
    dana, eli = (Account.objects.get(email=e) for e in ("dana@partner.test", "eli@partner.test"))
    assert response.json() == {
        "invited": [
            {"account_id": dana.account_id, "email": "dana@partner.test"},
            {"account_id": eli.account_id, "email": "eli@partner.test"},
        ]
    }
    assert [m.to for m in mailoutbox] == [["dana@partner.test"], ["eli@partner.test"]]
    assert "/login/link/" in mailoutbox[0].body
    events = AuditEvent.objects.filter(action="org:user:invited")
    assert {(e.actor_type, e.actor_name) for e in events} == {("api_key", "Script")}
    # The users list says they are invited.
    listed = api.get(f"/api/admin/v1/orgs/{org.org_id}/users", {"status": "invited"}).json()["data"]
    assert sorted(u["email"] for u in listed) == ["dana@partner.test", "eli@partner.test"]


def test_rest_past_the_hourly_number_is_429_and_invites_nobody(
    org_admin, org, jira, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.FIRST_INVITATIONS_PER_HOUR = 3
    api = api_client_for(org_admin)
    with time_machine.travel("2026-05-04T10:30:30Z", tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            ok = api.post(
                invite_url(org), {"emails": ["a@partner.test", "b@partner.test"], "site_ids": [jira.site_id]}
            )
        assert ok.status_code == 200
        before = state()
        limited = api.post(
            invite_url(org), {"emails": ["c@partner.test", "d@partner.test"], "site_ids": [jira.site_id]}
        )
    assert limited.status_code == 429 and limited["Retry-After"] == "1771"
    assert limited.json() == {
        "code": "rate_limited",
        "message": f"Too many invitations of new people in {org.name}: at most 3 an hour for all its "
        "admins and API keys together: nobody was invited. Wait 30 minutes, then try again.",
    }
    assert state() == before and len(mailoutbox) == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"emails": ["not an address"], "site_ids": ["SITE"]}, 400),
        ({"emails": ["a@partner.test"], "site_ids": ["no-such-site"]}, 400),
        ({"emails": [], "site_ids": ["SITE"]}, 400),
        ({"emails": [f"p{i}@partner.test" for i in range(51)], "site_ids": ["SITE"]}, 400),
        ({"emails": ["a@partner.test"], "site_ids": ["SITE"], "role": "owner"}, 400),
        ({"emails": ["a@partner.test"]}, 400),
    ],
)
def test_rest_bad_input_is_400_and_invites_nobody(org_admin, org, jira, mailoutbox, body, status):
    api = api_client_for(org_admin)
    body = {
        k: [jira.site_id if v == "SITE" else v for v in vs] if k == "site_ids" else vs
        for k, vs in body.items()
    }
    before = state()
    response = api.post(invite_url(org), body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == "invalid_request"
    assert state() == before and mailoutbox == []


def test_rest_unknown_site_and_bad_address_say_what_is_wrong(org_admin, org, jira):
    api = api_client_for(org_admin)
    unknown = api.post(invite_url(org), {"emails": ["a@partner.test"], "site_ids": ["no-such-site"]})
    assert unknown.json()["message"] == "Unknown product site: use the id of one of the org's product sites."
    bad = api.post(invite_url(org), {"emails": ["a@partner.test", "nope"], "site_ids": [jira.site_id]})
    assert bad.json()["message"] == "nope is not a valid email address."
    assert not Account.objects.filter(email="a@partner.test").exists()


def test_rest_another_orgs_id_or_site_is_not_ours(org_admin, org, other_org_admin, their_site):
    api = api_client_for(org_admin)
    theirs = their_site
    other = api.post(
        invite_url(other_org_admin.org), {"emails": ["a@partner.test"], "site_ids": [theirs.site_id]}
    )
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    mine = api.post(invite_url(org), {"emails": ["a@partner.test"], "site_ids": [theirs.site_id]})
    assert mine.status_code == 400
    assert not Account.objects.filter(email="a@partner.test").exists()


def test_rest_documents_the_operation(client):
    operation = client.get("/api/openapi.json").json()["paths"]["/api/admin/v1/orgs/{orgId}/users/invite"][
        "post"
    ]
    assert {"200", "400", "401", "404", "409", "413", "429"} <= set(operation["responses"])
    assert "ORGWARDEN_FIRST_INVITATIONS_PER_HOUR" in operation["description"]
    words = " ".join(operation["description"].split())
    assert "counted for the whole org (all its admins and API keys together)" in words
