"""The SCIM 2.0 endpoint of an IdP directory (``/scim/directory/<directoryId>/…``). Thin: check the
directory key, parse the query and JSON body, call a service or selector, answer SCIM JSON — and
turn every ``ScimError`` into the SCIM error schema. Every Users/Groups request (and root search) is
logged in the directory's provisioning log, refused ones too.

Provisioning is a feature of the security subscription: while the org's enforcement is paused
(``policies.selectors.enforcement_paused`` — no subscription, or a lapsed one), every Users and
Groups request (and root search) is refused with 403 and a ``detail`` saying why and where to
resume it, logged like any other refusal; nothing is changed, so the IdP's retries apply once it
resumes. Discovery (ServiceProviderConfig, ResourceTypes, Schemas) keeps answering so an IdP's
connection test can tell a paused subscription from a wrong key.

Real clients' quirks handled here: OneLogin's ``+`` for spaces (form decoding) and its trailing
``&`` or ``?`` in the query string; ``application/json`` as well as ``application/scim+json``.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from orgwarden.orgs.models import Directory
from orgwarden.policies import selectors as policy_selectors
from orgwarden.scim import selectors, services
from orgwarden.scim.exceptions import ResourceNotFound, ScimError
from orgwarden.scim.models import ScimUser
from orgwarden.scim.processors import discovery
from orgwarden.scim.processors.resources import ERROR_SCHEMA, LIST_SCHEMA, select

CONTENT_TYPE = "application/scim+json"
MAX_BODY = 5 * 1024 * 1024
ROOT_RESOURCE = "Users, Groups"  # how a root /.search shows in the provisioning log
LOGGED = ("Users", "Groups", ROOT_RESOURCE)
# A surrogate escaped (\ud800), or written as its three bytes (ED A0 80: CESU-8, never UTF-8), which
# json.loads lets through too: it decodes bytes with "surrogatepass".
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def scim_json(data: Any, status: int = 200, location: str = "") -> HttpResponse:
    response = HttpResponse(json.dumps(data), status=status, content_type=CONTENT_TYPE)
    if location:
        response["Location"] = location
    return response


def scim_error(detail: str, status: int, scim_type: str = "") -> HttpResponse:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    response = scim_json(body, status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="scim"'
    return response


def _query(request: HttpRequest) -> QueryDict:
    # WSGI hands the query string over as Latin-1 text: read its bytes as UTF-8, as Django reads
    # request.GET, or an unescaped "müller" became "mÃ¼ller". Bytes that are not UTF-8 stay as
    # they came, as request.GET keeps them.
    raw = request.META.get("QUERY_STRING", "")
    with contextlib.suppress(UnicodeError):
        raw = raw.encode("iso-8859-1").decode("utf-8")
    raw = raw.strip("?&")
    return QueryDict(raw.replace("?", "&") if raw.count("?") and "filter" not in raw else raw)


def _raw_body(request: HttpRequest) -> bytes:
    """The body, up to ``MAX_BODY``, read from the stream: ``request.body`` would apply Django's
    limit for forms (``DATA_UPLOAD_MAX_MEMORY_SIZE``, 1 MB here), which a group PUT with the
    10,000 members SCIM allows (``services.MAX_MEMBERS``) can pass."""
    too_large = ScimError("The request body is too large.", status=413, scim_type="tooMany")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY:
        raise too_large  # refused before reading it
    raw = request.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise too_large
    return raw


def _not_json(constant: str) -> Any:
    """``json.loads``'s ``parse_constant``: NaN, Infinity and -Infinity are Python's, not JSON's
    (RFC 8259 §6). Read as floats they became titles such as "inf", and NaN reached JSON columns."""
    raise ValueError(f"{constant} is not a JSON value.")


def _body(request: HttpRequest) -> Any:
    raw = _raw_body(request)
    try:
        data = json.loads(raw or b"null", parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScimError("The request body is not valid JSON.", status=400, scim_type="invalidSyntax") from exc
    except RecursionError as exc:  # [[[[… deeper than the decoder's recursion limit
        raise ScimError("The request body nests too deeply.", status=400, scim_type="invalidSyntax") from exc
    if _SURROGATE.search(raw):
        # \ud800 alone decodes to a lone surrogate, which no database driver can encode (a pair,
        # as json.dumps writes an emoji, decodes to one character and passes).
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ScimError(
                "The request body holds an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not text.",
                status=400,
                scim_type="invalidSyntax",
            ) from exc
    return data


@contextlib.contextmanager
def _naming(data: Any, key: str) -> Iterator[None]:
    """A create refused inside says whom it was for (``ScimError.subject``): the body's ``key``."""
    try:
        yield
    except ScimError as exc:
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, str):
            exc.subject = " ".join(value.split())[:254]
        raise


def _base(request: HttpRequest, directory: Directory) -> str:
    return request.build_absolute_uri(f"/scim/directory/{directory.directory_id}")


def _select(resource: dict, query: QueryDict) -> dict:
    return select(
        resource,
        attributes=",".join(query.getlist("attributes")).split(","),
        excluded=",".join(query.getlist("excludedAttributes")).split(","),
    )


