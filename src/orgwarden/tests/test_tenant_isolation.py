"""Tenant isolation, proved route by route (DESIGN.md, rule 2): another org's object is a 404.

The routes are not listed here. The admin console's come from Django's URL resolver, walked through
every include; the Organizations REST API's from its OpenAPI schema. A route added later is walked
too, and a path parameter the walk cannot fill fails the test, naming the route: nobody adds a route
outside it without saying here which object its parameter names (``OBJECTS``, ``OBJECT_OF_ROUTE``).

Two orgs, Alpha (A) and Bravo (B), each with one of every kind of object a route can name, made with
the services the app itself uses (``tenant_build``). Signed in as A's admin (console) or with A's org
API key (REST API):

1. every route with B's org id answers 404 (in the API's JSON format for the API);
2. every route with A's org id and B's object in another parameter — each parameter in turn, then
   all of them — answers 404: never 200, a redirect, 403 or 500;
3. nothing of B changed: every row of B, in every table (``rows_of``), is the same after each
   request that wrote anything (``Guard``) and after the walk.

Each route is sent GET, and each write method it accepts: a method is accepted when A's own ids do
not answer 405. That baseline — A's ids, each write inside a savepoint rolled back after it — must
not be a 404 either: a fill that named nothing would make 1 and 2 pass for the wrong reason. Writes
carry a plausible body whose ids are B's (form fields for the console, the operation's JSON schema
for the API), and no answer to A ever shows a name of B's.

A plain member of A gets a 404 from every page of A's console, as from an unknown org; an anonymous
client is sent to sign in. Console routes outside ``/admin/o/<org_id>/`` that name an object (a
product site to launch, an invitation to accept) answer another org's object exactly as an id that
never existed. Routes whose parameter is a one-time link's secret (``CAPABILITIES``) are public by
design: holding the secret is the permission.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import connection, models, transaction
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

from orgwarden.accounts.ids import new_public_id
from orgwarden.accounts.models import Account, Session
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.api.api import api
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.billing.tests.factories import SubscriptionFactory
from orgwarden.console.navigation import PAGES
from orgwarden.helpcenter import selectors as helpcenter_selectors
from orgwarden.helpcenter import services as helpcenter_services
from orgwarden.helpcenter.models import Customer, HelpCenterCertificate
from orgwarden.insights.selectors import CHARTS
from orgwarden.oidc.models import SiteClient
from orgwarden.orgs.models import AdminInvitation, Domain, Group, OrgAdmin, Organization, OrgUser, ProductSite
from orgwarden.orgs.services import access
from orgwarden.orgs.services import orgs as org_services
from orgwarden.orgs.services.claims import account_claim, local_directory
from orgwarden.orgs.tests.factories import OrgAdminFactory
from orgwarden.policies import services as policy_services
from orgwarden.policies.models import AuthenticationPolicy
from orgwarden.scim import services as scim_services
from orgwarden.scim.models import ScimGroup, ScimUser
from orgwarden.sso import services as sso_services
from orgwarden.sso.models import SamlCertificate, SamlConnection
from orgwarden.sso.tests.idp import make_key_pair
from orgwarden.support import services as support_services
from orgwarden.support.models import SupportRequest
from orgwarden.testing.dns_server import LoopbackDNS
from orgwarden.tokens import services as token_services
from orgwarden.tokens import user_services
from orgwarden.tokens.introspection import site_credential_create
from orgwarden.tokens.models import OrgApiKey, UserApiToken

pytestmark = pytest.mark.django_db

# --- two orgs, one of every object a route can name ------------------------------------------------


@dataclass
class Tenant:
    """One org and one object of each kind its routes name."""

    tag: str
    org: Organization
    admin: Account  # created the org
    admin2: Account  # a second admin, and the org's break-glass admin
    managed: Account  # managed through the verified domain: two-step on, a group member, an API token
    external: Account  # invited to the Jira site from outside the org's domains
    domain: Domain  # verified, linked to the IdP
    group: Group  # local, has access to the Jira site
    site: ProductSite  # Jira Software, with a client secret
    desk: ProductSite  # Jira Service Management: its help center, a certificate, a customer
    desk_certificate: HelpCenterCertificate
    customer: Customer
    connection: SamlConnection  # an IdP with a certificate, SCIM key, a provisioned user and group
    certificate: SamlCertificate
    scim_user: ScimUser
    scim_group: ScimGroup
    policy: AuthenticationPolicy  # a second policy of the local directory
    api_key: OrgApiKey
    api_key_value: str
    token: UserApiToken
    support_request: SupportRequest
    invitation: AdminInvitation  # a pending admin invitation
    event: AuditEvent
    local_directory_id: str = ""
    names: tuple[str, ...] = ()  # what only this org's pages may show
    account_pks: frozenset[int] = field(default_factory=frozenset)


def tenant_build(tag: str, pem: str) -> Tenant:
    word = tag.lower()
    mail = f"{word}-corp.test"
    admin = AccountFactory(email=f"admin@{mail}", display_name=f"{tag} Admin")
    org = org_services.org_create(creator=admin, name=f"{tag} Industries")
    SubscriptionFactory(org=org)  # SCIM provisioning and enforcement need one
    admin2 = OrgAdminFactory(
        org=org, account=AccountFactory(email=f"second@{mail}", display_name=f"{tag} Second Admin")
    ).account
    policy_services.break_glass_add(org=org, actor=admin, account_id=admin2.account_id)
    domain = Domain.objects.create(
        org=org,
        name=mail,
        token="t" * 32,
        status=Domain.Status.VERIFIED,
        method=Domain.Method.DNS,
        verified_at=org.created_at,
    )
    managed = AccountFactory(email=f"person@{mail}", display_name=f"{tag} Person")
    account_claim(org=org, account=managed, domain=domain, actor=Actor.system())
    managed.totp_secret, managed.totp_last_step, managed.totp_enabled_at = "x", 1, managed.created_at
    managed.save()
    site = access.site_add(
        org=org, actor=admin, product="jira-software", name=f"{tag} Jira", url=f"https://jira.{mail}"
    )
    site_credential_create(org=org, actor=admin, site_id=site.site_id)
    group = access.group_create(org=org, actor=admin, name=f"{tag} Engineers")
    access.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role="user")
    access.group_members_add(org=org, actor=admin, group_id=group.group_id, account_ids=[managed.account_id])
    (external,) = access.users_invite(
        org=org, actor=admin, emails=[f"guest-{word}@elsewhere.test"], site_ids=[site.site_id]
    )
    external.display_name = f"{tag} Guest"
    external.save(update_fields=["display_name"])
    token, _ = user_services.user_token_create(account=managed, label=f"{tag} token label")

    desk = access.site_add(
        org=org,
        actor=admin,
        product="jira-service-management",
        name=f"{tag} Service Desk",
        url=f"https://desk.{mail}",
    )
    desk_certificate = helpcenter_services.help_center_certificate_add(
        org=org, actor=admin, site_id=desk.site_id, pem=pem
    )
    customer = helpcenter_services.customer_sign_up(
        help_center=helpcenter_selectors.help_center_get(org=org, site_id=desk.site_id),
        email=f"customer@{word}-customers.test",
        password="a customer's long passphrase",
        display_name=f"{tag} Customer",
    )

    connection = sso_services.idp_add(org=org, actor=admin, vendor="okta", name=f"{tag} Okta")
    certificate = sso_services.idp_certificate_add(
        org=org, actor=admin, connection_id=connection.connection_id, pem=pem
    )
    sso_services.idp_domain_link(
        org=org, actor=admin, connection_id=connection.connection_id, domain_id=domain.domain_id
    )
    directory = connection.directory
    scim_services.scim_key_generate(org=org, actor=admin, directory_id=directory.directory_id)
    scim_user = scim_services.scim_user_create(
        directory=directory,
        data={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"synced@{mail}",
            "name": {"givenName": tag, "familyName": "Synced"},
            "emails": [{"value": f"synced@{mail}", "type": "work", "primary": True}],
            "active": True,
        },
    )
    scim_group = scim_services.scim_group_create(
        directory=directory,
        data={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": f"{tag} Synced Group",
        },
    )
    policy = policy_services.policy_create(
        org=org, actor=admin, directory_id=local_directory(org).directory_id, name=f"{tag} Strict Policy"
    )
    api_key, api_key_value = token_services.api_key_create(org=org, actor=admin, name=f"{tag} Script Key")
    support_request = support_services.support_request_raise(
        org=org,
        actor=admin,
        severity="L3",
        summary=f"{tag} outage summary",
        description="Nothing works since this morning.",
    )
    invitation = org_services.admin_invite(org=org, actor=admin, email=f"invitee@{mail}")
    event = AuditEvent.objects.filter(org_id=org.org_id).order_by("id").first()
    for person in (admin, managed):  # signed in somewhere: "sign out everywhere" has sessions to end
        Client().force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    account_pks = frozenset(OrgUser.objects.filter(org=org).values_list("account_id", flat=True)) | frozenset(
        OrgAdmin.objects.filter(org=org).values_list("account_id", flat=True)
    )
    names = (
        org.name,
        admin.display_name,
        admin2.display_name,
        managed.display_name,
        external.display_name,
        group.name,
        site.name,
        desk.name,
        customer.display_name,
        connection.directory.name,
        scim_group.display_name,
        policy.name,
        api_key.name,
        token.label,
        support_request.summary,
    )
    return Tenant(
        tag=tag,
        org=org,
        admin=admin,
        admin2=admin2,
        managed=managed,
        external=external,
        domain=domain,
        group=group,
        site=site,
        desk=desk,
        desk_certificate=desk_certificate,
        customer=customer,
        connection=connection,
        certificate=certificate,
        scim_user=scim_user,
        scim_group=scim_group,
        policy=policy,
        api_key=api_key,
        api_key_value=api_key_value,
        token=token,
        support_request=support_request,
        invitation=invitation,
        event=event,
        local_directory_id=local_directory(org).directory_id,
        names=names,
        account_pks=account_pks,
    )


@pytest.fixture(scope="module")
def certificate_pem() -> str:
    return make_key_pair("idp.isolation.test").cert_pem


@pytest.fixture
def no_dns_outside(settings) -> Iterator[None]:
    """Verifying a domain asks DNS: a real server on loopback (with nothing published), not the world."""
    server = LoopbackDNS().start()
    settings.DNS_NAMESERVERS = [server.address]
    settings.DNS_TIMEOUT = 2
    yield
    server.stop()


@pytest.fixture
def tenants(certificate_pem, no_dns_outside) -> tuple[Tenant, Tenant]:
    with transaction.atomic():
        return tenant_build("Alpha", certificate_pem), tenant_build("Bravo", certificate_pem)


# --- B's rows, in every table -------------------------------------------------------------------------

# Tables whose rows belong to an org some other way than through a foreign key to it (or to one of
# its accounts): how to find an org's rows in them.
ROWS_OF_ORG: dict[str, Callable[[Tenant], Q]] = {
    "orgs.Organization": lambda t: Q(pk=t.org.pk),
    "accounts.Account": lambda t: Q(pk__in=t.account_pks),
    "audit.AuditEvent": lambda t: Q(org_id=t.org.org_id),
    "insights.AccessChange": lambda t: Q(org_id=t.org.pk),
    "oauth2_provider.Application": lambda t: Q(
        pk__in=SiteClient.objects.filter(site__org=t.org).values("application")
    ),
}
# Tables that hold no org's data.
NOT_ORG_DATA = {
    "auth.Permission": "Django's permissions",
    "auth.Group": "Django's permission groups (unused)",
    "contenttypes.ContentType": "Django's model registry",
    "oidc.SigningKey": "the installation's ID-token signing keys",
}


def _path_to_owner(model: type[models.Model]) -> tuple[str, str] | None:
    """The shortest chain of foreign keys from ``model`` to ``Organization`` (preferred) or
    ``Account``, as ``("org" | "account", lookup)``."""
    found: dict[str, str] = {}
    queue: list[tuple[type[models.Model], str, int]] = [(model, "", 0)]
    while queue:
        current, path, depth = queue.pop(0)
        for f in current._meta.concrete_fields:
            if not f.is_relation or depth >= 4:
                continue
            lookup = f"{path}{f.name}"
            if f.related_model is Organization:
                return "org", lookup
            if f.related_model is Account:
                found.setdefault("account", lookup)
            else:
                queue.append((f.related_model, lookup + "__", depth + 1))
    return ("account", found["account"]) if "account" in found else None


def rows_of(tenant: Tenant) -> dict[str, list[tuple]]:
    """Every row of ``tenant``'s org, table by table, with every column: what the walk must not change."""
    snapshot: dict[str, list[tuple]] = {}
    for model in apps.get_models():
        label = model._meta.label
        if label in NOT_ORG_DATA:
            continue
        if label in ROWS_OF_ORG:
            where = ROWS_OF_ORG[label](tenant)
        else:
            owner = _path_to_owner(model)
            assert owner is not None, (
                f"{label}: no foreign key leads to an org or an account. Say how its rows belong to an "
                "org in ROWS_OF_ORG, or why it holds no org's data in NOT_ORG_DATA."
            )
            kind, lookup = owner
            where = (
                Q(**{lookup: tenant.org.pk}) if kind == "org" else Q(**{f"{lookup}__in": tenant.account_pks})
            )
        columns = [f.attname for f in model._meta.concrete_fields]
        snapshot[label] = list(model._base_manager.filter(where).order_by("pk").values_list(*columns))
    return snapshot


