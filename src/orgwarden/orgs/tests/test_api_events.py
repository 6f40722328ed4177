"""REST API: the org's audit log — search, one event, the catalogue, and the polling stream."""

from __future__ import annotations

import pytest
from django.db import transaction

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.api.tests.helpers import ApiClient, api_client_for
from orgwarden.audit import catalogue
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs.api.pagination import cursor_encode
from orgwarden.orgs.services.claims import account_claim, org_user_ensure

pytestmark = pytest.mark.django_db

BASE = "/api/admin/v1/orgs"


@pytest.fixture
def api(org_admin) -> ApiClient:
    return api_client_for(org_admin)


def record(org_id: str, action: str = "org:renamed", name: str = "Target", actor: Actor | None = None):
    with transaction.atomic():
        return event_record(
            action=action,
            actor=actor or Actor.system(),
            org_id=org_id,
            targets=[Target("org", org_id, name)],
        )


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [e["id"] for e in response.json()["data"]]


def test_events_newest_first_and_paged_without_overlap(api, org):
    made = [record(org.org_id, name=f"n{i}").id for i in range(7)]
    everything = [e.id for e in AuditEvent.objects.filter(org_id=org.org_id).order_by("-id")]
    assert set(made) <= set(everything)
    seen: list[str] = []
    response = api.get(f"{BASE}/{org.org_id}/events", {"limit": 3})
    while True:
        seen += ids(response)
        next_link = response.json()["links"]["next"]
        if next_link is None:
            break
        response = api.get(next_link)
    assert seen == everything


def test_event_shape_and_detail(api, org):
    event = record(org.org_id, name="Renamed org")
    listed = api.get(f"{BASE}/{org.org_id}/events", {"action": "org:renamed"}).json()["data"]
    assert [e["id"] for e in listed] == [event.id]
    detail = api.get(f"{BASE}/{org.org_id}/events/{event.id}").json()
    assert detail == listed[0]
    assert detail["action"] == {"key": "org:renamed", "name": "Organization renamed"}
    assert detail["actor"]["type"] == "system"
    assert detail["targets"] == [{"type": "org", "id": org.org_id, "name": "Renamed org"}]
    assert detail["time"].endswith("Z")


def test_events_filters(api, org, org_admin):
    record(org.org_id, name="Apple")
    record(org.org_id, name="Banana", action="org:admin:invited")
    url = f"{BASE}/{org.org_id}/events"
    assert len(api.get(url, {"q": "banana"}).json()["data"]) == 1
    assert len(api.get(url, {"action": "org:admin:invited"}).json()["data"]) == 1
    assert api.get(url, {"action": "no:such:action"}).json()["data"] == []
    by_admin = api.get(url, {"actor": org_admin.account.email.upper()}).json()["data"]
    assert {e["action"]["key"] for e in by_admin} == {"org:api_key:created"}
    assert api.get(url, {"from": "2999-01-01"}).json()["data"] == []
    assert len(api.get(url, {"to": "2999-01-01"}).json()["data"]) == 3
    bad_values = [{"from": "yesterday"}, {"limit": 101}, {"limit": 0}, {"cursor": "!!"}, {"q": "x" * 201}]
    # Numbers are not days (pydantic alone reads them as seconds since 1970: to=0 was 1970-01-01).
    bad_values += [{"to": "0"}, {"from": "86400"}, {"from": "2026-3-1"}]
    for bad in bad_values:
        response = api.get(url, bad)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("bounds", "everything"),
    [
        ({"to": "9999-12-31"}, True),  # the last day a date can hold: was a 500 (OverflowError)
        ({"from": "0001-01-01"}, True),  # before 1970: was a malformed id bound, and nothing found
        ({"from": "1969-12-31", "to": "9999-12-31"}, True),
        ({"to": "1969-12-31"}, False),  # no event is older than the epoch: was every event
        ({"to": "0001-01-01"}, False),
        ({"from": "9999-12-31"}, False),
    ],
)
def test_events_date_bounds_at_the_ends_of_the_calendar(api, org, bounds, everything):
    record(org.org_id, name="Apple")
    url = f"{BASE}/{org.org_id}/events"
    all_ids = ids(api.get(url))
    assert len(all_ids) == 2
    assert ids(api.get(url, bounds)) == (all_ids if everything else [])


