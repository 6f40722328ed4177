"""Opaque keyset cursors and the page envelope every list endpoint answers with.

A page is ``{"data": [...], "links": {"self": url, "next": url | null}, "meta": {"page_size": n}}``.
A cursor is the sort key of the last row of a page (never an OFFSET: page 500 costs what page 1
costs), base64url-encoded JSON so that callers treat it as opaque. A cursor that does not decode
to what the endpoint expects raises ``BadCursor``, which the API answers with 400 invalid_request.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from django.http import HttpRequest


class BadCursor(Exception):
    message = "The cursor is not valid. Use the `next` link of the previous page."


def cursor_encode(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str, *, types: tuple[type, ...]) -> list[Any]:
    """The values inside ``cursor``, checked against ``types``; raises ``BadCursor``."""
    if len(cursor) > 1500:
        raise BadCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor() from exc
    if not isinstance(values, list) or len(values) != len(types):
        raise BadCursor()
    for value, expected in zip(values, types, strict=True):
        # bool is an int in Python; a cursor never carries one.
        if not isinstance(value, expected) or isinstance(value, bool):
            raise BadCursor()
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL refuses NUL in a query
            raise BadCursor()
    return values


def page_url(request: HttpRequest, **changes: Any) -> str:
    """The absolute URL of this request with query parameters replaced (``None`` removes one)."""
    params = request.GET.copy()
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = str(value)
    query = params.urlencode()
    return request.build_absolute_uri(request.path + (f"?{query}" if query else ""))


def page(request: HttpRequest, data: list[Any], *, next_cursor: str | None, size: int) -> dict[str, Any]:
    """The page envelope; the ``next`` link carries ``next_cursor`` in the ``cursor`` parameter."""
    return {
        "data": data,
        "links": {
            "self": page_url(request),
            "next": page_url(request, cursor=next_cursor) if next_cursor else None,
        },
        "meta": {"page_size": size},
    }