def changes(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> list[str]:
    said = []
    for label, rows in before.items():
        if rows != after[label]:
            gone = [r for r in rows if r not in after[label]]
            new = [r for r in after[label] if r not in rows]
            said.append(
                f"{label}: {len(gone)} row(s) changed or gone {gone[:2]}, {len(new)} new or changed {new[:2]}"
            )
    return said


# --- the routes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UrlRoute:
    namespace: str
    name: str
    route: str
    params: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.namespace}:{self.name} ({self.route})"


def _converters(pattern) -> tuple[str, ...]:
    if isinstance(pattern, RoutePattern):
        return tuple(pattern.converters)
    return tuple(pattern.regex.groupindex)


def url_routes(
    resolver: URLResolver | None = None, prefix: str = "", namespace: str = "", params=()
) -> Iterator[UrlRoute]:
    """Every URL pattern of the project, through every include, with its namespace and parameters."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(n for n in (namespace, entry.namespace) if n)
            yield from url_routes(
                entry, prefix + str(entry.pattern), inner, params + _converters(entry.pattern)
            )
        elif isinstance(entry, URLPattern):
            yield UrlRoute(
                namespace, entry.name or "", prefix + str(entry.pattern), params + _converters(entry.pattern)
            )


# Namespaces the walk leaves to other tests, and why. A namespace in neither list fails the test.
WALKED = {"console": "the admin console", "api": "the REST API, walked through its OpenAPI schema"}
NOT_ORG_ROUTES = {
    "": "the root redirect and the health checks: no org data",
    "accounts": "a person's own sign-in and account pages: no org id or org object in the URL",
    "tokens": "a person's own API tokens and product sites' token introspection (client secret)",
    "oauth2_provider": "OpenID Connect for product sites (client credentials)",
    "scim": "SCIM, authenticated by the directory's own key (scim/tests)",
    "sso": "the SAML service provider, public to identity providers (sso/tests)",
    "helpcenter": "the customer portals, public to their customers (helpcenter/tests)",
    "support": "the operator's support queue, for staff only (support/tests)",
}
# A parameter that is a one-time link's secret: whoever holds it may open the page.
CAPABILITIES = {"token": "the first-admin setup link and an admin invitation's link"}

# Which object of a tenant a console path parameter names ...
OBJECTS: dict[str, Callable[[Tenant], str]] = {
    "org_id": lambda t: t.org.org_id,
    "account_id": lambda t: t.managed.account_id,
    "domain_id": lambda t: t.domain.domain_id,
    "group_id": lambda t: t.group.group_id,
    "site_id": lambda t: t.site.site_id,
    "key_id": lambda t: t.api_key.key_id,
    "token_id": lambda t: t.token.token_id,
    "invitation_id": lambda t: t.invitation.invitation_id,
    "policy_id": lambda t: t.policy.policy_id,
    "request_id": lambda t: t.support_request.request_id,
    "connection_id": lambda t: t.connection.connection_id,
    "certificate_id": lambda t: t.certificate.certificate_id,
    "directory_id": lambda t: t.connection.directory.directory_id,
    "scim_id": lambda t: t.scim_user.scim_id,
    "customer_id": lambda t: t.customer.customer_id,
}
# ... unless the route names another kind of object under the same name.
OBJECT_OF_ROUTE: dict[tuple[str, str], Callable[[Tenant], str]] = {
    ("admin_remove", "account_id"): lambda t: t.admin2.account_id,
    ("break_glass_remove", "account_id"): lambda t: t.admin2.account_id,
    ("external_user_remove", "account_id"): lambda t: t.external.account_id,
    ("provisioning_clash", "scim_id"): lambda t: t.scim_group.scim_id,
    ("help_center_certificate_remove", "certificate_id"): lambda t: t.desk_certificate.certificate_id,
}
HELP_CENTER_ROUTE = re.compile(r"^help_center")  # their site_id is the help center's JSM site
# Parameters that name no org's object: the same value for both orgs.
UNBUILT = [slug for slug, page in PAGES.items() if not page.url_name]
FIXED = {"chart": next(iter(CHARTS)), "slug": UNBUILT[0] if UNBUILT else "every-page-is-built"}
# Routes where even A's own values answer 404, and why.
NOTHING_TO_SHOW = {"not_built": "every page of the navigation is built"} if not UNBUILT else {}


def object_of(route: UrlRoute, param: str, tenant: Tenant) -> str:
    if param in FIXED:
        return FIXED[param]
    if (route.name, param) in OBJECT_OF_ROUTE:
        return OBJECT_OF_ROUTE[route.name, param](tenant)
    if param == "site_id" and HELP_CENTER_ROUTE.match(route.name):
        return tenant.desk.site_id
    if param not in OBJECTS:
        pytest.fail(
            f"{route}: the walk does not know what the path parameter {param!r} names. Add it to OBJECTS "
            f"(or OBJECT_OF_ROUTE, FIXED, CAPABILITIES) in {__name__}, with one such object per tenant."
        )
    return OBJECTS[param](tenant)


def console_routes() -> list[UrlRoute]:
    routes = []
    for route in url_routes():
        top = route.namespace.split(":")[0]
        if top not in WALKED and top not in NOT_ORG_ROUTES:
            pytest.fail(f"{route}: a namespace the isolation walk does not know. Walk it or say why not.")
        if top == "console":
            routes.append(route)
    assert len(routes) > 50, "the console's routes were not found"
    return routes


def url_of(route: UrlRoute, values: dict[str, str]) -> str:
    return reverse(f"{route.namespace}:{route.name}", kwargs=values)


# --- requests -------------------------------------------------------------------------------------------

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def form_body(t: Tenant) -> dict[str, object]:
    """Every field a console form reads, each plausible, every id in it one of ``t``'s."""
    email = t.managed.email
    return {
        "name": "Walk name",
        "description": "Walk description",
        "email": email,
        "emails": email,
        "url": "https://walk.example.test",
        "product": "jira-software",
        "role": "user",
        "group_id": t.group.group_id,
        "group_ids": [t.group.group_id],
        "account_id": [t.managed.account_id],
        "account_ids": [t.managed.account_id],
        "account": [t.managed.account_id],
        "token": [t.token.token_id],
        "policy": t.policy.policy_id,
        "directory": t.local_directory_id,
        "domain_id": t.domain.domain_id,
        "action": "deactivate",
        "method": "dns",
        "claim": "manual",
        "decision": "rename",
        "new_name": "Walk name",
        "replaces": "",
        "redirect_uris": "https://walk.example.test/callback",
        "logout_uris": "",
        "body": "Walk message",
        "severity": "L3",
        "summary": "Walk summary",
        "message": "Walk message",
        "confirm": "1",
        "expires_in_days": "30",
        "password_enabled": "on",
        "idp_entity_id": "https://idp.walk.test",
        "idp_sso_url": "https://idp.walk.test/sso",
        "vendor": "okta",
        **{f"create-{k}": v for k, v in (("name", "Walk group"), ("description", ""))},
        **{f"group-{k}": v for k, v in (("name", "Walk group"), ("description", ""))},
        "member-email": email,
        "site-name": "Walk site",
        "site-url": "https://walk.example.test",
        "grant-group_id": t.group.group_id,
        "grant-role": "user",
        "defaults-group_ids": [t.group.group_id],
        "invite-emails": email,
        "invite-role": "user",
    }


