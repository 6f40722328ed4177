"""Reads of product sites, groups, product access and external users; each takes ``org=``.

An id of another org reads like an unknown id: ``NotFound``. Long lists page by keyset on the
email (``after=<last email of the page>``), so page 50 costs what page 1 costs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import connection
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Lower

from orgwarden.accounts.models import Account, normalize_email
from orgwarden.accounts.selectors import invited_not_signed_in
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import (
    Domain,
    Group,
    GroupMember,
    OrgAdmin,
    Organization,
    OrgUser,
    ProductSite,
    SiteAccess,
)
from orgwarden.orgs.products import PRODUCTS, Product

T = TypeVar("T")
MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[T]):
    """One page of a list sorted by a unique key (an email, a name); ``next_after`` is that key of the
    page's last item, for the next page, and None on the last page."""

    items: list[T]
    next_after: str | None


@dataclass(frozen=True, slots=True)
class ProductSites:
    """The sites of one product, with the catalogue entry that says what applies to them."""

    product: Product
    sites: list[ProductSite]


def in_any_group(groups, *, account_ref: str = "account") -> Exists:
    """The account in ``account_ref`` (an outer reference) is a member of one of ``groups`` (pks,
    or a query of them): for counts over a whole org, evaluated once per account.

    On SQLite, ``group_id + 0`` keeps the test from probing the (account, group) index once per
    group of the list: it seeks the account's few memberships once. PostgreSQL reads the list in
    one index scan (or a hash join) by itself, and the expression would only blur its estimates.
    """
    members = GroupMember.objects.filter(account=OuterRef(account_ref))
    if connection.vendor == "sqlite":
        return Exists(members.alias(group_pk=F("group_id") + 0).filter(group_pk__in=groups))
    return Exists(members.filter(group__in=groups))


def _count_per_group(rows: QuerySet, group_ref: str = "pk") -> Coalesce:
    """How many of ``rows`` (a model with a ``group`` key) belong to the group in ``group_ref`` (an
    outer reference), as a subquery of its own.

    Counted apart rather than as ``Count(..., distinct=True)`` over joins: joining a group's
    members and its grants in one aggregate multiplies them (50,000 members × 20 grants is a
    million rows to sort for one DISTINCT), and every other group of the list pays its share.
    Alone, a count reads the group's entries of one index (``COUNT(*)``, no table rows).
    """
    counted = rows.filter(group=OuterRef(group_ref)).order_by().values("group").annotate(n=Count("*"))
    return Coalesce(Subquery(counted.values("n"), output_field=IntegerField()), 0)


def _clean_id(value: str) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value) > 64:
        raise NotFound()
    return value


def _size(size: int) -> int:
    return max(1, min(int(size), MAX_PAGE))


# --- product sites ------------------------------------------------------------------------------------


def sites_of(*, org: Organization) -> QuerySet[ProductSite]:
    """The org's sites by product then name, with ``group_count`` (groups with access)."""
    return (
        ProductSite.objects.filter(org=org)
        .annotate(group_count=Count("access", distinct=True))
        .order_by("product", Lower("name"), "pk")
    )


def sites_by_product(*, org: Organization) -> list[ProductSites]:
    """The org's sites grouped by product, in catalogue order; products without sites are left out."""
    by_product: dict[str, list[ProductSite]] = defaultdict(list)
    for site in sites_of(org=org):
        by_product[site.product].append(site)
    return [ProductSites(product, by_product[key]) for key, product in PRODUCTS.items() if key in by_product]


def site(*, org: Organization, site_id: str) -> ProductSite:
    """The site ``site_id`` of ``org``; ``NotFound`` for an unknown id or another org's site."""
    found = ProductSite.objects.filter(org=org, site_id=_clean_id(site_id)).first()
    if found is None:
        raise NotFound()
    return found


def site_access(*, org: Organization, site: ProductSite) -> QuerySet[SiteAccess]:
    """The groups with access to ``site`` and their role, with ``member_count`` and ``is_default``."""
    defaults = ProductSite.default_groups.through.objects.filter(productsite=site, group=OuterRef("group"))
    return (
        SiteAccess.objects.filter(site=site, site__org=org)
        .select_related("group", "group__directory")
        .annotate(
            member_count=_count_per_group(GroupMember.objects.all(), "group"), is_default=Exists(defaults)
        )
        .order_by(Lower("group__name"), "pk")
    )


def site_grant(*, org: Organization, site: ProductSite, group_id: str) -> SiteAccess:
    """The grant of ``org``'s group ``group_id`` on ``site``, with ``is_default``; ``NotFound`` when
    the group has no access to it (never had, revoked already) or is not ``org``'s."""
    defaults = ProductSite.default_groups.through.objects.filter(productsite=site, group=OuterRef("group"))
    found = (
        SiteAccess.objects.filter(
            site=site, site__org=org, group__org=org, group__group_id=_clean_id(group_id)
        )
        .select_related("group", "group__directory")
        .annotate(is_default=Exists(defaults))
        .first()
    )
    if found is None:
        raise NotFound()
    return found


