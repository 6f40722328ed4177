from __future__ import annotations

from django.db.models import QuerySet

from orgwarden.orgs.models import Organization
from orgwarden.tokens.models import OrgApiKey


def api_keys_of(*, org: Organization, include_revoked: bool = False) -> QuerySet[OrgApiKey]:
    keys = OrgApiKey.objects.filter(org=org).select_related("created_by").order_by("-created_at", "-id")
    return keys if include_revoked else keys.filter(revoked_at__isnull=True)