def send(
    client: Client, method: str, url: str, body: dict | None = None, *, json_body: bool = False, **headers
):
    """One request; the client's cookies (session, messages) are as before it, whatever it answered."""
    cookies = copy.deepcopy(client.cookies)
    try:
        if method == "GET":
            return client.get(url, **headers)
        if json_body:
            data = json.dumps(body) if body is not None else ""
            return client.generic(method, url, data, content_type="application/json", **headers)
        if method == "POST":
            return client.post(url, body or {}, **headers)
        data = urlencode(body or {}, doseq=True)
        return client.generic(method, url, data, content_type="application/x-www-form-urlencoded", **headers)
    finally:
        client.cookies = cookies


# What a request may write without touching any org's data: the signed-in client's own session
# (last seen, data), the database cache (throttles, rate limits), an API key's time of last use.
_CACHE = settings.CACHES["default"]
BOOKKEEPING = [
    # Patterns that recognise SQL statements (as Django writes them, with placeholders), not SQL to run.
    re.compile(rf'^\s*UPDATE "{Session._meta.db_table}" SET '),  # noqa: S608
    re.compile(rf'^\s*UPDATE "{OrgApiKey._meta.db_table}" SET "last_used_at" = %s WHERE '),  # noqa: S608
]
if _CACHE["BACKEND"].endswith("DatabaseCache"):
    BOOKKEEPING.append(re.compile(rf'^\s*(INSERT INTO|UPDATE|DELETE FROM) "{_CACHE["LOCATION"]}"'))
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.I)


