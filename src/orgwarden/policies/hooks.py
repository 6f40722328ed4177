"""Extension points of the policies domain for the apps above it (registered in ``AppConfig.ready()``).

``enforcement_pause``: what a policy asks for is configuration; whether the org's security features
are *enforced* right now can depend on an app above this one. The billing app registers the
subscription check: enforced single sign-on, mandatory two-step verification and SCIM provisioning
are enforced only while the org's security subscription is in its trial or paid. Each registered
function returns why enforcement is paused for ``org`` (a clause such as "the security subscription
of Acme lapsed on 3 Dec 2026"), or ``None``. With nothing registered, everything is enforced.
``policies.selectors.enforcement_paused`` is the one place that asks.

``enforcement_pause_relations``: the relations of ``Organization`` (reverse one-to-one accessor
names, such as ``subscription``) that the registered checks read. A hot path that reads the org in
the same statement as these hands them over with ``pause_relations_attach`` and the checks answer
without a query of their own (``pause_relation_loaded``); otherwise a check queries. Django's own
relation cache is not used for this: creating a related row fills it, and a later change through
another instance would leave it stale, whereas an attached value is read in the same statement as
the org, for one request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orgwarden.orgs.models import Organization

enforcement_pause: list[Callable[[Organization], str | None]] = []
enforcement_pause_relations: list[str] = []

_ATTACHED = "_pause_relations"
_MISSING = object()


def pause_relations_attach(org: Organization, values: dict[str, object]) -> None:
    """Hand the checks the ``enforcement_pause_relations`` of ``org`` read with it (None: no row)."""
    org.__dict__[_ATTACHED] = dict(values)


def pause_relation_loaded(org: Organization, name: str) -> tuple[bool, object]:
    """``(True, value)`` when relation ``name`` was attached to ``org``, else ``(False, None)``."""
    value = org.__dict__.get(_ATTACHED, {}).get(name, _MISSING)
    return (False, None) if value is _MISSING else (True, value)


def pause_reason(org: Organization) -> str | None:
    """The first registered reason why ``org``'s security features are paused, or ``None``."""
    for check in enforcement_pause:
        reason = check(org)
        if reason:
            return reason
    return None
