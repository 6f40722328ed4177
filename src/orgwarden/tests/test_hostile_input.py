"""No 500s, ever (DESIGN.md, rule 4): every field of every form and filter, sent hostile values.

Neither the pages nor their forms are listed here. Every route of the project (Django's URL resolver,
walked through every include, as the isolation walk does) is opened by whoever uses it, with the
objects of one org built by the isolation walk's ``tenant_build``: the admin console and a person's
own pages by an org admin, the operator's support queue by a member of staff, the sign-in pages and a
help center's portal by an anonymous visitor. Each ``<form>`` on each answer is then submitted as a
browser would submit it (its own default values, its first submit button), once for every field and
every hostile value that field can take, the other fields keeping their defaults: a hostile value
in one field must not be hidden by another field's error. A page's query parameters get the same:
the fields of its ``method="get"`` forms and the parameters its view's module reads by name
(``request.GET.get("…")``), one at a time. An action only ever POSTed (a route that answers GET with
405) and shown by no page the walk opened is sent the isolation walk's ``form_body`` with every
value hostile at once.

The hostile values are what reaches a real installation: a NUL byte (PostgreSQL refuses one in text
with a ``ValueError`` before the query runs) and text longer than any column (PostgreSQL refuses it,
SQLite stores it) in every field; a number beyond 64 bits and a negative number where a number is
expected, an impossible date where a date is. Every answer must be below 500. Each write runs in a
savepoint rolled back after it, so every form is sent to the org as it was built.

Path parameters get the same values (``test_every_path_parameter_…``). The SCIM endpoint
(``scim/tests/test_fuzz.py``) and the REST API (``api/tests/test_schemathesis.py``) have fuzzers of
their own, and the SAML service provider its attack corpus (``sso/tests``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import lxml.html
import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import NoReverseMatch, Resolver404, path, resolve, reverse

from orgwarden.accounts.models import Session
from orgwarden.accounts.signin import STEPS
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.tests.test_tenant_isolation import (
    CAPABILITIES,
    FIXED,
    HELP_CENTER_ROUTE,
    OBJECT_OF_ROUTE,
    OBJECTS,
    Tenant,
    UrlRoute,
    form_body,
    send,
    signed_in,
    tenant_build,
    url_routes,
)
from orgwarden.tests.test_tenant_isolation import certificate_pem as certificate_pem
from orgwarden.tests.test_tenant_isolation import no_dns_outside as no_dns_outside

pytestmark = pytest.mark.django_db

TEXT = ("Walk\x00value", "W" * 3000)  # every field
NUMBER = ("9" * 30, "-1")  # a field that looks numeric
DATE = ("2026-02-30",)  # a field that looks like a date
HOSTILE = TEXT + NUMBER + DATE
# The parameters of OpenID Connect's authorization request: oauthlib reads them, not our code.
OIDC_KEYS = ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge")
OIDC_KEYS += ("code_challenge_method", "prompt", "max_age", "login_hint", "id_token_hint")
# Namespaces with fuzzers of their own (see the module's docstring): the REST API, SCIM.
FUZZED_ELSEWHERE = {"scim", "api"}
# Path parameters of a person's own pages.
OWN = {
    "step": lambda t: STEPS[0].key,  # the sign-in flow's first step; each step is one page
    "session_id": lambda t: Session.objects.filter(account=t.admin).first().session_key,
}
NUMERIC = re.compile(r"^-?\d+$")
DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Form:
    """A form as a browser submits it: where, how, and its successful controls' default values."""

    method: str  # "get" or "post"
    path: str
    query: tuple[tuple[str, str], ...]
    defaults: tuple[tuple[str, str], ...]  # (name, value), in order; a name may repeat
    kinds: tuple[tuple[str, str], ...] = ()  # (name, input type) where the markup says

    def values_for(self, name: str) -> tuple[str, ...]:
        kind = dict(self.kinds).get(name, "")
        default = next((v for n, v in self.defaults if n == name), "")
        numeric = kind in ("number", "range", "select") or NUMERIC.match(default)
        dated = kind in ("date", "datetime-local", "month") or DATE_LIKE.match(default)
        return TEXT + (NUMBER if numeric else ()) + (DATE if dated else ())

    def as_shown(self) -> dict[str, list[str]]:
        """The body a browser sends for the form as the page shows it, nothing changed."""
        body: dict[str, list[str]] = {}
        for name, value in self.defaults:
            body.setdefault(name, []).append(value)
        return body

    def submissions(self, extra: tuple[str, ...] = ()) -> Iterator[tuple[str, str, dict]]:
        """(method, url, body): one field hostile at a time, the others as the form has them."""
        names = list(dict.fromkeys([n for n, _ in self.defaults] + [n for n, _ in self.kinds] + list(extra)))
        base = [pair for pair in self.query if pair[0] not in names]
        for name in names:
            for value in self.values_for(name):
                pairs = [(n, v) for n, v in self.defaults if n != name] + [(name, value)]
                if self.method == "get":
                    yield "GET", f"{self.path}?{urlencode(base + pairs)}", {}
                else:
                    url = f"{self.path}?{urlencode(base)}" if base else self.path
                    body: dict[str, list[str]] = {}
                    for n, v in pairs:
                        body.setdefault(n, []).append(v)
                    yield "POST", url, body


