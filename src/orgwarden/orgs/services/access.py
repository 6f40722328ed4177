"""Product sites, groups, product access, and inviting people with access — every write of them.

Map of the module:

- product sites: ``site_add``, ``site_update``, ``site_remove``, ``site_default_groups_set``;
- groups: ``group_create``, ``group_update``, ``group_delete``, ``group_members_add``,
  ``group_member_remove`` (groups synced from an identity provider are read-only: ``GroupSynced``);
- access: ``access_grant``, ``access_revoke`` (access is always granted to a group, never to a person);
- people: ``user_invite`` (email + product sites → account, org user, default groups, an email),
  ``users_invite`` (up to 50 at once, all or nothing) and
  ``user_remove`` (an external user loses every group and its user row); ``invitation_email_queue``
  is the invitation email, which ``invitations.user_invitation_resend`` sends again. Every
  invitation email is counted by ``invitation_limits.invitation_emails_admit`` (3 an hour per
  address, with resends; inviting someone again counts against the admin or key too, inviting
  someone new to the org against the org: all its admins and keys together).

Every function takes ``actor`` as an admin ``Account`` or an org API key, checks it with
``org_actor``, treats another org's ids as unknown (``NotFound``), refuses bad values with
``InvalidInput`` whose message an admin can act on, and records its audit event(s) in its own
transaction. Writes that an invitation causes on the way (a default group created, access granted,
group memberships) record their own events too, so the audit log explains every row.

Default groups (the issue is silent, so decided here): a site's default groups are the groups that
people invited to the site join. A default group must already have access to the site and must be
local; revoking a group's access also drops it from the site's defaults. Inviting someone to a site
without a default group creates the group "<site name> users" with user access and makes it the
default. Inviting with role "admin" also adds the person to the site's admin group: the oldest
local group with admin access, else a new "<site name> admins" group.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.urls import reverse

from orgwarden.accounts import emails
from orgwarden.accounts import services as account_services
from orgwarden.accounts.exceptions import AccountsError, EmailTaken
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.accounts.selectors import invited_not_signed_in
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs.exceptions import GroupSynced, InvalidInput, NotFound
from orgwarden.orgs.models import (
    Directory,
    Group,
    GroupMember,
    Organization,
    OrgUser,
    ProductSite,
    SiteAccess,
)
from orgwarden.orgs.products import PRODUCTS
from orgwarden.orgs.selectors import domains as domain_selectors
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.orgs.services.claims import org_user_ensure
from orgwarden.orgs.services.invitation_limits import invitation_emails_admit

MAX_MEMBERS_PER_CALL = 500
MAX_INVITES_PER_CALL = 50
MAX_SITE_URL = 300
MAX_GROUP_NAME = 255
MAX_GROUP_DESCRIPTION = 500
MAX_SITE_NAME = 100
ROLES = tuple(SiteAccess.Role.values)
_LOCAL_HOSTS = {"localhost"}


# --- targets and lookups ------------------------------------------------------------------------------


def site_target(site: ProductSite) -> Target:
    return Target("site", site.site_id, site.name)


def sites_detail(sites: list[ProductSite]) -> list[dict[str, str]]:
    """The product sites an invitation named, as its audit event's details list them."""
    return [{"id": s.site_id, "name": s.name, "product": s.product} for s in sites]


def group_target(group: Group) -> Target:
    return Target("group", group.group_id, group.name)


def _clean_id(value: str) -> str:
    # Ids come from URLs and form fields; PostgreSQL refuses NUL in a query (a 500, not a 404).
    if not isinstance(value, str) or "\x00" in value or len(value) > 64:
        raise NotFound()
    return value


def _site(org: Organization, site_id: str, *, lock: bool = False) -> ProductSite:
    rows = ProductSite.objects.filter(org=org, site_id=_clean_id(site_id))
    site = (rows.select_for_update() if lock else rows).first()
    if site is None:
        raise NotFound()
    return site


