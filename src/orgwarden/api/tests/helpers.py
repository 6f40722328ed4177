"""What the REST API tests share: a real org API key and a client that sends it."""

from __future__ import annotations

from typing import Any

from django.test import Client

from orgwarden.orgs.models import OrgAdmin
from orgwarden.tokens.models import OrgApiKey
from orgwarden.tokens.services import api_key_create


def key_for(org_admin: OrgAdmin, name: str = "Script") -> tuple[OrgApiKey, str]:
    """A live key of ``org_admin.org`` (made by the real service) and its value."""
    return api_key_create(org=org_admin.org, actor=org_admin.account, name=name)


class ApiClient:
    """Django's test client with ``Authorization: Bearer <value>`` on every request."""

    def __init__(self, value: str) -> None:
        self.client = Client()
        self.value = value

    def _headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.value}"}

    def get(self, path: str, data: dict[str, Any] | None = None):
        return self.client.get(path, data or {}, **self._headers())

    def post(self, path: str, body: Any = None, *, raw: bytes | str | None = None):
        return self._send("post", path, body, raw)

    def patch(self, path: str, body: Any = None, *, raw: bytes | str | None = None):
        return self._send("patch", path, body, raw)

    def put(self, path: str, body: Any = None, *, raw: bytes | str | None = None):
        return self._send("put", path, body, raw)

    def delete(self, path: str):
        return self.client.delete(path, **self._headers())

    def _send(self, method: str, path: str, body: Any, raw: bytes | str | None):
        send = getattr(self.client, method)
        if raw is not None:
            return send(path, raw, content_type="application/json", **self._headers())
        if body is None:  # no body at all, like `curl -X POST`
            return send(path, b"", content_type="application/json", **self._headers())
        return send(path, body, content_type="application/json", **self._headers())


def api_client_for(org_admin: OrgAdmin) -> ApiClient:
    _, value = key_for(org_admin)
    return ApiClient(value)
