"""Fuzz every operation of the OpenAPI document with schemathesis: no input may cause a 5xx, and
the document tells the truth about what the API accepts and answers.

Schemathesis reads the app's own OpenAPI document (what ``/api/openapi.json`` serves) and calls
the WSGI app in-process (no server, no network), authenticated with a real org API key made by
the real service, inside the test's database transaction — so it runs on SQLite and PostgreSQL
alike, in the normal suite.

Path parameters are pointed at real rows (the key's org, a managed account on a verified domain,
a real domain and event) so that the fuzzed queries and bodies reach the services and the
database, not just the 404 of an unknown id; the unknown-id paths are covered by the other tests.
Each operation gets a bounded number of examples, which keeps the whole run to about a minute.

Besides "no 5xx", every answer is checked against the document: its status is one the operation
documents, its body matches that status's schema, its content type is the documented one, and
input the schema forbids is refused (a 4xx), never silently read as something else (``to=0`` was
1970-01-01). Input the schema allows may still be refused for what a schema cannot say (an email
on an unverified domain, a cursor that is not one of ours), so that direction is not checked.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.api.api import api
from orgwarden.api.tests.helpers import key_for
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import Domain
from orgwarden.orgs.services.claims import account_claim
from orgwarden.tokens.user_services import user_token_create

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


@pytest.fixture
def wsgi_app(db):
    """The production WSGI app, kept from closing the test's connection after each request.

    Django's WSGI handler closes "old" connections when a request starts and ends, which would
    close the connection that holds the test's transaction; Django's own test client turns that
    off the same way.
    """
    from orgwarden.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(org_admin, settings):
    """A key, and real ids for every path parameter."""
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000
    org = org_admin.org
    _, value = key_for(org_admin, name="Fuzzer")
    domain = Domain.objects.create(
        org=org, name="acme.test", token="t", status=Domain.Status.VERIFIED, method=Domain.Method.DNS
    )
    account = AccountFactory(email="fuzz@acme.test")
    account_claim(org=org, account=account, domain=domain, actor=Actor.system())
    token, _ = user_token_create(account=account, label="Fuzzed")
    return {
        "authorization": f"Bearer {value}",
        "orgId": org.org_id,
        "domainId": domain.domain_id,
        "eventId": AuditEvent.objects.filter(org_id=org.org_id).latest("id").id,
        "accountId": account.account_id,
        "tokenId": token.token_id,
    }


# Built from the app's own OpenAPI document at collection time (no request, no database needed).
# (``schemathesis.pytest.from_fixture`` would load it lazily, but breaks on pytest 9: it sets
# ``Function._nodeid``, which pytest 9 no longer has.)
schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/"))
# The key is sent by the test itself (a real one), so the generated data leaves the Authorization
# header alone: a "negative" case without it would be sent with it and wrongly be expected to fail.
# Query parameters the document does not name are ignored, as most APIs do: not a case to refuse.
schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_input_causes_a_server_error(case, world, wsgi_app):
    for name in list(case.path_parameters or {}):
        if name in world:
            case.path_parameters[name] = world[name]
    response = case.call(app=wsgi_app, headers={"Authorization": world["authorization"]})
    case.validate_response(response, checks=CHECKS)
    if response.status_code != 204:  # a revoke's answer has no body
        assert response.headers["content-type"][0].startswith("application/json")
