"""OAuth 2.0 on the wire, shared by introspection (``tokens.views``) and product sign-in (``oidc``):
the error answer (RFC 6749 §5.2) and a client's credentials (§2.3.1)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError


def json_answer(body: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"  # RFC 6749 §5.1, which RFC 7662 follows
    response["Pragma"] = "no-cache"
    return response


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    response = json_answer({"error": error, "error_description": description}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="orgwarden introspection"'
    return response


def unreadable_form(request: HttpRequest) -> JsonResponse | None:
    """``invalid_request`` when the form body cannot be read, else ``None``: over Django's size or
    field-count limit, URL-encoded in a charset other than UTF-8, or a broken multipart body.
    Reading it raises, and Django's answer is its HTML 400 page, which no OAuth client reads."""
    try:
        request.POST  # noqa: B018 — parsed here, where its errors can be answered in OAuth's format
    except (BadRequest, SuspiciousOperation, MultiPartParserError):
        return oauth_error("invalid_request", "The request body cannot be read as a form.")
    return None


def client_credentials(request: HttpRequest) -> tuple[str, str]:
    """The client id and secret: from HTTP Basic (both parts form-urlencoded before base64), else
    the form's ``client_id`` and ``client_secret``; empty strings when the header does not decode."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return request.POST.get("client_id", ""), request.POST.get("client_secret", "")