@pytest.fixture
def alpha(certificate_pem, no_dns_outside) -> Tenant:
    with transaction.atomic():
        return tenant_build("Alpha", certificate_pem)


def fill(route: UrlRoute, t: Tenant) -> dict[str, str] | None:
    """``route``'s path parameters, each one of ``t``'s objects; ``None`` when one names no object
    the org was built with."""
    values = {}
    for param in route.params:
        if param in FIXED:
            values[param] = FIXED[param]
        elif (route.name, param) in OBJECT_OF_ROUTE:
            values[param] = OBJECT_OF_ROUTE[route.name, param](t)
        elif param == "site_id" and (route.namespace == "helpcenter" or HELP_CENTER_ROUTE.match(route.name)):
            values[param] = t.desk.site_id
        elif param in OBJECTS:
            values[param] = OBJECTS[param](t)
        elif param in OWN:
            values[param] = OWN[param](t)
        else:
            return None
    return values


def is_html_page(response: HttpResponse) -> bool:
    """Whether ``response`` is a page: HTML, with something in it (not a download or a stream)."""
    return (
        not getattr(response, "streaming", False)
        and response.get("Content-Type", "").startswith("text/html")
        and bool(response.content.strip())
    )


def forms_of(response: HttpResponse, page: str) -> Iterator[Form]:
    """Every form (and htmx request) of an HTML answer that goes back to this installation."""
    if not is_html_page(response):
        return
    document = lxml.html.fromstring(response.content)
    for form in document.xpath("//form"):
        defaults = list(form.form_values())
        submit = form.xpath(".//*[(self::button and not(@type) or @type='submit') and @name][1]")
        if submit:
            defaults.append((submit[0].get("name"), submit[0].get("value") or ""))
        outside = document.xpath(f'//*[@form="{form.get("id")}" and @name]') if form.get("id") else []
        defaults += [(el.get("name"), el.get("value") or "") for el in outside]
        controls = form.xpath(".//input[@name]|.//select[@name]|.//textarea[@name]") + outside
        kinds = [(el.get("name"), el.get("type") or el.tag) for el in controls]
        action = form.get("action") or page
        yield from _form(form.get("method") or "get", action, page, defaults, kinds)
    for element in document.xpath("//*[@hx-post or @hx-get]"):
        method = "post" if element.get("hx-post") is not None else "get"
        pairs = [(element.get("name"), element.get("value") or "")] if element.get("name") else []
        yield from _form(method, element.get(f"hx-{method}") or page, page, pairs, [])


def _form(method: str, action: str, page: str, defaults: list, kinds: list) -> Iterator[Form]:
    address = urlsplit(urljoin(f"http://testserver{page}", action))
    if address.netloc != "testserver":
        return  # to the identity provider or a product site
    defaults = [(n, v) for n, v in defaults if n != "csrfmiddlewaretoken"]
    kinds = [(n, k) for n, k in kinds if n != "csrfmiddlewaretoken" and k not in ("hidden", "submit")]
    query = tuple(parse_qsl(address.query))
    yield Form(method.lower(), address.path, query, tuple(defaults), tuple(sorted(set(kinds))))


@cache
def keys_read_by(module: str) -> tuple[str, ...]:
    """The query parameters ``module`` reads by name."""
    try:
        source = Path(__import__(module, fromlist=["_"]).__file__).read_text()
    except (ImportError, TypeError, OSError):
        return ()
    return tuple(sorted(set(re.findall(r"GET\.(?:get|getlist)\(\s*\"(\w+)\"", source))))


