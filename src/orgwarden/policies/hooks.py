"""Extension points of the policies domain for the apps above it (registered in ``AppConfig.ready()``).

``enforcement_pause``: what a policy asks for is configuration; whether the org's security features
are *enforced* right now can depend on an app above this one. The billing app registers the
subscription check: enforced single sign-on, mandatory two-step verification and SCIM provisioning
are enforced only while the org's security subscription is in its trial or paid. Each registered
function returns why enforcement is paused for ``org`` (a clause such as "the security subscription
of Acme lapsed on 3 Dec 2026"), or ``None``. With nothing registered, everything is enforced.
``policies.selectors.enforcement_paused`` is the one place that asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orgwarden.orgs.models import Organization

enforcement_pause: list[Callable[[Organization], str | None]] = []


def pause_reason(org: Organization) -> str | None:
    """The first registered reason why ``org``'s security features are paused, or ``None``."""
    for check in enforcement_pause:
        reason = check(org)
        if reason:
            return reason
    return None