def _group(org: Organization, group_id: str, *, lock: bool = False) -> Group:
    rows = Group.objects.filter(org=org, group_id=_clean_id(group_id)).select_related("directory")
    group = (rows.select_for_update(of=("self",)) if lock else rows).first()
    if group is None:
        raise NotFound()
    return group


def _is_synced(group: Group) -> bool:
    return group.directory_id is not None and group.directory.kind == Directory.Kind.IDP


def _require_local(group: Group) -> None:
    if _is_synced(group):
        raise GroupSynced(
            f"The group {group.name} is synced from {group.directory.name}. "
            "Change it in your identity provider; it is read-only here."
        )


# --- value checks -------------------------------------------------------------------------------------


def _clean_site_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= MAX_SITE_NAME:
        raise InvalidInput(f"Enter a site name of 1 to {MAX_SITE_NAME} characters.")
    return name


def _is_local_host(host: str) -> bool:
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def clean_site_url(url: str) -> str:
    """The canonical form of a product site's URL; raises ``InvalidInput``.

    HTTPS only, except plain HTTP on a loopback host (a site under development). Scheme and host
    are lower-cased and a trailing slash is dropped, so one site cannot be registered twice under
    two spellings of its URL (the URL is unique per org).
    """
    url = (url or "").strip()
    message = f"Enter the site's https:// address, up to {MAX_SITE_URL} characters."
    if not url or len(url) > MAX_SITE_URL or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidInput(message)
    try:
        URLValidator(schemes=["http", "https"])(url)
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except (ValidationError, ValueError) as exc:
        raise InvalidInput(message) from exc
    scheme = parts.scheme.lower()
    if scheme == "http" and not _is_local_host(host):
        raise InvalidInput("Use https://; plain http:// is allowed only for localhost.")
    if parts.username or parts.password:
        raise InvalidInput("The site's address must not contain a user name or password.")
    path = parts.path.rstrip("/")
    canonical = urlunsplit((scheme, parts.netloc.lower(), path, parts.query, ""))
    if len(canonical) > MAX_SITE_URL:
        raise InvalidInput(message)
    return canonical


def _clean_product(product: str) -> str:
    if product not in PRODUCTS:
        raise InvalidInput("Choose one of the products in the list.")
    return product


def _clean_group_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= MAX_GROUP_NAME:
        raise InvalidInput(f"Enter a group name of 1 to {MAX_GROUP_NAME} characters.")
    return name


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > MAX_GROUP_DESCRIPTION:
        raise InvalidInput(f"Enter a description of at most {MAX_GROUP_DESCRIPTION} characters.")
    return description


def _clean_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput("Choose the role user or admin.")
    return role


def _url_taken(org: Organization, url: str, *, exclude_pk: int | None = None) -> bool:
    rows = ProductSite.objects.filter(org=org, url=url)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return rows.exists()


def _name_taken(org: Organization, name: str, *, exclude_pk: int | None = None) -> bool:
    rows = Group.objects.annotate(lower_name=Lower("name")).filter(org=org, lower_name=name.lower())
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return rows.exists()


def save_unique(obj, message: str, **kwargs) -> None:
    """Save ``obj``; a unique-constraint race lost to a concurrent request becomes ``InvalidInput``."""
    try:
        with transaction.atomic():
            obj.save(**kwargs)
    except IntegrityError as exc:
        raise InvalidInput(message) from exc


# --- product sites ------------------------------------------------------------------------------------


