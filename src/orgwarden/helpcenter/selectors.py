"""Reads of help centers and their customers.

Console reads take ``org=`` and answer ``NotFound`` for another org's site (a 404). Portal reads
take the public ``site_id`` (it is in the portal's URL). A JSM site without a ``HelpCenter`` row yet
gets an unsaved one with the defaults (password sign-in on, SSO off): reads never write.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from orgwarden.helpcenter.models import Customer, HelpCenter, HelpCenterCertificate
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Organization, ProductSite
from orgwarden.orgs.products import PRODUCTS
from orgwarden.sso.processors.response import ConnectionSettings

HELP_CENTER_PRODUCTS: tuple[str, ...] = tuple(k for k, p in PRODUCTS.items() if p.help_center)
CUSTOMERS_PER_PAGE = 50


def _valid_id(value: str) -> bool:
    return bool(value) and len(value) <= 64 and value.isalnum()


def _of_site(site: ProductSite) -> HelpCenter:
    try:
        return site.help_center
    except HelpCenter.DoesNotExist:
        return HelpCenter(site=site)


def help_center_get(*, org: Organization, site_id: str) -> HelpCenter:
    """The help center of ``org``'s JSM site ``site_id``; ``NotFound`` otherwise."""
    if not _valid_id(site_id):
        raise NotFound()
    site = (
        ProductSite.objects.select_related("org", "help_center")
        .filter(org=org, site_id=site_id, product__in=HELP_CENTER_PRODUCTS)
        .first()
    )
    if site is None:
        raise NotFound()
    return _of_site(site)


def help_center_public(*, site_id: str) -> HelpCenter:
    """The help center at ``/helpcenter/<site_id>/``; ``NotFound`` for anything but a JSM site."""
    if not _valid_id(site_id):
        raise NotFound()
    site = (
        ProductSite.objects.select_related("org", "help_center")
        .filter(site_id=site_id, product__in=HELP_CENTER_PRODUCTS)
        .first()
    )
    if site is None:
        raise NotFound()
    return _of_site(site)


def help_centers_of(*, org: Organization) -> QuerySet[ProductSite]:
    """``org``'s JSM sites, each with ``customer_count``."""
    return (
        ProductSite.objects.filter(org=org, product__in=HELP_CENTER_PRODUCTS)
        .select_related("help_center")
        .annotate(customer_count=Count("help_center__customers"))
        .order_by("name")
    )


def portal_url(help_center: HelpCenter) -> str:
    return f"{settings.BASE_URL}/helpcenter/{help_center.site.site_id}/"


def sp_entity_id(help_center: HelpCenter) -> str:
    return f"{settings.BASE_URL}/helpcenter/{help_center.site.site_id}/saml"


def acs_url(help_center: HelpCenter) -> str:
    return f"{sp_entity_id(help_center)}/acs"


def certificates_of(help_center: HelpCenter) -> list[HelpCenterCertificate]:
    if help_center.pk is None:
        return []
    return list(help_center.certificates.order_by("not_after"))


def processor_settings(help_center: HelpCenter) -> ConnectionSettings:
    """What the shared SAML validation core trusts for this help center's customer IdP."""
    return ConnectionSettings(
        sp_entity_id=sp_entity_id(help_center),
        acs_url=acs_url(help_center),
        idp_entity_id=help_center.idp_entity_id,
        certificates=[c.pem for c in certificates_of(help_center)[::-1]],
        allow_idp_initiated=help_center.allow_idp_initiated,
        allow_sha1=help_center.allow_sha1,
    )


def customers_of(
    *, org: Organization, help_center: HelpCenter, query: str = "", status: str = ""
) -> QuerySet[Customer]:
    """Customers of ``help_center`` (which must be ``org``'s), filtered by email/name and status."""
    if help_center.site.org_id != org.pk:
        raise NotFound()
    if help_center.pk is None:
        return Customer.objects.none()
    customers = Customer.objects.filter(help_center=help_center)
    query = (query or "").strip()[:100]
    if "\x00" in query:  # in no email or name; PostgreSQL refuses NUL in a query
        return Customer.objects.none()
    if query:
        customers = customers.filter(Q(email__icontains=query) | Q(display_name__icontains=query))
    if status == "active":
        customers = customers.filter(is_active=True)
    elif status == "deactivated":
        customers = customers.filter(is_active=False)
    return customers.order_by("email")


def customer_get(*, org: Organization, help_center: HelpCenter, customer_id: str) -> Customer:
    """The customer ``customer_id`` of ``help_center`` (which must be ``org``'s); ``NotFound`` else."""
    if help_center.site.org_id != org.pk or help_center.pk is None or not _valid_id(customer_id):
        raise NotFound()
    customer = Customer.objects.filter(help_center=help_center, customer_id=customer_id).first()
    if customer is None:
        raise NotFound()
    return customer


def customer_signed_in(*, help_center: HelpCenter, customer_id: str) -> Customer | None:
    """The active customer ``customer_id`` of ``help_center`` (for the portal session), else ``None``."""
    if help_center.pk is None or not _valid_id(customer_id):
        return None
    return Customer.objects.filter(help_center=help_center, customer_id=customer_id, is_active=True).first()