@dataclass(frozen=True, slots=True)
class RevokeImpact:
    """What revoking one group's access to a site takes away from its members.

    ``members``: the group's members. ``lose_access``: those of them no other group gives the site
    to — they lose it. ``lose_admin``: for an admin grant, those who keep the site through another
    group but are admins of it through this one only (0 for a user grant).
    """

    members: int
    lose_access: int
    lose_admin: int


def access_revoke_impact(*, org: Organization, grant: SiteAccess) -> RevokeImpact:
    """Count, exactly, whom revoking ``grant`` (one of ``org``'s, from ``site_grant``) takes the site
    or its admin role away from.

    Access to a site comes only through groups, so a member loses it when no other group with
    access to the site has them. One query: the group's memberships, each checked for a membership
    of the site's other granted groups (an index probe per member, as ``in_any_group`` does), so
    a 50,000-member group costs one pass over its members. Every member counts, deactivated ones
    too: they would get the site back from this group on reactivation.
    """
    others = SiteAccess.objects.filter(site=grant.site_id, site__org=org).exclude(group=grant.group_id)
    other_groups = others.values("group")
    counts = GroupMember.objects.filter(group=grant.group_id, group__org=org).aggregate(
        members=Count("*"),
        keep=Count("pk", filter=Q(in_any_group(other_groups))),
        keep_admin=Count(
            "pk", filter=Q(in_any_group(others.filter(role=SiteAccess.Role.ADMIN).values("group")))
        ),
    )
    lose_admin = counts["keep"] - counts["keep_admin"] if grant.role == SiteAccess.Role.ADMIN else 0
    return RevokeImpact(
        members=counts["members"], lose_access=counts["members"] - counts["keep"], lose_admin=lose_admin
    )


def site_remove_impact(*, org: Organization, site: ProductSite) -> int:
    """How many people removing ``site`` (one of ``org``'s) takes it away from: every member of a
    group with access to it, counted once however many of those groups they are in."""
    return (
        GroupMember.objects.filter(group__site_access__site=site, group__org=org)
        .values("account")
        .distinct()
        .count()
    )


# --- groups -------------------------------------------------------------------------------------------


def groups_of(*, org: Organization, q: str | None = None) -> QuerySet[Group]:
    """The org's groups by name, with ``member_count`` and ``site_count``; ``q`` searches names."""
    rows = Group.objects.filter(org=org)
    q = (q or "").strip()
    if q:
        rows = rows.filter(Q(name__icontains=q) | Q(description__icontains=q))
    return (
        rows.select_related("directory")
        .annotate(
            member_count=_count_per_group(GroupMember.objects.all()),
            site_count=_count_per_group(SiteAccess.objects.all()),
        )
        .order_by(Lower("name"), "pk")
    )


def groups_page(
    *, org: Organization, q: str | None = None, after: str | None = None, size: int = 50
) -> KeysetPage[Group]:
    """A page of ``groups_of`` by name (``after``: the previous page's ``next_after``, a lower-cased
    name as the database lowers it; names are unique in that form, in the org)."""
    rows = groups_of(org=org, q=q).annotate(name_key=Lower("name"))
    if after:
        rows = rows.filter(name_key__gt=after)
    size = _size(size)
    found = list(rows[: size + 1])
    page = found[:size]
    return KeysetPage(page, page[-1].name_key if len(found) > size else None)


def group_choices(*, org: Organization) -> QuerySet[Group]:
    """The org's groups by name, for a list to choose from: ``group_id`` and ``name`` only, no counts
    (a product site's "Grant access" list names every group; counting their members is not its job)."""
    return Group.objects.filter(org=org).only("group_id", "name").order_by(Lower("name"), "pk")


def group(*, org: Organization, group_id: str) -> Group:
    """The group ``group_id`` of ``org`` with ``member_count``, its access (``site_access`` prefetched,
    with sites) and its directory. ``NotFound`` for an unknown id or another org's group."""
    found = (
        Group.objects.filter(org=org, group_id=_clean_id(group_id))
        .select_related("directory")
        .annotate(member_count=_count_per_group(GroupMember.objects.all()))
        .prefetch_related(
            Prefetch(
                "site_access",
                queryset=SiteAccess.objects.select_related("site").order_by(
                    "site__product", Lower("site__name")
                ),
            )
        )
        .first()
    )
    if found is None:
        raise NotFound()
    return found


def group_members(
    *, org: Organization, group: Group, after: str | None = None, size: int = 50
) -> KeysetPage[GroupMember]:
    """Members of ``group`` (which must be ``org``'s) by email, one keyset page."""
    if group.org_id != org.pk:
        raise NotFound()
    rows = GroupMember.objects.filter(group=group).select_related("account").order_by("account__email")
    if after:
        rows = rows.filter(account__email__gt=after)
    size = _size(size)
    items = list(rows[: size + 1])
    return KeysetPage(items[:size], items[size - 1].account.email if len(items) > size else None)