def query_form(url: str) -> Form:
    """A page's own query parameters, as a filter form: those its view's module reads by name."""
    address = urlsplit(url)
    try:
        match = resolve(address.path)
    except Resolver404:
        return Form("get", address.path, tuple(parse_qsl(address.query)), ())
    keys = keys_read_by(match.func.__module__)
    if match.namespace.startswith("oauth2_provider") or "authorize" in (match.url_name or ""):
        keys += OIDC_KEYS
    return Form("get", address.path, tuple(parse_qsl(address.query)), (), tuple((k, "") for k in keys))


class Walk:
    """Pages opened, forms sent (each once, whichever page showed it), answers of 500 or more."""

    def __init__(self) -> None:
        self.sent: set[tuple[str, str, tuple]] = set()
        self.posted: set[str] = set()
        self.unshown: dict[str, Client] = {}  # POST-only actions, until a page shows their form
        self.requests = 0
        self.problems: list[str] = []

    def request(
        self, client: Client, method: str, url: str, body: dict, label: str, **headers: str
    ) -> HttpResponse:
        self.requests += 1
        if method == "GET":
            response = send(client, method, url, **headers)
        else:
            with transaction.atomic():
                response = send(client, method, url, body, **headers)
                transaction.set_rollback(True)
        if response.status_code >= 500:
            shown = {k: [(v[:20] + "…" if len(v) > 20 else v) for v in vs] for k, vs in body.items()}
            self.problems.append(f"{label}: {method} {url[:200]} {shown} -> {response.status_code}")
        return response

    def page(self, client: Client, url: str, label: str) -> None:
        """Open ``url``, then send every form on it (and the page itself, as a filter) hostile values."""
        response = self.request(client, "GET", url, {}, label)
        forms = [query_form(url)]
        if response.status_code == 200:
            forms += forms_of(response, url)
        if response.status_code == 405:
            self.unshown.setdefault(urlsplit(url).path, client)
        for form in forms:
            key = (form.method, form.path, tuple(n for n, _ in form.defaults + form.kinds))
            if key in self.sent:
                continue
            self.sent.add(key)
            if form.method == "post":
                self.posted.add(form.path)
            for method, target, body in form.submissions():
                self.request(client, method, target, body, f"{label}, form {form.method} {form.path}")

    def actions_no_page_showed(self, body: dict[str, object]) -> int:
        """POST ``body`` with every value hostile at once to each action no page showed a form of."""
        unshown = {p: c for p, c in self.unshown.items() if p not in self.posted}
        for action, client in unshown.items():
            for value in HOSTILE:
                hostile = {name: value for name in body}
                self.request(client, "POST", action, hostile, f"{action} (shown by no page)")
        return len(unshown)


def routes_by_namespace() -> dict[str, list[UrlRoute]]:
    found: dict[str, list[UrlRoute]] = {}
    for route in url_routes():
        found.setdefault(route.namespace.split(":")[0], []).append(route)
    return found


def reverse_route(route: UrlRoute, values: dict[str, str]) -> str:
    return reverse(":".join(n for n in (route.namespace, route.name) if n), kwargs=values)


@dataclass(frozen=True)
class Visit:
    """One page of the walk and the person who opens it."""

    route: UrlRoute
    url: str
    client: Client
    who: str  # "signed in" or "anonymous"


def pages(t: Tenant) -> Iterator[Visit]:
    """Every page of the project (but the REST API's and SCIM's), with ``t``'s objects in its path,
    as whoever uses it: the admin console and a person's own pages ``t``'s admin, the support queue
    a member of staff, the rest (sign-in, sign-up, portals, identity-provider endpoints) anyone.
    A page a one-time link's secret names is left out (a 404 without one); a path parameter the
    walk cannot fill fails the test, naming the route."""
    staff = AccountFactory(email="operator@staff.test", is_staff=True)
    admin, operator, anonymous = signed_in(t.admin), signed_in(staff), Client(raise_request_exception=False)
    visitors = {"console": [admin], "support": [operator], "accounts": [admin, anonymous]}
    for namespace, routes in routes_by_namespace().items():
        if namespace in FUZZED_ELSEWHERE:
            continue
        for route in routes:
            if set(route.params) & set(CAPABILITIES):
                continue
            values = fill(route, t)
            if values is None:
                pytest.fail(f"{route}: the walk cannot fill {route.params}; add it to OWN in {__name__}")
            for client in visitors.get(namespace, [anonymous]):
                who = "anonymous" if client is anonymous else "signed in"
                yield Visit(route, reverse_route(route, values), client, who)