class Guard:
    """B's rows as the walk found them, and who changed them.

    Reading every table of B costs ~50 ms, so B is read again only after a request that wrote
    something other than bookkeeping (``BOOKKEEPING``): B's rows cannot change without a write.
    ``rows`` follows B as it is (a change is reported once, by the request that made it), and
    ``changes_since_start`` compares with the start — a safety net for the reads skipped.
    """

    def __init__(self, b: Tenant) -> None:
        self.b = b
        self.start = self.rows = rows_of(b)
        self.problems: list[str] = []
        self._wrote = False

    def send(
        self, label: str, call: Callable[[], HttpResponse], *, rolled_back: bool = False
    ) -> HttpResponse:
        """``call()``, checking that it changed nothing of B; ``rolled_back``: in a savepoint undone
        after it."""
        self._wrote = False
        with connection.execute_wrapper(self._watch):
            if not rolled_back:
                response = call()
                self.rows = self._check(label, self.rows)
                return response
            with transaction.atomic():
                response = call()
                self._check(label, self.rows)
                transaction.set_rollback(True)
            return response

    def _watch(self, execute, sql, params, many, context):
        if WRITE.match(sql) and not any(pattern.match(sql) for pattern in BOOKKEEPING):
            self._wrote = True
        return execute(sql, params, many, context)

    def _check(self, label: str, rows: dict) -> dict:
        if not self._wrote:
            return rows
        now = rows_of(self.b)
        self.problems += [f"{label} changed B: {c}" for c in changes(rows, now)]
        return now

    def changes_since_start(self) -> list[str]:
        return [f"B changed during the walk: {c}" for c in changes(self.start, rows_of(self.b))]