@transaction.atomic
def site_add(*, org: Organization, actor: OrgActor, product: str, name: str, url: str) -> ProductSite:
    """Register a product site of ``org`` and return it.

    Raises ``InvalidInput`` (unknown product, bad name, bad or already registered URL) or
    ``NotFound`` (``actor`` may not act on ``org``).
    """
    who = org_actor(org=org, actor=actor)
    product, name, url = _clean_product(product), _clean_site_name(name), clean_site_url(url)
    taken = f"A product site with the address {url} is already registered."
    if _url_taken(org, url):
        raise InvalidInput(taken)
    site = ProductSite(org=org, product=product, name=name, url=url)
    save_unique(site, taken)
    event_record(
        action="org:site:added",
        actor=who,
        org_id=org.org_id,
        targets=[site_target(site)],
        details={"product": product, "url": url, "name": name},
    )
    return site


@transaction.atomic
def site_update(
    *, org: Organization, actor: OrgActor, site_id: str, name: str | None = None, url: str | None = None
) -> ProductSite:
    """Rename a site and/or change its URL; no event when nothing changes.

    Raises ``NotFound`` or ``InvalidInput``.
    """
    who = org_actor(org=org, actor=actor)
    site = _site(org, site_id, lock=True)
    changes: dict[str, dict[str, str]] = {}
    if name is not None:
        name = _clean_site_name(name)
        if name != site.name:
            changes["name"] = {"from": site.name, "to": name}
            site.name = name
    if url is not None:
        url = clean_site_url(url)
        if url != site.url:
            if _url_taken(org, url, exclude_pk=site.pk):
                raise InvalidInput(f"A product site with the address {url} is already registered.")
            changes["url"] = {"from": site.url, "to": url}
            site.url = url
    if changes:
        save_unique(
            site, "A product site with this address is already registered.", update_fields=["name", "url"]
        )
        event_record(
            action="org:site:updated",
            actor=who,
            org_id=org.org_id,
            targets=[site_target(site)],
            details={"product": site.product, "url": site.url, "changes": changes},
        )
    return site


@transaction.atomic
def site_remove(*, org: Organization, actor: OrgActor, site_id: str) -> None:
    """Remove a site with its access grants (groups and their members stay). Raises ``NotFound``."""
    who = org_actor(org=org, actor=actor)
    site = _site(org, site_id, lock=True)
    groups = sorted(SiteAccess.objects.filter(site=site).values_list("group__name", flat=True))
    target = site_target(site)
    details = {"product": site.product, "url": site.url, "name": site.name, "groups_with_access": groups}
    site.delete()
    event_record(action="org:site:removed", actor=who, org_id=org.org_id, targets=[target], details=details)


@transaction.atomic
def site_default_groups_set(
    *, org: Organization, actor: OrgActor, site_id: str, group_ids: list[str]
) -> None:
    """Replace the site's default groups (the groups invited people join).

    Each group must be a local group of ``org`` with access to the site. Raises ``NotFound``
    (unknown site or group, or another org's), ``GroupSynced`` or ``InvalidInput``.
    """
    who = org_actor(org=org, actor=actor)
    site = _site(org, site_id, lock=True)
    groups = [_group(org, group_id) for group_id in dict.fromkeys(group_ids)]
    with_access = set(SiteAccess.objects.filter(site=site).values_list("group_id", flat=True))
    for group in groups:
        _require_local(group)
        if group.pk not in with_access:
            raise InvalidInput(f"Grant {group.name} access to {site.name} before making it a default group.")
    current = list(site.default_groups.all())
    if {g.pk for g in current} == {g.pk for g in groups}:
        return
    before, after = sorted(g.name for g in current), sorted(g.name for g in groups)
    site.default_groups.set(groups)
    event_record(
        action="org:site:updated",
        actor=who,
        org_id=org.org_id,
        targets=[site_target(site), *(group_target(g) for g in groups)],
        details={
            "product": site.product,
            "url": site.url,
            "changes": {"default_groups": {"from": before, "to": after}},
        },
    )


# --- groups -------------------------------------------------------------------------------------------


