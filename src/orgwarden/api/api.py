"""The JSON APIs, assembled in one django-ninja ``NinjaAPI`` (OpenAPI at ``/api/openapi.json``).

Errors leave as ``{"code": ..., "message": ...}`` with a correct status, whatever raised them:
validation errors (400 ``invalid_request``), a missing or dead key (401 ``unauthorized``), unknown
routes under ``/api/`` (404 ``not_found``), wrong methods (405 ``method_not_allowed``), too many
requests (429 ``rate_limited``, with ``Retry-After``), a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``
(413 ``too_large``, as the WSGI entry answers a chunked one) or more than
``DATA_UPLOAD_MAX_NUMBER_FIELDS`` query parameters (400 ``invalid_request``), and the domains'
named exceptions, which are mapped to statuses here and nowhere else (``ERROR_STATUSES``).

The docs page (``/api/docs``) is Swagger UI served from this installation — the copy that ships
inside django-ninja — so it works offline and under the strict Content-Security-Policy.
"""

from __future__ import annotations

import logging
from pathlib import Path

import ninja
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import URLPattern, path, re_path
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import DocsBase

from orgwarden import __version__
from orgwarden.db import outage
from orgwarden.insights import api as insights_api
from orgwarden.orgs.api import events as events_api
from orgwarden.orgs.api import orgs as orgs_api
from orgwarden.orgs.api import users as users_api
from orgwarden.orgs.api.pagination import BadCursor
from orgwarden.orgs.exceptions import InvitationThrottled, OrgsError
from orgwarden.tokens import api as tokens_api
from orgwarden.tokens.auth import RateLimited
from orgwarden.tokens.exceptions import TokensError

logger = logging.getLogger(__name__)

NINJA_STATIC = Path(ninja.__file__).parent / "static" / "ninja"
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-init.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}

# Named exceptions -> (status, code), by class name so that the mapping also covers errors added
# to a domain later; the first class in the exception's MRO found here wins.
ERROR_STATUSES: dict[str, tuple[int, str]] = {
    "NotFound": (404, "not_found"),
    "KeyNotFound": (404, "not_found"),
    "TokenNotFound": (404, "not_found"),
    "NotManaged": (403, "not_managed"),
    "ProfileManagedByIdp": (409, "managed_by_identity_provider"),
    "ClaimedByAnotherOrg": (409, "conflict"),
    "AlreadyAdmin": (409, "conflict"),
    "LastAdmin": (409, "conflict"),
    "NotInvited": (409, "not_invited"),
    "NoProductAccess": (409, "no_product_access"),
    "InvalidInput": (400, "invalid_request"),
    "InvalidName": (400, "invalid_request"),
    "InvalidKeyRequest": (400, "invalid_request"),
    "OrgsError": (400, "invalid_request"),
    "TokensError": (400, "invalid_request"),
}
HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
}