def said(response: HttpResponse) -> str:
    where = f" -> {response['Location']}" if response.has_header("Location") else ""
    return f"{response.status_code}{where}"


def leaks(response: HttpResponse, b: Tenant) -> list[str]:
    """B's names in an answer to A."""
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    text = content.decode("utf-8", "replace")
    return [name for name in b.names if name in text]


def signed_in(account: Account) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    return client


def org_variants(route: UrlRoute, a: Tenant, b: Tenant) -> list[tuple[str, dict[str, str]]]:
    """B's org id; then A's org id with B's object in one other parameter at a time, then in all."""
    objects = [p for p in route.params if p != "org_id" and p not in FIXED]
    ours = {p: object_of(route, p, a) for p in route.params}
    theirs = {p: object_of(route, p, b) for p in route.params}
    variants = [("B's org", theirs)]
    variants += [(f"A's org, B's {p}", {**ours, p: theirs[p]}) for p in objects]
    if len(objects) > 1:
        variants.append(("A's org, B's objects", {**theirs, "org_id": a.org.org_id}))
    return variants


# --- the console ----------------------------------------------------------------------------------------


def test_the_console_answers_404_for_every_object_of_another_org(tenants):
    a, b = tenants
    admin = signed_in(a.admin)
    guard = Guard(b)
    problems = guard.problems
    walked = 0
    for route in console_routes():
        if "org_id" not in route.params:
            continue  # test_console_pages_outside_an_org_confirm_nothing
        walked += 1
        url = url_of(route, {p: object_of(route, p, a) for p in route.params})
        accepted = []
        for method in METHODS:  # A's own ids: which methods the route accepts, and that it finds them
            response = guard.send(
                f"{route} {method} {url} with A's ids",
                partial(send, admin, method, url, form_body(a)),
                rolled_back=method != "GET",
            )
            if response.status_code == 405:
                continue
            accepted.append(method)
            if response.status_code == 404 and route.name not in NOTHING_TO_SHOW:
                problems.append(
                    f"{route} {method} {url}: 404 with A's own ids: the walk's fill names nothing"
                )
            if response.status_code >= 500:
                problems.append(f"{route} {method} {url}: {response.status_code} with A's own ids")
            if method != "GET":  # A's objects, B's ids in the body
                label = f"{route} {method} {url} with B's ids in the body"
                response = guard.send(
                    label, partial(send, admin, method, url, form_body(b)), rolled_back=True
                )
                if response.status_code >= 500:
                    problems.append(f"{label}: {response.status_code}")
                problems += [f"{label} shows {n!r}" for n in leaks(response, b)]
        for variant, values in org_variants(route, a, b):
            target = url_of(route, values)
            for method in dict.fromkeys(["GET", *accepted]):
                label = f"{route} {method} {target} ({variant})"
                response = guard.send(label, partial(send, admin, method, target, form_body(b)))
                if not (
                    response.status_code == 404 or (response.status_code == 405 and method not in accepted)
                ):
                    problems.append(f"{label}: {said(response)}, not 404")
                problems += [f"{label} shows {n!r}" for n in leaks(response, b)]
    problems += guard.changes_since_start()
    assert walked > 50
    assert not problems, "\n".join(problems)