def _group_create(*, org: Organization, who: Actor, name: str, description: str = "") -> Group:
    name, description = _clean_group_name(name), _clean_description(description)
    taken = f"A group named {name} exists already."
    if _name_taken(org, name):
        raise InvalidInput(taken)
    group = Group(org=org, name=name, description=description)
    save_unique(group, taken)
    event_record(
        action="org:group:created",
        actor=who,
        org_id=org.org_id,
        targets=[group_target(group)],
        details={"name": name, "description": description},
    )
    return group


@transaction.atomic
def group_create(*, org: Organization, actor: OrgActor, name: str, description: str = "") -> Group:
    """Create a local group. Raises ``InvalidInput`` (bad name, or the name exists in any case)."""
    return _group_create(org=org, who=org_actor(org=org, actor=actor), name=name, description=description)


@transaction.atomic
def group_update(
    *,
    org: Organization,
    actor: OrgActor,
    group_id: str,
    name: str | None = None,
    description: str | None = None,
) -> Group:
    """Rename a local group and/or change its description; no event when nothing changes.

    Raises ``NotFound``, ``GroupSynced`` or ``InvalidInput``.
    """
    who = org_actor(org=org, actor=actor)
    group = _group(org, group_id, lock=True)
    _require_local(group)
    changes: dict[str, dict[str, str]] = {}
    if name is not None:
        name = _clean_group_name(name)
        if name != group.name:
            if _name_taken(org, name, exclude_pk=group.pk):
                raise InvalidInput(f"A group named {name} exists already.")
            changes["name"] = {"from": group.name, "to": name}
            group.name = name
    if description is not None:
        description = _clean_description(description)
        if description != group.description:
            changes["description"] = {"from": group.description, "to": description}
            group.description = description
    if changes:
        save_unique(
            group, f"A group named {group.name} exists already.", update_fields=["name", "description"]
        )
        event_record(
            action="org:group:updated",
            actor=who,
            org_id=org.org_id,
            targets=[group_target(group)],
            details={"changes": changes},
        )
    return group


@transaction.atomic
def group_delete(*, org: Organization, actor: OrgActor, group_id: str) -> None:
    """Delete a local group with its memberships and access grants. Raises ``NotFound`` or ``GroupSynced``.

    Its members lose the product access it granted; their user rows stay.
    """
    who = org_actor(org=org, actor=actor)
    group = _group(org, group_id, lock=True)
    _require_local(group)
    target = group_target(group)
    details = {
        "name": group.name,
        "members": GroupMember.objects.filter(group=group).count(),
        "sites": sorted(SiteAccess.objects.filter(group=group).values_list("site__name", flat=True)),
    }
    group.delete()
    event_record(action="org:group:deleted", actor=who, org_id=org.org_id, targets=[target], details=details)


def _members_add(
    *, org: Organization, who: Actor, group: Group, accounts: Iterable[Account], via: str
) -> int:
    """Add ``accounts`` to ``group`` (those not in it yet), one event each; returns how many joined.

    The caller holds ``group``'s row lock, so no one adds a member between the check and the insert.
    """
    accounts = list(accounts)
    present = set(
        GroupMember.objects.filter(group=group, account__in=accounts).values_list("account_id", flat=True)
    )
    added = 0
    for account in accounts:
        if account.pk in present:
            continue
        GroupMember.objects.create(group=group, account=account)
        present.add(account.pk)
        added += 1
        event_record(
            action="org:group:member_added",
            actor=who,
            org_id=org.org_id,
            targets=[group_target(group), Target.account(account)],
            details={"via": via},
        )
    return added


