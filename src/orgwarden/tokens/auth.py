"""Bearer authentication of the REST API with org API keys, with per-key rate limits.

On success the view finds ``request.api_key`` and ``request.org`` (the key's org: every query an
endpoint makes is scoped to it). ``api.middleware.RateLimitHeadersMiddleware`` copies
``request.ratelimit`` into ``X-RateLimit-*`` headers on every answer, 429s included.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from orgwarden.tokens import ratelimit
from orgwarden.tokens.models import OrgApiKey
from orgwarden.tokens.services import api_key_authenticate


class RateLimited(Exception):
    def __init__(self, standing: ratelimit.RateLimit) -> None:
        super().__init__("rate limit exceeded")
        self.standing = standing


class OrgApiKeyAuth(HttpBearer):
    openapi_description = "An org API key (Settings → API keys), as `Authorization: Bearer owk_…`."

    def authenticate(self, request: HttpRequest, token: str) -> OrgApiKey | None:
        key = api_key_authenticate(value=token)
        if key is None:
            return None
        standing = ratelimit.hit(key_id=key.key_id)
        request.ratelimit = standing
        if standing.exceeded:
            raise RateLimited(standing)
        request.api_key = key
        request.org = key.org
        return key
