"""Where a change comes from (IP address, user agent), carried beside the request.

Services record audit events deep below the view that called them; rather than thread the request
through every signature, ``RequestContextMiddleware`` sets this context variable for the duration
of a request and ``event_record`` reads it. Code outside a request (CLI, daily jobs) leaves it
empty, which is the truth: no IP, no user agent.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""


EMPTY = RequestContext()
_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "orgwarden_request_context", default=EMPTY
)


def current() -> RequestContext:
    return _current.get()


@contextmanager
def using(context: RequestContext) -> Iterator[None]:
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)