def _authenticated(request: HttpRequest, directory_id: str) -> Directory | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return selectors.directory_for_key(directory_id=directory_id, key=key.strip())


def endpoint(resource: str) -> Callable:
    """Wrap a handler(request, directory, query, **ids) → (status, body, location[, log note]).

    The log note goes into the request's provisioning-log line (see ``ScimUser.log_note``)."""

    def wrap(handler: Callable) -> Callable:
        @csrf_exempt
        def view(request: HttpRequest, directory_id: str, **ids: str) -> HttpResponse:
            directory = _authenticated(request, directory_id)
            if directory is None:
                return scim_error("Send this directory's SCIM key as a Bearer token.", 401)
            query = _query(request)
            operation = {
                "GET": "read" if ids else "list",
                "POST": "create",
                "PUT": "replace",
                "PATCH": "patch",
                "DELETE": "delete",
            }.get(request.method or "", "other")
            if handler.__name__.endswith("_search"):
                operation = "list"
            resource_id = next(iter(ids.values()), "")

            def log(status: int, error: str = "", created: str = "") -> None:
                services.provisioning_log_record(
                    directory=directory,
                    method=request.method or "",
                    resource=resource,
                    resource_id=created or resource_id,
                    operation=operation,
                    status=status,
                    error=error,
                    # A read changed nothing: its line is written behind, in a batch.
                    behind=operation in ("read", "list"),
                )

            logged = resource in LOGGED
            try:
                if logged:
                    _check_not_paused(directory)
                if logged and request.method != "GET":
                    # A write and its log line commit together: one commit per request. A refused
                    # write rolls back, and its log line is written after.
                    with transaction.atomic():
                        status, body, location, *note = handler(request, directory, query, **ids)
                        # A create's line names what it created, as the other writes' name theirs.
                        log(status, *note, created=location.rsplit("/", 1)[-1] if status == 201 else "")
                else:
                    status, body, location, *_ = handler(request, directory, query, **ids)
                    if logged:
                        log(status)
                response = (
                    scim_json(body, status, location) if body is not None else HttpResponse(status=status)
                )
            except ScimError as exc:
                response = scim_error(exc.detail, exc.status, exc.scim_type)
                if logged:
                    named = exc.subject and exc.subject not in exc.detail
                    log(exc.status, f"{exc.subject}: {exc.detail}" if named else exc.detail)
            return response

        return view

    return wrap


def _check_not_paused(directory: Directory) -> None:
    paused = policy_selectors.enforcement_paused(directory.org)
    if paused:
        raise ScimError(
            f"Provisioning is paused because {paused}. An admin of the organization can resume it "
            "under Billing; until then this directory accepts no changes.",
            status=403,
        )


def _not_allowed(method: str) -> ScimError:
    return ScimError(f"{method} is not supported here.", status=405)


@endpoint("ServiceProviderConfig")
def service_provider_config(request: HttpRequest, directory: Directory, query: QueryDict):
    if request.method != "GET":
        raise _not_allowed(request.method)
    return 200, discovery.service_provider_config(_base(request, directory), selectors.MAX_RESULTS), ""


def _list(items: list[dict]) -> dict:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": len(items),
        "itemsPerPage": len(items),
        "startIndex": 1,
        "Resources": items,
    }


@endpoint("ResourceTypes")
def resource_types(request: HttpRequest, directory: Directory, query: QueryDict, name: str = ""):
    if request.method != "GET":
        raise _not_allowed(request.method)
    items = discovery.resource_types(_base(request, directory))
    if name:
        found = next((i for i in items if i["id"] == name), None)
        if found is None:
            raise ResourceNotFound("Resource type")
        return 200, found, ""
    return 200, _list(items), ""


@endpoint("Schemas")
def schemas(request: HttpRequest, directory: Directory, query: QueryDict, name: str = ""):
    if request.method != "GET":
        raise _not_allowed(request.method)
    items = discovery.schemas(_base(request, directory))
    if name:
        found = next((i for i in items if i["id"] == name), None)
        if found is None:
            raise ResourceNotFound("Schema")
        return 200, found, ""
    return 200, _list(items), ""


def _page_body(page: selectors.Page, rendered: list[dict]) -> dict:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": page.total,
        "itemsPerPage": len(rendered),
        "startIndex": page.start,
        "Resources": rendered,
    }


def _listing(request: HttpRequest, directory: Directory, query: QueryDict, page_of, render) -> dict:
    """One page of ``page_of`` (users_page or groups_page) for the query, rendered and selected."""
    page = page_of(
        directory=directory,
        filter_text=query.get("filter"),
        start=query.get("startIndex"),
        count=query.get("count"),
    )
    base = _base(request, directory)
    return _page_body(page, [_select(render(item, base), query) for item in page.items])