class LocalSwagger(DocsBase):
    """Swagger UI from django-ninja's bundled files, served by ``/api/docs/assets/…``."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs) -> HttpResponse:
        return render(
            request, "api/docs.html", {"api": api, "openapi_url": self.get_openapi_url(api, kwargs)}
        )


class OrgwardenAPI(NinjaAPI):
    """``NinjaAPI`` whose every answer under ``/api/`` is JSON, 404s and 405s included."""

    def _get_urls(self) -> list:
        urls = []
        for pattern in super()._get_urls():
            if isinstance(pattern, URLPattern) and pattern.name == "api-root":
                continue  # ninja's root raises an HTML 404; the catch-all below answers instead
            if isinstance(pattern, URLPattern):
                pattern.callback = _json_not_allowed(pattern.callback)
            urls.append(pattern)
        urls.append(path("docs/assets/<str:name>", docs_asset, name="docs-asset"))
        urls.append(path("", not_found, name="api-root"))
        urls.append(re_path(r"^.*$", not_found, name="not-found"))
        return urls


api = OrgwardenAPI(
    title="orgwarden API",
    version="1",
    description=(
        "Organizations REST API of orgwarden. Authenticate with an org API key "
        "(Settings → API keys) as `Authorization: Bearer owk_…`. Errors are "
        '`{"code": …, "message": …}`; lists are pages with a `next` link carrying an opaque cursor.'
    ),
    urls_namespace="api",
    docs_url="/docs",
    docs=LocalSwagger(),
)
api.add_router("/admin/v1", orgs_api.router)
api.add_router("/admin/v1", events_api.router)
api.add_router("/admin/v1", insights_api.router)
api.add_router("", users_api.router)
api.add_router("", tokens_api.router)


class Error(Schema):
    code: str
    message: str


class Health(Schema):
    status: str
    version: str


def error(request: HttpRequest, status: int, code: str, message: str, **extra) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, **extra}, status=status)


def _json_not_allowed(view):
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = error(
                request, 405, "method_not_allowed", f"{request.method} is not allowed here. Use {allowed}."
            )
            response["Allow"] = allowed
        return response

    for attribute in ("csrf_exempt", "__name__", "__doc__"):
        if hasattr(view, attribute):
            setattr(wrapper, attribute, getattr(view, attribute))
    return wrapper


def not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    return error(request, 404, "not_found", "No such endpoint. See /api/docs.")


not_found.csrf_exempt = True


def docs_asset(request: HttpRequest, name: str) -> HttpResponse:
    if name not in DOCS_ASSETS:
        return not_found(request)
    response = FileResponse((NINJA_STATIC / name).open("rb"), content_type=DOCS_ASSETS[name])
    response["Cache-Control"] = "public, max-age=3600"
    return response


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError):
    return error(request, 400, "invalid_request", "The request is not valid.", errors=_plain(exc.errors))


@api.exception_handler(BadCursor)
def on_bad_cursor(request: HttpRequest, exc: BadCursor):
    return error(request, 400, "invalid_request", exc.message)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError):
    response = error(request, 401, "unauthorized", "A valid API key is required.")
    response["WWW-Authenticate"] = 'Bearer realm="orgwarden"'
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError):
    return error(request, exc.status_code, HTTP_CODES.get(exc.status_code, "error"), str(exc))


@api.exception_handler(Http404)
def on_http404(request: HttpRequest, exc: Http404):
    return error(request, 404, "not_found", "Not found.")


@api.exception_handler(OrgsError)
@api.exception_handler(TokensError)
def on_domain_error(request: HttpRequest, exc: OrgsError | TokensError):
    for cls in type(exc).__mro__:
        if cls.__name__ in ERROR_STATUSES:
            status, code = ERROR_STATUSES[cls.__name__]
            return error(request, status, code, exc.message)
    return error(request, 400, "invalid_request", exc.message)  # pragma: no cover - both bases are mapped


@api.exception_handler(RateLimited)
def on_rate_limited(request: HttpRequest, exc: RateLimited):
    response = error(
        request, 429, "rate_limited", f"Too many requests. Try again in {exc.standing.reset} seconds."
    )
    response["Retry-After"] = str(exc.standing.reset)
    return response


@api.exception_handler(InvitationThrottled)
def on_invitation_throttled(request: HttpRequest, exc: InvitationThrottled):
    # The per-address throttle of a service (not the key's rate limit): the same 429, with the
    # seconds to wait.
    response = error(request, 429, "rate_limited", exc.message)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(SuspiciousOperation)
def on_suspicious_request(request: HttpRequest, exc: SuspiciousOperation):
    # Django's request limits, raised when the body or the query string is first read: the
    # caller's mistake (or probe), not ours — never the 500 of the handler below.
    if isinstance(exc, RequestDataTooBig):
        return error(request, 413, "too_large", "The request body is too large.")
    return error(request, 400, "invalid_request", "The request is not valid.")


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception):
    # A bug, or the database out of reach (503, to retry: orgwarden.db.outage): logged with its
    # traceback for the operator, answered in the API's format.
    logger.exception("Unhandled error in %s %s", request.method, request.path)
    if outage.database_unavailable(exc):
        from orgwarden.console.views.errors import failure_answer  # the 503 every surface answers

        return failure_answer(request, exc)
    return error(request, 500, "server_error", "Something went wrong on our side.")


def _plain(errors: list) -> list:
    """Validation errors as JSON-safe data (pydantic may put exceptions in ``ctx``)."""
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in errors
    ]


@api.get("/health", response=Health, tags=["meta"], auth=None)
def health(request: HttpRequest):
    """Liveness of the API (no authentication)."""
    return {"status": "ok", "version": __version__}
