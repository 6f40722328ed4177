"""Every write of the orgs domain, one module per feature.

``orgs`` (organizations and their admins) is re-exported here, so ``services.org_create`` works;
the other features are imported by module: ``from orgwarden.orgs.services import domains``.
"""

from orgwarden.orgs.services.orgs import (
    INVITATION_LIFETIME,
    admin_invite,
    admin_remove,
    installation_setup,
    invitation_accept,
    invitation_accept_as_invitee,
    invitation_revoke,
    org_create,
    org_rename,
    org_target,
)

__all__ = [
    "INVITATION_LIFETIME",
    "admin_invite",
    "admin_remove",
    "installation_setup",
    "invitation_accept",
    "invitation_accept_as_invitee",
    "invitation_revoke",
    "org_create",
    "org_rename",
    "org_target",
]