def test_events_search_takes_an_address_or_a_domain_typed_in_unicode(api, org):
    """The console's search and this one are the same selector (``audit.selectors.events_for_org``)."""
    anna = AccountFactory(email="anna@xn--mller-kva.de")
    claimed = record(org.org_id, action="org:account:claimed", name="Anna", actor=Actor.account(anna))
    url = f"{BASE}/{org.org_id}/events"
    assert ids(api.get(url, {"q": "Anna@Müller.de"})) == [claimed.id]
    assert ids(api.get(url, {"q": "müller.de"})) == [claimed.id]
    assert ids(api.get(url, {"actor": "anna@müller.de"})) == [claimed.id]
    assert ids(api.get(url, {"q": "bücher.de"})) == ids(api.get(url, {"q": "müller,de"})) == []
    # The event itself keeps the stored form.
    assert api.get(f"{url}/{claimed.id}").json()["actor"]["email"] == "anna@xn--mller-kva.de"


def test_events_include_admin_sign_ins_but_not_other_orgs(api, org, org_admin, other_org_admin):
    with transaction.atomic():
        mine = event_record(action="account:signin:succeeded", actor=Actor.account(org_admin.account))
        stranger = event_record(
            action="account:signin:succeeded", actor=Actor.account(other_org_admin.account)
        )
    theirs = record(other_org_admin.org.org_id)
    listed = ids(api.get(f"{BASE}/{org.org_id}/events"))
    assert mine.id in listed and stranger.id not in listed and theirs.id not in listed
    assert api.get(f"{BASE}/{org.org_id}/events/{mine.id}").status_code == 200
    for event_id in [theirs.id, stranger.id, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "nope", "%00"]:
        response = api.get(f"{BASE}/{org.org_id}/events/{event_id}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_events_include_managed_accounts_own_events(api, org):
    person = AccountFactory()
    account_claim(org=org, account=person, domain=None, actor=Actor.system())
    external = AccountFactory()
    org_user_ensure(org=org, account=external)
    with transaction.atomic():
        theirs = event_record(action="account:signin:succeeded", actor=Actor.account(person))
        not_ours = event_record(action="account:signin:succeeded", actor=Actor.account(external))
    listed = ids(api.get(f"{BASE}/{org.org_id}/events", {"action": "account:signin:succeeded"}))
    assert listed == [theirs.id] and not_ours.id not in listed


def test_event_actions_is_the_catalogue(api, org):
    body = api.get(f"{BASE}/{org.org_id}/event-actions").json()
    assert [a["key"] for a in body["data"]] == [a.key for a in catalogue.ACTIONS]
    assert body["data"][0] == {
        "key": "account:signin:succeeded",
        "name": "Signed in",
        "category": "Sign-in and sessions",
    }
    assert body["links"]["next"] is None


def test_stream_ascending_can_be_polled(api, org):
    url = f"{BASE}/{org.org_id}/events-stream"
    first = [record(org.org_id, name=f"a{i}").id for i in range(3)]
    everything = [e.id for e in AuditEvent.objects.filter(org_id=org.org_id).order_by("id")]
    seen: list[str] = []
    response = api.get(url, {"sortOrder": "asc", "limit": 2})
    while True:
        page = ids(response)
        seen += page
        next_link = response.json()["links"]["next"]
        assert next_link is not None  # ascending always continues
        if not page:
            break
        response = api.get(next_link)
    assert seen == everything and set(first) <= set(seen)
    # Nothing new yet: an empty page that links to itself, to be polled again later.
    assert response.json()["links"]["next"] == next_link
    later = record(org.org_id, name="later").id
    response = api.get(next_link)
    assert ids(response) == [later]
    assert ids(api.get(response.json()["links"]["next"])) == []


def test_stream_ascending_on_an_empty_log_continues_from_the_start(org, org_admin):
    api = api_client_for(org_admin)  # its creation is the org's first event
    response = api.get(
        f"{BASE}/{org.org_id}/events-stream", {"sortOrder": "asc", "cursor": cursor_encode([""])}
    )
    assert [e["action"]["key"] for e in response.json()["data"]] == ["org:api_key:created"]


def test_stream_descending_ends(api, org):
    for i in range(4):
        record(org.org_id, name=f"d{i}")
    everything = [e.id for e in AuditEvent.objects.filter(org_id=org.org_id).order_by("-id")]
    seen: list[str] = []
    response = api.get(f"{BASE}/{org.org_id}/events-stream", {"sortOrder": "desc", "limit": 2})
    while True:
        seen += ids(response)
        next_link = response.json()["links"]["next"]
        if next_link is None:
            break
        response = api.get(next_link)
    assert seen == everything


@pytest.mark.parametrize(
    "params",
    [
        {"sortOrder": "sideways"},
        {"limit": 501},
        {"limit": -1},
        {"cursor": cursor_encode(["not-a-ulid"])},
        {"cursor": cursor_encode([1])},
    ],
)
def test_stream_bad_input_is_400(api, org, params):
    response = api.get(f"{BASE}/{org.org_id}/events-stream", params)
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