@endpoint("Users")
def users(request: HttpRequest, directory: Directory, query: QueryDict):
    base = _base(request, directory)
    if request.method == "GET":
        return 200, _listing(request, directory, query, selectors.users_page, selectors.render_user), ""
    if request.method == "POST":
        data = _body(request)
        with _naming(data, "userName"):
            user = services.scim_user_create(directory=directory, data=data)
        body = selectors.render_user(selectors.with_relations(user), base)
        return 201, _select(body, query), body["meta"]["location"], user.log_note
    raise _not_allowed(request.method)


def _search_query(request: HttpRequest) -> QueryDict:
    """POST /.search (RFC 7644 §3.4.3): the body's parameters as a query."""
    body = _body(request)
    if not isinstance(body, dict):
        raise ScimError("A search body must be a JSON object.", status=400, scim_type="invalidSyntax")
    query = QueryDict(mutable=True)
    for key in ("filter", "startIndex", "count"):
        if body.get(key) is not None:
            query[key] = str(body[key])
    for key in ("attributes", "excludedAttributes"):
        value = body.get(key)
        if isinstance(value, list):
            query[key] = ",".join(str(v) for v in value)
        elif isinstance(value, str):
            query[key] = value
    return query


@endpoint("Users")
def users_search(request: HttpRequest, directory: Directory, query: QueryDict):
    if request.method != "POST":
        raise _not_allowed(request.method)
    query = _search_query(request)
    return 200, _listing(request, directory, query, selectors.users_page, selectors.render_user), ""


@endpoint("Groups")
def groups_search(request: HttpRequest, directory: Directory, query: QueryDict):
    if request.method != "POST":
        raise _not_allowed(request.method)
    query = _search_query(request)
    return 200, _listing(request, directory, query, selectors.groups_page, selectors.render_group), ""


@endpoint(ROOT_RESOURCE)
def root_search(request: HttpRequest, directory: Directory, query: QueryDict):
    """POST /.search: one filter over Users and Groups (see ``selectors.root_page``)."""
    if request.method != "POST":
        raise _not_allowed(request.method)
    query = _search_query(request)
    page = selectors.root_page(
        directory=directory,
        filter_text=query.get("filter"),
        start=query.get("startIndex"),
        count=query.get("count"),
    )
    base = _base(request, directory)
    rendered = [
        _select(
            selectors.render_user(item, base)
            if isinstance(item, ScimUser)
            else selectors.render_group(item, base),
            query,
        )
        for item in page.items
    ]
    return 200, _page_body(page, rendered), ""


@endpoint("Users")
def user(request: HttpRequest, directory: Directory, query: QueryDict, scim_id: str):
    base = _base(request, directory)
    if request.method == "GET":
        found = selectors.user_get(directory=directory, scim_id=scim_id)
        if found is None:
            raise ResourceNotFound("User")
        return 200, _select(selectors.render_user(found, base), query), ""
    if request.method == "PUT":
        found = services.scim_user_replace(directory=directory, scim_id=scim_id, data=_body(request))
    elif request.method == "PATCH":
        found = services.scim_user_patch(directory=directory, scim_id=scim_id, body=_body(request))
    elif request.method == "DELETE":
        deleted = services.scim_user_delete(directory=directory, scim_id=scim_id)
        return 204, None, "", deleted.log_note
    else:
        raise _not_allowed(request.method)
    body = _select(selectors.render_user(selectors.with_relations(found), base), query)
    return 200, body, "", found.log_note


@endpoint("Groups")
def groups(request: HttpRequest, directory: Directory, query: QueryDict):
    base = _base(request, directory)
    if request.method == "GET":
        return 200, _listing(request, directory, query, selectors.groups_page, selectors.render_group), ""
    if request.method == "POST":
        data = _body(request)
        with _naming(data, "displayName"):
            group = services.scim_group_create(directory=directory, data=data)
        body = selectors.render_group(group, base)
        return 201, _select(body, query), body["meta"]["location"]
    raise _not_allowed(request.method)


@endpoint("Groups")
def group(request: HttpRequest, directory: Directory, query: QueryDict, scim_id: str):
    base = _base(request, directory)
    if request.method == "GET":
        found = selectors.group_get(directory=directory, scim_id=scim_id)
        if found is None:
            raise ResourceNotFound("Group")
        return 200, _select(selectors.render_group(found, base), query), ""
    if request.method == "PUT":
        found = services.scim_group_replace(directory=directory, scim_id=scim_id, data=_body(request))
    elif request.method == "PATCH":
        found = services.scim_group_patch(directory=directory, scim_id=scim_id, body=_body(request))
    elif request.method == "DELETE":
        services.scim_group_delete(directory=directory, scim_id=scim_id)
        return 204, None, ""
    else:
        raise _not_allowed(request.method)
    return 200, _select(selectors.render_group(found, base), query), ""


@csrf_exempt
def not_found(request: HttpRequest, directory_id: str = "", rest: str = "") -> HttpResponse:
    return scim_error("There is no such SCIM resource.", 404)


@csrf_exempt
def not_implemented(request: HttpRequest, directory_id: str = "", feature: str = "") -> HttpResponse:
    what = "/Bulk"
    if feature == "Me":
        what = "/Me (a directory key acts for the identity provider, not for a user)"
    return scim_error(f"This service provider does not support {what}.", 501)
