"""Who may act on an org: one of its admins (console) or one of its API keys (REST API).

Services that admins and scripts share take ``actor`` as either; ``org_actor`` checks it may act on
``org`` and returns its audit identity. Another org's admin or key gets ``NotFound``, like an
object of another org.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from orgwarden.accounts.models import Account
from orgwarden.audit.services import Actor
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import OrgAdmin, Organization


@runtime_checkable
class ApiKeyLike(Protocol):
    org_id: int
    key_id: str
    name: str


OrgActor = Account | ApiKeyLike


def org_actor(*, org: Organization, actor: OrgActor) -> Actor:
    """The audit actor for ``actor`` acting on ``org``; raises ``NotFound`` if it may not."""
    if isinstance(actor, Account):
        if not OrgAdmin.objects.filter(org=org, account=actor).exists():
            raise NotFound()
        return Actor.account(actor)
    if isinstance(actor, ApiKeyLike) and actor.org_id == org.pk:
        return Actor.api_key(actor.key_id, actor.name)
    raise NotFound()
