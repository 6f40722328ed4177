"""The WSGI application ``orgwarden serve`` runs: Django's handler, with a short lane for machines.

Token introspection (``POST /oauth2/introspect``) runs on every API call a product receives, so
its cost per call is the product's latency. It is client-authenticated server-to-server traffic:
no cookies, no session, no CSRF, no signed-in person, no HTML, no audit event. Most of Django's
middleware stack (sessions, authentication, CSRF, messages, session limits, the console's request
context, htmx, rate-limit headers) exists for other surfaces and did nothing for it but cost: it
and URL resolving were about a fifth of each call. So ``OrgwardenWSGIHandler`` sends requests for
the paths in ``MACHINE_ENDPOINTS`` through a second, short middleware chain — only the middleware
in ``settings.MACHINE_MIDDLEWARE`` (the ones that put security headers on every answer, redirect to
HTTPS and check the Host), built exactly as Django builds the full chain — straight to the view.
Everything else about the request is Django's own: the request object, the database connection's
life cycle (``request_started``/``request_finished``), exception handling (the same 500 page), and
logging of 4xx/5xx answers. The view is the same view the URLconf routes to.

SCIM (every path under ``MACHINE_PREFIXES``: ``/scim/``) is the same kind of traffic — an identity
provider with a bearer key, no cookies — and takes the same short chain; its URLs are resolved by
the URLconf as usual (``_routed``). Its writes record audit events with the caller's address and
user agent, so ``RequestContextMiddleware`` is in the short chain (it costs introspection a few
microseconds).

A path is only eligible when the full stack would do nothing else for it; the test suite checks
that the short lane and the full stack give the same status, body and headers for the same
requests (tokens/tests/test_wsgi_lane.py, scim/tests/test_wsgi_lane.py).

Request bodies sent with ``Transfer-Encoding: chunked`` (no ``Content-Length``: what an HTTP
client sends for a body it streams) are read here, up to ``CHUNKED_BODY_MAX``, and handed to Django
with their length: Django reads a body only as far as ``CONTENT_LENGTH`` says, so without this every
view saw such a body as empty. A larger body is a 413, one that is not valid chunked coding a 400,
both in the caller's format (``console.views.errors.machine_error``).
"""

from __future__ import annotations

import gc
import io
import os
from collections.abc import Callable, Iterable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgwarden.settings")

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.urls import get_resolver, set_urlconf
from django.utils.log import log_response
from django.utils.module_loading import import_string

# path → dotted path of its view; the view must be exactly what the URLconf routes that path to.
MACHINE_ENDPOINTS = {"/oauth2/introspect": "orgwarden.tokens.views.introspect"}
# Path prefixes all of whose URLs are machine traffic; the URLconf routes them (``_routed``).
MACHINE_PREFIXES = ("/scim/",)
_VIEW_HOOKS = ("process_view", "process_exception", "process_template_response")
# The largest body any view reads: SCIM's (a group PUT with 10,000 members), ``scim.views.MAX_BODY``.
CHUNKED_BODY_MAX = 5 * 1024 * 1024


class OrgwardenWSGIHandler(WSGIHandler):
    """Django's WSGI handler; requests for ``MACHINE_ENDPOINTS`` skip to a short middleware chain."""

    def __init__(self) -> None:
        super().__init__()
        self.machine_chains: dict[str, Callable[[HttpRequest], HttpResponse]] = {
            path: self._short_chain(import_string(view)) for path, view in MACHINE_ENDPOINTS.items()
        }
        self.routed_chain = self._short_chain(_routed)

    @staticmethod
    def _short_chain(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
        names = list(settings.MACHINE_MIDDLEWARE)
        in_full = [name for name in settings.MIDDLEWARE if name in names]
        if in_full != names:  # a subset of the full stack, in its order, or the two would differ
            raise ImproperlyConfigured(
                "MACHINE_MIDDLEWARE must list middleware of MIDDLEWARE, in the same order."
            )
        handler = convert_exception_to_response(view)
        for name in reversed(names):  # as BaseHandler.load_middleware wraps them
            middleware = import_string(name)(handler)
            if any(hasattr(middleware, hook) for hook in _VIEW_HOOKS):  # this chain has no view hooks
                raise ImproperlyConfigured(f"MACHINE_MIDDLEWARE cannot hold {name}: it hooks into views.")
            handler = convert_exception_to_response(middleware)
        return handler

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() and not environ.get(
            "CONTENT_LENGTH"
        ):
            refusal = _buffer_chunked_body(environ)
            if refusal is not None:
                headers = [*refusal.items(), ("Content-Length", str(len(refusal.content)))]
                start_response(f"{refusal.status_code} {refusal.reason_phrase}", headers)
                return [refusal.content]
        return super().__call__(environ, start_response)

    def get_response(self, request: HttpRequest) -> HttpResponse:
        chain = self.machine_chains.get(request.path_info)
        if chain is None and request.path_info.startswith(MACHINE_PREFIXES):
            chain = self.routed_chain
        if chain is None:
            return super().get_response(request)
        set_urlconf(settings.ROOT_URLCONF)  # what BaseHandler.get_response does, with the short chain
        response = chain(request)
        response._resource_closers.append(request.close)
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response


def _routed(request: HttpRequest) -> HttpResponse:
    """The view the URLconf routes the request to, called as ``BaseHandler._get_response`` calls
    one when no middleware hooks into views (the short chain has none): resolve, then call."""
    match = get_resolver().resolve(request.path_info)
    request.resolver_match = match
    response = match.func(request, *match.args, **match.kwargs)
    if response is None:
        raise ValueError(f"The view {match._func_path} didn't return an HttpResponse object.")
    if hasattr(response, "render") and callable(response.render):
        response = response.render()
    return response


def _buffer_chunked_body(environ: dict) -> HttpResponse | None:
    """Read a chunked body into memory and give ``environ`` its length; or the refusal to answer."""
    try:
        body = environ["wsgi.input"].read(CHUNKED_BODY_MAX + 1)
    except Exception:  # whatever the server's reader raises (gunicorn: InvalidChunkSize …), it is broken
        status, code, message = 400, "bad_request", "The request body is not valid chunked transfer coding."
    else:
        if len(body) <= CHUNKED_BODY_MAX:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            return None
        status, code, message = 413, "too_large", f"The request body is larger than {CHUNKED_BODY_MAX} bytes."
    from orgwarden.console.views.errors import machine_error

    path = environ.get("PATH_INFO", "")
    answer = machine_error(path, status, message, code=code, oauth_code="invalid_request")
    return answer or HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def settle_heap() -> None:
    """Collect, then move every object alive now out of the garbage collector's reach.

    What a worker loads at start (Django, the apps, their modules and caches: hundreds of thousands
    of objects) lives as long as the worker, yet every full collection walked all of it: a request
    that builds many objects (the insights inactive list: 5,000 rows) set one off and paid tens of
    milliseconds for it, in-process 138 ms at worst against 61 ms with the collector off. Frozen
    (``gc.freeze``), those objects are skipped; whatever requests allocate is still collected.
    """
    gc.collect()
    gc.freeze()


def get_application() -> OrgwardenWSGIHandler:
    django.setup(set_prefix=False)
    handler = OrgwardenWSGIHandler()
    settle_heap()
    return handler


application = get_application()