def user_by_email(*, org: Organization, email: str) -> OrgUser:
    """The user of ``org`` (managed or external) with this email; ``NotFound`` otherwise."""
    found = (
        OrgUser.objects.filter(org=org, email=normalize_email(email or "")).select_related("account").first()
    )
    if found is None:
        raise NotFound()
    return found


# --- external users -----------------------------------------------------------------------------------


def _external(org: Organization) -> QuerySet[OrgUser]:
    in_a_group = GroupMember.objects.filter(group__org=org, account=OuterRef("account"))
    return OrgUser.objects.filter(org=org, is_managed=False).filter(Exists(in_a_group))


def external_user_count(*, org: Organization) -> int:
    """How many ``external_users`` lists: the overview's number is the page's."""
    return _external(org).count()


def external_users(*, org: Organization, after: str | None = None, size: int = 50) -> KeysetPage[OrgUser]:
    """Users of ``org`` it does not manage that belong to at least one of its groups, by email.

    External users are the people with access whom the org does not manage, whatever their domain:
    an unverified one, a verified one whose account is not claimed yet (claiming reviewed), or one
    another org manages. The org's policies reach none of them, and claiming is how one stops
    being external; so ``is_managed`` decides, not the domain.

    Each ``OrgUser`` carries ``org_groups``: the org's groups it belongs to, by name; and ``invited``:
    sent a sign-in link and not signed in since (``accounts.selectors.invited_not_signed_in``), as
    the Users page says, in the same query.
    """
    rows = (
        _external(org)
        .select_related("account")
        .annotate(invited=invited_not_signed_in("account_id", "account__last_login"))
        .order_by("email", "pk")
    )
    if after:
        rows = rows.filter(email__gt=after)
    size = _size(size)
    items = list(rows[: size + 1])
    page, next_after = items[:size], (items[size - 1].email if len(items) > size else None)
    groups: dict[int, list[Group]] = defaultdict(list)
    memberships = (
        GroupMember.objects.filter(group__org=org, account_id__in=[u.account_id for u in page])
        .select_related("group")
        .order_by(Lower("group__name"))
    )
    for membership in memberships:
        groups[membership.account_id].append(membership.group)
    for user in page:
        user.org_groups = groups[user.account_id]
    return KeysetPage(page, next_after)


def user_access(*, org: Organization, account_id: str) -> OrgUser:
    """The user ``account_id`` of ``org`` (managed or not), with what removing them takes away:
    ``org_groups`` (the org's groups they are in, by name) and ``org_sites`` (the org's sites those
    groups give them, by name). ``NotFound`` when the account is not a user of ``org``."""
    found = (
        OrgUser.objects.filter(org=org, account__account_id=_clean_id(account_id))
        .select_related("account")
        .first()
    )
    if found is None:
        raise NotFound()
    memberships = GroupMember.objects.filter(group__org=org, account=found.account_id)
    found.org_groups = [m.group for m in memberships.select_related("group").order_by(Lower("group__name"))]
    found.org_sites = list(
        ProductSite.objects.filter(
            org=org, access__group__in=Group.objects.filter(org=org, memberships__account=found.account_id)
        )
        .distinct()
        .order_by(Lower("name"), "pk")
    )
    return found


def site_role_of(*, site: ProductSite, account) -> str | None:
    """``account``'s role on ``site`` through its groups ("admin" wins over "user"), or ``None``."""
    roles = set(
        SiteAccess.objects.filter(site=site, group__memberships__account=account).values_list(
            "role", flat=True
        )
    )
    if SiteAccess.Role.ADMIN in roles:
        return SiteAccess.Role.ADMIN
    return SiteAccess.Role.USER if roles else None


def site_to_launch(*, account: Account, site_id: str) -> ProductSite:
    """A product site of one of ``account``'s orgs, by its public id (to launch it, or to say that
    the account has no access to it); ``NotFound`` otherwise.

    The account's orgs: those it is a user, an admin or a group member of, and those that verified
    its email's domain (whose identity provider may sign it in, and send it here with a RelayState
    naming the site, before the org manages it). Another org's site reads like an unknown id:
    launching it must not tell an outsider that it exists, nor its name, address or organization
    (the "no access" page names all three).
    """
    email_domain = account.email.rsplit("@", 1)[-1]
    yours = (
        Exists(OrgUser.objects.filter(org=OuterRef("org"), account=account))
        | Exists(OrgAdmin.objects.filter(org=OuterRef("org"), account=account))
        | Exists(GroupMember.objects.filter(group__org=OuterRef("org"), account=account))
        | Exists(Domain.objects.filter(org=OuterRef("org"), name=email_domain, status=Domain.Status.VERIFIED))
    )
    found = ProductSite.objects.select_related("org").filter(yours, site_id=_clean_id(site_id)).first()
    if found is None:
        raise NotFound()
    return found