def test_every_form_and_filter_of_every_page_answers_hostile_values_without_a_500(alpha):
    t = alpha
    walk = Walk()
    opened = 0
    for visit in pages(t):
        opened += 1
        walk.page(visit.client, visit.url, f"{visit.route} ({visit.who})")
    unshown = walk.actions_no_page_showed(form_body(t))
    assert opened > 150, opened
    assert len(walk.posted) > 60, len(walk.posted)
    assert unshown < len(walk.posted), "most actions should be sent as their page's form"
    summary = f"{len(walk.problems)} of {walk.requests} requests answered 500 or more:\n"
    assert not walk.problems, summary + "\n".join(walk.problems)


def test_every_path_parameter_answers_hostile_values_without_a_500(alpha):
    """An id in a path is as hostile as a field: ``/admin/o/<3000 characters>/users`` must be a 404.
    Every route, every parameter in turn, every value its converter lets through, GET and POST; the
    other parameters are the org's own."""
    t = alpha
    admin, anonymous = signed_in(t.admin), Client(raise_request_exception=False)
    key = {"HTTP_AUTHORIZATION": f"Bearer {t.api_key_value}"}
    body = form_body(t)
    walk = Walk()
    tried = 0
    for namespace, routes in routes_by_namespace().items():
        client = admin if namespace in ("console", "accounts", "support") else anonymous
        headers = key if namespace == "api" else {}
        for route in routes:
            values = fill(route, t) or {}
            for param in route.params:
                for value in HOSTILE:
                    try:
                        url = reverse_route(route, {**values, param: value})
                    except NoReverseMatch:
                        continue  # its converter refuses the value: nothing routes it here
                    tried += 1
                    for method in ("GET", "POST"):
                        walk.request(client, method, url, body, f"{route} {param}", **headers)
    assert tried > 200, tried
    summary = f"{len(walk.problems)} of {walk.requests} requests answered 500 or more:\n"
    assert not walk.problems, summary + "\n".join(walk.problems)


def test_the_walk_finds_forms_and_would_see_a_500():
    """The walk's own parts: a form's defaults are what a browser sends (its first submit button,
    controls outside it by ``form=``, checked boxes only), an address elsewhere is left alone, each
    field is hostile in turn with the others at their defaults, and a 500 is reported."""
    page = HttpResponse(
        b'<form method="post" action="/a/b?x=1" id="f"><input name="name" value="Ada">'
        b'<input type="number" name="days" value="30"><input type="checkbox" name="off" value="1">'
        b'<input name="csrfmiddlewaretoken" value="t"><button name="do" value="save">Save</button>'
        b'<button name="do" value="delete">Delete</button></form><input form="f" name="outside">'
        b'<form action="https://idp.example/sso"><input name="SAMLRequest"></form>'
        b'<button hx-post="/a/c" name="go" value="1">Go</button>',
        content_type="text/html; charset=utf-8",
    )
    forms = list(forms_of(page, "/a/"))
    assert [(f.method, f.path, f.query) for f in forms] == [
        ("post", "/a/b", (("x", "1"),)),
        ("post", "/a/c", ()),
    ]
    assert forms[0].defaults == (("name", "Ada"), ("days", "30"), ("do", "save"), ("outside", ""))
    sent = list(forms[0].submissions())
    days = [body for _, _, body in sent if body["days"] != ["30"]]
    assert sorted(body["days"][0] for body in days) == sorted(TEXT + NUMBER)
    assert all(body["name"] == ["Ada"] and body["do"] == ["save"] for body in days)
    assert {url for _, url, _ in sent} == {"/a/b?x=1"}
    assert any(body.get("off") == ["Walk\x00value"] for _, _, body in sent)  # unchecked, still sent
    walk = Walk()
    with override_settings(ROOT_URLCONF=__name__):
        walk.page(Client(raise_request_exception=False), "/fine", "a page without a 500")
        assert walk.problems == []
        walk.page(Client(raise_request_exception=False), "/broken?after=x", "a page with a 500")
    assert walk.problems and all("a page with a 500" in p for p in walk.problems)


def _fine(request):
    return HttpResponse("fine")


def _broken(request):
    if "\x00" in request.GET.get("after", ""):
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")
    return HttpResponse("fine")


urlpatterns = [path("fine", _fine), path("broken", _broken)]  # the test above's URLconf
