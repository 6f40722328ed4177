"""Reads of the orgs domain, one module per feature; org-scoped ones take ``org=``.

``orgs`` (organizations and admins) is re-exported here; other features are imported by module:
``from orgwarden.orgs.selectors import domains``.
"""

from orgwarden.orgs.selectors.orgs import (
    admin_account_ids,
    admins_of,
    audit_people_ids,
    invitation_by_token,
    invitations_pending,
    invitations_pending_for,
    is_org_admin,
    org_for_admin,
    orgs_administered_by,
)

__all__ = [
    "admin_account_ids",
    "admins_of",
    "audit_people_ids",
    "invitation_by_token",
    "invitations_pending",
    "invitations_pending_for",
    "is_org_admin",
    "org_for_admin",
    "orgs_administered_by",
]
