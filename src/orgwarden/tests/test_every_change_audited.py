"""Every change of state records its audit event (DESIGN.md, rule 1), proved form by form.

The service tests check the events of the services they call; nothing checked that every way a
person can change something reaches a service that records one. This walk opens every page as the
hostile-input walk does (``test_hostile_input``: every route, by whoever uses it, the forms found in
the pages themselves) and submits every ``<form>`` as a browser would: its own default values, and
for a field left empty the isolation walk's plausible value (``form_body``), so most submissions are
valid and change something. Each submission runs in a savepoint rolled back after it, watched at
the database driver:

- a POST that writes to any table other than bookkeeping (``BOOKKEEPING``: sessions, caches and
  throttles, one-time values, replay caches, activity and the rollups derived from it, tokens a
  product sign-in issues, the provisioning log) must also insert an audit event;
- a GET writes nothing but bookkeeping: a page view changes nothing.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client

from orgwarden.audit.models import AuditEvent
from orgwarden.tests.test_hostile_input import (
    Form,
    forms_of,
    pages,
)
from orgwarden.tests.test_hostile_input import alpha as alpha
from orgwarden.tests.test_hostile_input import certificate_pem as certificate_pem
from orgwarden.tests.test_hostile_input import no_dns_outside as no_dns_outside
from orgwarden.tests.test_tenant_isolation import (
    api_body,
    api_fill,
    api_operations,
    api_url,
    form_body,
    send,
)
from orgwarden.tokens.models import OrgApiKey

pytestmark = pytest.mark.django_db

# Tables a request may write without an audit event of its own, and why.
BOOKKEEPING = {
    "accounts_session": "a session's data and last activity (sign-in and sign-out are audited)",
    "accounts_signinlink": "a one-time sign-in link, sent by an audited action or asked for by its owner",
    "sso_samlrequest": "a one-time SAML request id",
    "sso_samlassertionseen": "the SAML replay cache",
    "helpcenter_helpcentersamlrequest": "a help center's one-time SAML request id",
    "helpcenter_helpcenterassertionseen": "a help center's SAML replay cache",
    "oidc_exchangedcode": "the authorization-code replay record",
    "oidc_signintime": "when a session signed in, for the ID token's auth_time",
    "oauth2_provider_grant": "an authorization code of a product sign-in (activity)",
    "oauth2_provider_accesstoken": "a product sign-in's tokens (activity)",
    "oauth2_provider_refreshtoken": "a product sign-in's tokens (activity)",
    "oauth2_provider_idtoken": "a product sign-in's tokens (activity)",
    "orgs_activity": "activity: a sign-in to a product site",
    "oidc_signingkey": "the OpenID Connect signing key, made on first use",
    "scim_provisioninglog": "the provisioning log",
    "billing_billablesnapshot": "the billable count's daily snapshot",
}
BOOKKEEPING_PREFIXES = ("insights_",)  # rollups of activity and access, rebuilt from what is audited
_cache = settings.CACHES["default"]
if _cache["BACKEND"].endswith("DatabaseCache"):
    BOOKKEEPING[_cache["LOCATION"]] = "the cache: throttles, rate limits"
WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.I)
AUDIT_TABLE = AuditEvent._meta.db_table
# An org API key's time of last use, written as the REST API answers.
KEY_LAST_USED = re.compile(rf'^\s*UPDATE "{OrgApiKey._meta.db_table}" SET "last_used_at" = %s WHERE ')  # noqa: S608


class Writes:
    """The tables one request wrote to."""

    def __init__(self) -> None:
        self.tables: set[str] = set()

    def __call__(self, execute, sql, params, many, context):
        match = WRITE.match(sql)
        if match and not KEY_LAST_USED.match(sql):
            self.tables.add(match.group(1))
        return execute(sql, params, many, context)

    def changed(self) -> set[str]:
        return {
            table
            for table in self.tables - {AUDIT_TABLE}
            if table not in BOOKKEEPING and not table.startswith(BOOKKEEPING_PREFIXES)
        }


def submitted(form: Form, plausible: dict[str, object]) -> dict[str, list[str]]:
    """The body a browser sends for ``form`` once a person has changed it: an empty field given the
    walk's plausible value, a text already filled in changed (an unchanged form may rightly write
    nothing)."""
    body: dict[str, list[str]] = {}
    kinds = dict(form.kinds)
    for name, value in form.defaults:
        if not value.strip() and name in plausible:
            given = plausible[name]
            body.setdefault(name, []).extend(given if isinstance(given, list) else [str(given)])
        elif value.strip() and kinds.get(name) in ("text", "textarea") and not re.search(r"@|://", value):
            body.setdefault(name, []).append(f"{value.strip()} walked")  # a change, not the same again
        else:
            body.setdefault(name, []).append(value)
    for name, _ in form.kinds:  # a control with no default (an unchecked box, an empty list)
        if name not in body and name in plausible:
            given = plausible[name]
            body[name] = given if isinstance(given, list) else [str(given)]
    return body


def test_every_form_that_changes_something_records_an_audit_event_and_no_page_view_changes_anything(alpha):
    t = alpha
    plausible = form_body(t)
    problems: list[str] = []
    seen: set[tuple] = set()
    audited = 0
    for visit in pages(t):
        client, url = visit.client, visit.url
        writes = Writes()
        with transaction.atomic(), connection.execute_wrapper(writes):
            page = send(client, "GET", url)
            transaction.set_rollback(True)
        if writes.changed():
            problems.append(f"GET {url} ({visit.route}) changed {sorted(writes.changed())}")
        if page.status_code != 200:
            continue
        forms = list(forms_of(page, url))
        while forms:  # the page's forms, then those of a confirmation page a form answers with
            form = forms.pop(0)
            key = (form.method, form.path, form.defaults)
            if form.method != "post" or key in seen:
                continue
            seen.add(key)
            body = submitted(form, plausible)
            action = f"{form.path}?{urlencode(form.query)}" if form.query else form.path
            writes = Writes()
            with transaction.atomic(), connection.execute_wrapper(writes):
                answer = send(client, "POST", action, body)
                transaction.set_rollback(True)
            changed = writes.changed()
            if changed and AUDIT_TABLE not in writes.tables:
                problems.append(
                    f"POST {action} (a form of {url}) -> {answer.status_code} changed "
                    f"{sorted(changed)} without an audit event; body {body}"
                )
            audited += AUDIT_TABLE in writes.tables
            if answer.status_code == 200:
                forms += forms_of(answer, action)
    assert len(seen) > 60, len(seen)
    assert audited > 40, f"only {audited} submissions changed something: the walk's bodies are not valid"
    assert not problems, "\n".join(problems)


def test_every_rest_api_operation_that_changes_something_records_an_audit_event(alpha):
    """The same for the Organizations REST API, operation by operation from its OpenAPI schema, with
    the isolation walk's plausible bodies (A's ids and emails) and A's org API key."""
    t = alpha
    client = Client(raise_request_exception=False)
    key = {"HTTP_AUTHORIZATION": f"Bearer {t.api_key_value}"}
    operations, components = api_operations()
    problems: list[str] = []
    audited = 0
    writing = sum(method != "GET" for _, method, _ in operations)
    for path, method, operation in operations:
        url = api_url(path, {p: api_fill(path, p, t) for p in re.findall(r"{(\w+)}", path)})
        body = api_body(operation, components, t)
        writes = Writes()
        with transaction.atomic(), connection.execute_wrapper(writes):
            answer = send(client, method, url, body, json_body=True, **key)
            transaction.set_rollback(True)
        changed = writes.changed()
        if changed and (method == "GET" or AUDIT_TABLE not in writes.tables):
            problems.append(f"{method} {url} -> {answer.status_code} changed {sorted(changed)} unaudited")
        audited += AUDIT_TABLE in writes.tables
    assert writing > 5 and audited > writing / 2, f"{audited} of {writing} writes changed something"
    assert not problems, "\n".join(problems)