def test_a_member_who_is_not_an_admin_gets_no_page_of_the_orgs_console(tenants):
    a, _ = tenants
    member = signed_in(a.managed)
    anonymous = Client(raise_request_exception=False)
    sign_in = resolve_url(settings.LOGIN_URL)
    problems = []
    for route in console_routes():
        if set(route.params) & set(CAPABILITIES):
            continue  # public by design: the link's secret is the permission
        url = url_of(route, {p: object_of(route, p, a) for p in route.params})
        for method in ("GET", "POST"):
            if "org_id" in route.params:
                response = send(member, method, url, form_body(a))
                if response.status_code != 404:
                    problems.append(f"{route} {method} {url} as a member of A: {said(response)}, not 404")
            response = send(anonymous, method, url, form_body(a))
            location = response.get("Location", "")
            if response.status_code != 302 or not location.startswith(f"{sign_in}?next="):
                problems.append(f"{route} {method} {url} anonymous: {said(response)}, not sent to sign in")
    assert not problems, "\n".join(problems)


def test_console_pages_outside_an_org_confirm_nothing(tenants):
    """``/launch/<site_id>``, ``/admin/invitations/pending/<id>/accept`` …: B's object is answered as
    an id that never existed (same status, same redirect, same messages), and nothing of B shows."""
    a, b = tenants
    admin = signed_in(a.admin)
    guard = Guard(b)
    problems = guard.problems
    walked = 0
    for route in console_routes():
        objects = [p for p in route.params if p not in FIXED]
        if "org_id" in route.params or not objects or set(route.params) & set(CAPABILITIES):
            continue
        walked += 1
        theirs = {p: object_of(route, p, b) for p in route.params}
        nothing = {p: (new_public_id() if p in objects else v) for p, v in theirs.items()}
        for method in ("GET", "POST"):
            answers = []
            for values in (theirs, nothing):
                url = url_of(route, values)
                response = guard.send(
                    f"{route} {method} {url}", partial(send, admin, method, url, form_body(b))
                )
                location = response.get("Location", "")
                for p in objects:
                    location = location.replace(values[p], "<id>")
                messages = [str(m) for m in get_messages(response.wsgi_request)]
                answers.append((response.status_code, location, messages))
                problems += [f"{route} {method} shows {n!r}" for n in leaks(response, b)]
            if answers[0] != answers[1]:
                problems.append(
                    f"{route} {method}: B's object answers {answers[0]}, an unknown id {answers[1]}"
                )
    problems += guard.changes_since_start()
    assert walked >= 2
    assert not problems, "\n".join(problems)


