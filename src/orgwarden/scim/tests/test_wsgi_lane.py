"""``orgwarden.wsgi``: SCIM through the short middleware chain answers as Django's full stack does.

Each read is made twice through real WSGI calls — to ``OrgwardenWSGIHandler`` (what ``orgwarden
serve`` runs) and to Django's plain ``WSGIHandler`` with every middleware — and the two answers must
be equal: status, headers and body. A write cannot be made twice alike (the second create of a name
is a conflict), so both stacks create a user each and their answers must match in all but the
user's own values; and the lane's audit event must carry the caller's address and user agent. That
the lane was taken is seen on the request: the session middleware never ran on it.
"""

from __future__ import annotations

import json

import pytest
from django.core.handlers.wsgi import WSGIHandler

from orgwarden.audit.models import AuditEvent
from orgwarden.scim.tests.conftest import user_body
from orgwarden.testing.wsgi import wsgi_call
from orgwarden.wsgi import OrgwardenWSGIHandler

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keep_the_test_connection")]

MEDIA = "application/scim+json"


class Lane(OrgwardenWSGIHandler):
    """The handler ``orgwarden serve`` runs, noting for each request whether a session was set up."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[bool] = []
        chain = self.routed_chain

        def watched(request):
            response = chain(request)
            self.sessions.append(hasattr(request, "session"))
            return response

        self.routed_chain = watched


def ask(app, path: str, *, key: str | None, method: str = "GET", body: dict | None = None, **kw):
    meta = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key is not None else {}
    data = json.dumps(body).encode() if body is not None else b""
    return wsgi_call(app, path, method=method, body=data, content_type=MEDIA, **meta, **kw)


def test_reads_and_errors_answer_as_the_full_stack(directory, scim_key):
    # (not with the test client: it puts back the signal handlers that close the test's connection)
    base = f"/scim/directory/{directory.directory_id}"
    created = ask(
        WSGIHandler(), f"{base}/Users", key=scim_key, method="POST", body=user_body("ada@example.com")
    )
    ada = json.loads(created[2])["id"]
    cases = [
        dict(path=f"{base}/ServiceProviderConfig", key=scim_key),
        dict(path=f"{base}/Users", key=scim_key, query='filter=userName+eq+"ada@example.com"'),
        dict(path=f"{base}/Users", key=scim_key, query='filter=userName+eq+"nobody@example.com"&'),
        dict(path=f"{base}/Users/{ada}", key=scim_key),
        dict(path=f"{base}/Users/", key=scim_key, query="startIndex=1&count=5"),
        dict(path=f"{base}/Users", key=scim_key, query="filter=userName+zz+1"),  # 400 invalidFilter
        dict(path=f"{base}/Users/nope", key=scim_key),  # 404
        dict(path=f"{base}/Users", key="wrong"),  # 401
        dict(path=f"{base}/Users", key=None),  # 401
        dict(path=f"{base}/Nothing/here", key=scim_key),  # the SCIM 404
        dict(path=f"{base}/Users/\x00", key=scim_key),  # NUL in the path: the SCIM 404
        dict(path=f"{base}/Users/{ada}", key=scim_key, method="POST", body={}),  # 405
        dict(path=f"{base}/Users", key=scim_key, HTTP_HOST="evil.test"),  # the Host check: 400
    ]
    lane = Lane()
    statuses = []
    for case in cases:
        ours, full = ask(lane, **case), ask(WSGIHandler(), **case)
        assert ours == full, case
        statuses.append(ours[0][:3])
    assert statuses == [
        "200",
        "200",
        "200",
        "200",
        "200",
        "400",
        "404",
        "401",
        "401",
        "404",
        "404",
        "405",
        "400",
    ]
    assert lane.sessions == [False] * len(cases)  # every case took the short chain, none a session


def test_a_create_answers_as_the_full_stack_and_its_event_has_the_callers_address(directory, scim_key):
    base = f"/scim/directory/{directory.directory_id}"
    lane = Lane()
    ours = ask(
        lane,
        f"{base}/Users",
        key=scim_key,
        method="POST",
        body=user_body("lin@example.com"),
        REMOTE_ADDR="203.0.113.7",
        HTTP_USER_AGENT="Okta SCIM Client",
    )
    full = ask(WSGIHandler(), f"{base}/Users", key=scim_key, method="POST", body=user_body("max@example.com"))
    assert ours[0] == full[0] == "201 Created" and lane.sessions == [False]
    assert {name for name, _ in ours[1]} == {name for name, _ in full[1]}
    mine, theirs = json.loads(ours[2]), json.loads(full[2])
    assert mine.keys() == theirs.keys() and mine["userName"] == "lin@example.com"
    event = AuditEvent.objects.filter(action__startswith="scim:user").order_by("occurred_at").first()
    assert event is not None
    assert (event.ip, event.user_agent) == ("203.0.113.7", "Okta SCIM Client")


def test_other_paths_take_the_full_stack():
    lane = Lane()
    assert wsgi_call(lane, "/healthz")[0] == "200 OK" and lane.sessions == []