@transaction.atomic
def group_members_add(*, org: Organization, actor: OrgActor, group_id: str, account_ids: list[str]) -> int:
    """Add users of ``org`` to a local group; returns how many joined (members already in it are skipped).

    At most 500 accounts per call, each a user of ``org`` (managed or external; invite others
    with ``user_invite``). Raises ``NotFound``, ``GroupSynced`` or ``InvalidInput``.
    """
    who = org_actor(org=org, actor=actor)
    group = _group(org, group_id, lock=True)
    _require_local(group)
    wanted = list(dict.fromkeys(account_ids))
    if not wanted:
        raise InvalidInput("Choose at least one person to add.")
    if len(wanted) > MAX_MEMBERS_PER_CALL:
        raise InvalidInput(f"Add at most {MAX_MEMBERS_PER_CALL} people at once.")
    if any(not isinstance(a, str) or "\x00" in a for a in wanted):
        raise InvalidInput("Only users of this organization can join its groups.")
    users = {
        u.account.account_id: u.account
        for u in OrgUser.objects.filter(org=org, account__account_id__in=wanted).select_related("account")
    }
    missing = [a for a in wanted if a not in users]
    if missing:
        # Unknown ids and other orgs' people read the same: nothing here confirms an account exists.
        raise InvalidInput(
            f"{len(missing)} of these people are not users of this organization. "
            "Invite them to a product site first."
        )
    return _members_add(org=org, who=who, group=group, accounts=[users[a] for a in wanted], via="admin")


@transaction.atomic
def group_member_remove(*, org: Organization, actor: OrgActor, group_id: str, account_id: str) -> None:
    """Remove one member from a local group. Raises ``NotFound`` (not a member) or ``GroupSynced``."""
    who = org_actor(org=org, actor=actor)
    group = _group(org, group_id, lock=True)
    _require_local(group)
    member = (
        GroupMember.objects.filter(group=group, account__account_id=_clean_id(account_id))
        .select_related("account")
        .first()
    )
    if member is None:
        raise NotFound()
    member.delete()
    event_record(
        action="org:group:member_removed",
        actor=who,
        org_id=org.org_id,
        targets=[group_target(group), Target.account(member.account)],
    )


# --- product access -----------------------------------------------------------------------------------


def _access_grant(*, org: Organization, who: Actor, site: ProductSite, group: Group, role: str) -> SiteAccess:
    role = _clean_role(role)
    access = SiteAccess.objects.select_for_update().filter(site=site, group=group).first()
    previous = access.role if access else None
    if access is not None and previous == role:
        return access
    if access is None:
        access = SiteAccess.objects.create(site=site, group=group, role=role)
    else:
        access.role = role
        access.save(update_fields=["role"])
    event_record(
        action="org:access:granted",
        actor=who,
        org_id=org.org_id,
        targets=[site_target(site), group_target(group)],
        details={"role": role, "previous_role": previous, "product": site.product},
    )
    return access


@transaction.atomic
def access_grant(*, org: Organization, actor: OrgActor, site_id: str, group_id: str, role: str) -> SiteAccess:
    """Give a group ``role`` ("user" or "admin") on a site; changing an existing grant's role is an update.

    Granting the role a group already has changes nothing and records nothing. Synced groups may
    be granted access (that is what they are for). Raises ``NotFound`` (either id unknown or of
    another org) or ``InvalidInput`` (unknown role).
    """
    who = org_actor(org=org, actor=actor)
    site, group = _site(org, site_id, lock=True), _group(org, group_id)
    return _access_grant(org=org, who=who, site=site, group=group, role=role)


@transaction.atomic
def access_revoke(*, org: Organization, actor: OrgActor, site_id: str, group_id: str) -> None:
    """Take a group's access to a site away (and drop it from the site's default groups).

    Raises ``NotFound`` when the group has no access to the site.
    """
    who = org_actor(org=org, actor=actor)
    site, group = _site(org, site_id, lock=True), _group(org, group_id)
    access = SiteAccess.objects.filter(site=site, group=group).first()
    if access is None:
        raise NotFound()
    was_default = site.default_groups.filter(pk=group.pk).exists()
    site.default_groups.remove(group)
    access.delete()
    event_record(
        action="org:access:revoked",
        actor=who,
        org_id=org.org_id,
        targets=[site_target(site), group_target(group)],
        details={"role": access.role, "product": site.product, "was_default_group": was_default},
    )