# --- the REST API ---------------------------------------------------------------------------------------

API_OBJECTS: dict[str, Callable[[Tenant], str]] = {
    "orgId": lambda t: t.org.org_id,
    "accountId": lambda t: t.managed.account_id,
    "domainId": lambda t: t.domain.domain_id,
    "eventId": lambda t: t.event.id,
    "tokenId": lambda t: t.token.token_id,
}
# Patterns of the API's URLconf that are not operations of the schema.
API_NOT_OPERATIONS = {"openapi-json", "openapi-view", "docs-asset", "api-root", "not-found"}


def api_fill(path: str, param: str, tenant: Tenant) -> str:
    if param not in API_OBJECTS:
        pytest.fail(
            f"API {path}: the walk does not know what the path parameter {param!r} names. Add it to "
            f"API_OBJECTS in {__name__}, with one such object per tenant."
        )
    return API_OBJECTS[param](tenant)


def example(schema: dict, components: dict, t: Tenant, depth: int = 0) -> object:
    """A plausible value of a JSON schema; an email is one of ``t``'s verified domain."""
    if "$ref" in schema:
        return example(components[schema["$ref"].rsplit("/", 1)[1]], components, t, depth)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            choices = [s for s in schema[key] if s.get("type") != "null"]
            return example(choices[0], components, t, depth) if choices else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        return {k: example(v, components, t, depth + 1) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(schema.get("items", {}), components, t, depth + 1)]
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if schema.get("format") == "email" or "email" in schema.get("title", "").lower():
        return f"walk@{t.domain.name}"
    return "Walk value"


