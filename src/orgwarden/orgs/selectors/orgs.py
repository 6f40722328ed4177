"""Reads of the orgs domain. Everything org-scoped takes ``org=`` or checks the caller's role."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from orgwarden.accounts.ids import secret_hash
from orgwarden.accounts.models import Account
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import AdminInvitation, OrgAdmin, Organization


def orgs_administered_by(*, account: Account) -> QuerySet[Organization]:
    return Organization.objects.filter(admins__account=account).order_by("name", "id")


def org_for_admin(*, account: Account, org_id: str) -> Organization:
    """The org ``org_id`` if ``account`` administers it; ``NotFound`` otherwise (never 403)."""
    if "\x00" in org_id:  # from a URL; PostgreSQL refuses NUL in a query (a 500, not a 404)
        raise NotFound()
    org = Organization.objects.filter(org_id=org_id, admins__account=account).first()
    if org is None:
        raise NotFound()
    return org


def is_org_admin(*, org: Organization, account: Account) -> bool:
    return OrgAdmin.objects.filter(org=org, account=account).exists()


def admins_of(*, org: Organization) -> QuerySet[OrgAdmin]:
    return OrgAdmin.objects.filter(org=org).select_related("account").order_by("account__display_name", "id")


def invitations_pending(*, org: Organization) -> QuerySet[AdminInvitation]:
    return AdminInvitation.objects.filter(
        org=org, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at")


def invitations_pending_for(*, account: Account) -> QuerySet[AdminInvitation]:
    """The pending admin invitations sent to ``account``'s email, newest first — none until that
    email is verified: only then does the account prove it reads the mailbox they were sent to."""
    if not account.email_verified:
        return AdminInvitation.objects.none()
    return (
        AdminInvitation.objects.filter(
            email=account.email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("org", "invited_by")
        .order_by("-created_at")
    )


def invitation_by_token(*, token: str) -> AdminInvitation:
    invitation = (
        AdminInvitation.objects.select_related("org", "invited_by")
        .filter(token_hash=secret_hash(token))
        .first()
    )
    if invitation is None or not invitation.is_pending:
        raise NotFound()
    return invitation


def admin_account_ids(*, org: Organization) -> QuerySet[str]:
    """The account ids of the org's admins, as a flat queryset (usable as a SQL subquery)."""
    return OrgAdmin.objects.filter(org=org).values_list("account__account_id", flat=True)


def audit_people_ids(*, org: Organization) -> QuerySet[str]:
    """Whose account-level events (sign-ins, 2SV …) the org's audit log shows beyond its own: its
    admins'. Its managed accounts' events already carry the org's id (``claims.managing_org_of_event``
    resolves it when they are recorded), so this subquery stays as small as the list of admins."""
    return admin_account_ids(org=org)


def org_overview(*, org: Organization) -> dict[str, int]:
    """The numbers on the org's home page, one query each (``identity_providers`` and
    ``people_with_access``, 1 if anyone has access to one of its sites, feed its "Get started"
    steps)."""
    from orgwarden.orgs.models import Directory, Domain, GroupMember, OrgUser, ProductSite
    from orgwarden.orgs.selectors.access import external_user_count

    users = OrgUser.objects.filter(org=org)
    return {
        "verified_domains": Domain.objects.filter(org=org, status=Domain.Status.VERIFIED).count(),
        "managed_accounts": users.filter(is_managed=True).count(),
        "external_users": external_user_count(org=org),
        "product_sites": ProductSite.objects.filter(org=org).count(),
        "identity_providers": Directory.objects.filter(org=org, kind=Directory.Kind.IDP).count(),
        "people_with_access": int(
            GroupMember.objects.filter(group__org=org, group__site_access__isnull=False).exists()
        ),
    }