# --- inviting people, removing external users ---------------------------------------------------------


def _unique_group_name(org: Organization, wanted: str) -> str:
    wanted = wanted[:MAX_GROUP_NAME]
    name, n = wanted, 2
    while _name_taken(org, name):
        suffix = f" ({n})"
        name, n = wanted[: MAX_GROUP_NAME - len(suffix)] + suffix, n + 1
    return name


def _default_groups(*, org: Organization, who: Actor, site: ProductSite) -> list[Group]:
    """The site's default groups; creates "<site name> users" with user access when it has none."""
    groups = list(site.default_groups.select_related("directory").order_by("name"))
    if groups:
        return groups
    group = _group_create(org=org, who=who, name=_unique_group_name(org, f"{site.name} users"))
    _access_grant(org=org, who=who, site=site, group=group, role=SiteAccess.Role.USER)
    site.default_groups.add(group)
    event_record(
        action="org:site:updated",
        actor=who,
        org_id=org.org_id,
        targets=[site_target(site), group_target(group)],
        details={
            "product": site.product,
            "url": site.url,
            "changes": {"default_groups": {"from": [], "to": [group.name]}},
        },
    )
    return [group]


def _admin_group(*, org: Organization, who: Actor, site: ProductSite) -> Group:
    """The site's admin group: the oldest local group with admin access, else a new "<site> admins"."""
    first = (
        SiteAccess.objects.filter(site=site, role=SiteAccess.Role.ADMIN)
        .exclude(group__directory__kind=Directory.Kind.IDP)
        .select_related("group")
        .order_by("created_at", "pk")
        .first()
    )
    if first is not None:
        return first.group
    group = _group_create(org=org, who=who, name=_unique_group_name(org, f"{site.name} admins"))
    _access_grant(org=org, who=who, site=site, group=group, role=SiteAccess.Role.ADMIN)
    return group


@transaction.atomic
def user_invite(
    *, org: Organization, actor: OrgActor, email: str, site_ids: list[str], role: str = "user"
) -> Account:
    """Invite ``email`` to product sites of ``org``; returns the (new or existing) account.

    Creates the account when none has this email (no password; unverified until the person uses the
    invitation's one-time sign-in link, which proves the address — so no separate verification
    email), makes it a user of ``org`` (an
    external user unless ``org`` manages it; an account managed by another org is welcome), adds it
    to each site's default groups — and with role "admin" to each site's admin group — and, after
    commit, emails either a one-time sign-in link (new account: it leads to setting a password) or
    a note that access was granted (existing account). An existing account whose email was never
    verified is treated as a new one: ``account_unverified_take_over`` clears its password,
    two-step verification, sessions and API tokens (they may be whoever signed up with the address
    first), and the email carries the one-time sign-in link.

    Someone still "Invited" (sent a one-time link, not signed in since) who is invited again, and
    has no password, gets a new one-time link as a resend does: their earlier links stop working
    (``signin_link_create(supersede=True)``), so only the newest email signs anyone in.

    The email is counted by ``invitation_emails_admit`` (an address that had 3 in the last hour,
    a sender past its limit of emails sent again, or ``org`` past its limit of first invitations,
    is refused and nothing changes).

    Raises ``NotFound`` (unknown site), ``InvalidInput`` (bad email, no site, unknown role,
    a closed account) or ``InvitationThrottled``.
    """
    who = org_actor(org=org, actor=actor)
    account, again = _user_invite(org=org, who=who, email=email, site_ids=site_ids, role=role)
    invitation_emails_admit(org=org, who=who, to=[account.email], again=int(again))
    return account