def api_operations() -> tuple[list[tuple[str, str, dict]], dict]:
    """Every operation of the OpenAPI schema, and the schema's components; first, that every route
    of the API's URLconf is in the schema (one left out of it would escape the walk)."""
    schema = api.get_openapi_schema()
    documented = set(schema["paths"])
    for route in url_routes():
        if route.namespace == "api" and route.name not in API_NOT_OPERATIONS:
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.route)
            assert path in documented, (
                f"{route}: an API route missing from the OpenAPI schema escapes the walk"
            )
    return [
        (path, method.upper(), operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ], schema.get("components", {}).get("schemas", {})


def api_url(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


def api_body(operation: dict, components: dict, t: Tenant) -> object:
    """A plausible JSON body for ``operation`` (``None`` if it takes none), ids and emails ``t``'s."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    return example(content["schema"], components, t) if content else None


def test_the_rest_api_answers_404_for_every_object_of_another_org(tenants):
    a, b = tenants
    client = Client(raise_request_exception=False)
    key = {"HTTP_AUTHORIZATION": f"Bearer {a.api_key_value}"}
    guard = Guard(b)
    problems = guard.problems
    operations, components = api_operations()
    walked = 0
    for path, method, operation in operations:
        params = re.findall(r"{(\w+)}", path)
        if not params:
            continue  # names nothing
        walked += 1
        ours = {p: api_fill(path, p, a) for p in params}
        theirs = {p: api_fill(path, p, b) for p in params}
        url = api_url(path, ours)
        response = guard.send(
            f"{method} {url} with A's ids",
            partial(send, client, method, url, api_body(operation, components, a), json_body=True, **key),
            rolled_back=method != "GET",
        )
        if response.status_code in (404, 405) or response.status_code >= 500:
            problems.append(
                f"{method} {url} with A's own ids: {response.status_code} {response.content[:200]!r}"
            )
        variants = [(f"B's {p}", {**ours, p: theirs[p]}) for p in params]
        if len(params) > 1:
            variants.append(("B's ids", theirs))
        for variant, values in variants:
            url = api_url(path, values)
            label = f"{method} {url} ({variant})"
            response = guard.send(
                label,
                partial(send, client, method, url, api_body(operation, components, b), json_body=True, **key),
            )
            json_answer = response.get("Content-Type", "").startswith("application/json")
            code = response.json().get("code") if json_answer else None
            if response.status_code != 404 or code != "not_found":
                problems.append(f"{label}: {response.status_code} {response.content[:200]!r}, not a JSON 404")
            problems += [f"{label} shows {n!r}" for n in leaks(response, b)]
    problems += guard.changes_since_start()
    assert walked > 15
    assert not problems, "\n".join(problems)
