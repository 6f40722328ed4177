"""The JSON APIs, assembled in one django-ninja ``NinjaAPI`` (OpenAPI at ``/api/openapi.json``).

Errors leave as ``{"code": ..., "message": ...}`` with a correct status, whatever raised them:
validation errors, unknown routes under ``/api/``, and the domains' named exceptions.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from orgwarden import __version__
from orgwarden.tokens.auth import RateLimited

api = NinjaAPI(
    title="orgwarden API",
    version="1",
    description="Organizations REST API of orgwarden. Authenticate with an org API key as a Bearer token.",
    urls_namespace="api",
    docs_url="/docs",
)


class Error(Schema):
    code: str
    message: str


class Health(Schema):
    status: str
    version: str


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError):
    return api.create_response(
        request,
        {"code": "invalid_request", "message": "The request is not valid.", "errors": exc.errors},
        status=400,
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError):
    return api.create_response(
        request, {"code": "unauthorized", "message": "A valid API key is required."}, status=401
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError):
    return api.create_response(request, {"code": "error", "message": str(exc)}, status=exc.status_code)


@api.exception_handler(RateLimited)
def on_rate_limited(request: HttpRequest, exc: RateLimited):
    response = api.create_response(
        request,
        {"code": "rate_limited", "message": f"Too many requests. Try again in {exc.standing.reset} seconds."},
        status=429,
    )
    response["Retry-After"] = str(exc.standing.reset)
    return response


@api.get("/health", response=Health, tags=["meta"], auth=None)
def health(request: HttpRequest):
    """Liveness of the API (no authentication)."""
    return {"status": "ok", "version": __version__}