def _user_invite(
    *, org: Organization, who: Actor, email: str, site_ids: list[str], role: str
) -> tuple[Account, bool]:
    """``user_invite`` without counting its email: the account, and whether the email is sent
    again (the account was a user of ``org`` already)."""
    role = _clean_role(role)
    email = normalize_email(email or "")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput(f"{email or 'This'} is not a valid email address.") from exc
    if len(email) > 254:
        raise InvalidInput("An email address has at most 254 characters.")
    if not site_ids:
        raise InvalidInput("Choose at least one product site.")
    sites = [_site(org, site_id) for site_id in dict.fromkeys(site_ids)]
    # One invitation at a time per site, the sites locked in one order (no deadlock): a second one
    # sees the default group the first made and the members it added.
    list(ProductSite.objects.select_for_update().filter(pk__in=[site.pk for site in sites]).order_by("pk"))

    account = Account.objects.filter(email=email).first()
    new_account = account is None
    if account is None:
        try:
            account, new_account = account_services.account_create_or_found(
                email=email,
                display_name=email.split("@")[0][:150],
                password=None,
                actor=who,
                org_id=org.org_id,
                via="invitation",
                send_verification_email=False,  # the invitation's sign-in link verifies the address
            )
        except EmailTaken:  # taken by a sign-up meanwhile, and gone again
            raise InvalidInput(f"The account {email} is being changed right now; try again.") from None
        except AccountsError as exc:
            raise InvalidInput(exc.message) from exc
    if account.status == Account.Status.CLOSED:
        raise InvalidInput(f"The account {email} is closed and cannot be invited.")
    again = not new_account and OrgUser.objects.filter(org=org, account=account).exists()
    was_invited = (
        not new_account and Account.objects.filter(pk=account.pk).filter(invited_not_signed_in()).exists()
    )
    # An existing account whose email was never verified may be a squatter's (someone signed up with
    # the address before the org invited it): on one of the org's verified domains — addresses the org
    # speaks for — its credentials are cleared and the invitation carries a one-time sign-in link, as
    # for a new account, so only the address's owner gets in. Elsewhere (a contractor's gmail.com)
    # the org may not wipe what the account's holder set; product sign-in refuses the account until
    # its email is verified (``oidc.checks``), which only the mailbox's owner can do, and a
    # password reset from that mailbox clears what a squatter set.
    secured = (
        not new_account
        and not account.email_verified
        and domain_selectors.verified_domain(org=org, name=account.email_domain) is not None
        and account_services.account_unverified_take_over(
            account=account, actor=who, org_id=org.org_id, via="invitation"
        )
    )
    org_user_ensure(org=org, account=account)

    groups: dict[int, Group] = {}
    for site in sites:
        for group in _default_groups(org=org, who=who, site=site):
            groups[group.pk] = group
        if role == SiteAccess.Role.ADMIN:
            group = _admin_group(org=org, who=who, site=site)
            groups[group.pk] = group
    # Locked, in one order, as group_members_add locks its group: whoever adds the person second
    # finds them a member and skips them.
    for group in Group.objects.select_for_update(of=("self",)).filter(pk__in=groups).order_by("pk"):
        _members_add(org=org, who=who, group=group, accounts=[account], via="invitation")

    event_record(
        action="org:user:invited",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(account), *(site_target(s) for s in sites)],
        details={
            "sites": sites_detail(sites),
            "role": role,
            "groups": sorted(g.name for g in groups.values()),
            "new_account": new_account,
            "unverified_account_secured": secured,
        },
    )
    # A new link for whoever has no way in without one; for someone invited before it replaces
    # their earlier links (an older email, forwarded or read by someone else, signs nobody in).
    if new_account or secured or (was_invited and not account.has_usable_password()):
        url = account_services.signin_link_create(
            account=account, actor=who, org_id=org.org_id, supersede=not new_account
        )
    else:
        url = ""
    invitation_email_queue(
        org=org,
        who=who,
        to=email,
        sites=sites,
        signin_url=url,
        new_account=new_account,
        # Invited before: the org's own invitation made the account, nobody else's sign-up.
        secured=secured and not was_invited,
        replaces=was_invited,
    )
    return account, again


def invitation_email_queue(
    *,
    org: Organization,
    who: Actor,
    to: str,
    sites: list[ProductSite],
    signin_url: str,
    new_account: bool = False,
    secured: bool = False,
    resent: bool = False,
    replaces: bool = False,
) -> None:
    """Queue the invitation email (after commit): ``sites`` and, with ``signin_url``, a one-time
    sign-in link to choose a password; without it, the sign-in page for an existing account.
    ``resent``: the same invitation sent again (``invitations.user_invitation_resend``);
    ``replaces``: an invitation of someone still invited, whose earlier links the new one voids."""
    if signin_url:
        url, hours = signin_url, int(account_services.SIGNIN_LINK_LIFETIME.total_seconds() // 3600)
    else:
        url, hours = emails.absolute_url(reverse(settings.LOGIN_URL)), None
    context = {
        "org_name": org.name,
        "inviter": who.name or org.name,
        "sites": [{"name": s.name, "url": s.url, "product": PRODUCTS[s.product].name} for s in sites],
        "new_account": new_account,
        "secured": secured,
        "signin_link": bool(signin_url),
        "resent": resent,
        "replaces": replaces and bool(signin_url),
        "url": url,
        "hours": hours,
    }
    subject = f"You have access to {', '.join(s.name for s in sites)} at {org.name}"
    emails.send_after_commit(
        to=to, subject=subject, template="orgs/email/user_invitation.txt", context=context
    )


@transaction.atomic
def users_invite(
    *, org: Organization, actor: OrgActor, emails: list[str], site_ids: list[str], role: str = "user"
) -> list[Account]:
    """Invite several people at once (at most 50), all or nothing: ``user_invite`` for each.

    Raises what ``user_invite`` raises, for the first email that fails; then nobody is invited.
    The emails are counted together, after everyone's invitation passed: one address that had too
    many, too many sent again by ``actor``, or too many first invitations in ``org`` refuses the
    whole invitation (``InvitationThrottled`` names the addresses or the limit) — nobody is
    invited, as for any other refusal.
    """
    who = org_actor(org=org, actor=actor)
    wanted = list(dict.fromkeys(normalize_email(e or "") for e in emails))
    if not wanted:
        raise InvalidInput("Enter at least one email address.")
    if len(wanted) > MAX_INVITES_PER_CALL:
        raise InvalidInput(f"Invite at most {MAX_INVITES_PER_CALL} people at once.")
    done = [_user_invite(org=org, who=who, email=e, site_ids=site_ids, role=role) for e in wanted]
    invitation_emails_admit(
        org=org,
        who=who,
        to=[account.email for account, _ in done],
        again=sum(again for _, again in done),
    )
    return [account for account, _ in done]


@transaction.atomic
def user_remove(*, org: Organization, actor: OrgActor, account_id: str) -> None:
    """Take every access an external user has in ``org`` away: its groups here, then its user row.

    A managed account is refused with ``InvalidInput`` (deactivate or release it instead); an
    account that is not a user of ``org`` is ``NotFound``.
    """
    who = org_actor(org=org, actor=actor)
    org_user = (
        OrgUser.objects.select_for_update(of=("self",))
        .select_related("account")
        .filter(org=org, account__account_id=_clean_id(account_id))
        .first()
    )
    if org_user is None:
        raise NotFound()
    if org_user.is_managed:
        raise InvalidInput(
            "This is a managed account of your organization: deactivate or release it instead."
        )
    account = org_user.account
    memberships = GroupMember.objects.filter(group__org=org, account=account)
    groups = sorted(memberships.values_list("group__name", flat=True))
    memberships.delete()
    org_user.delete()
    event_record(
        action="org:user:removed",
        actor=who,
        org_id=org.org_id,
        targets=[Target.account(account)],
        details={"groups": groups, "external": True},
    )
