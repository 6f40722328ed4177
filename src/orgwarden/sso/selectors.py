"""Reads of SAML connections; everything org-scoped takes ``org=`` and raises ``NotFound`` otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, QuerySet
from django.utils import timezone

from orgwarden.accounts.models import normalize_email
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Domain, Organization
from orgwarden.sso.models import SamlCertificate, SamlConnection, SamlDomainLink
from orgwarden.sso.processors.response import ConnectionSettings

EXPIRY_WARNING = timedelta(days=30)


def sp_entity_id(connection: SamlConnection) -> str:
    return f"{settings.BASE_URL}/saml/{connection.connection_id}"


def acs_url(connection: SamlConnection) -> str:
    return f"{sp_entity_id(connection)}/acs"


def connections_of(*, org: Organization) -> QuerySet[SamlConnection]:
    """``org``'s connections, each with ``latest_certificate_expiry`` (``None`` without a certificate)."""
    return (
        SamlConnection.objects.filter(org=org)
        .select_related("directory")
        .prefetch_related("domain_links__domain")
        .annotate(latest_certificate_expiry=Max("certificates__not_after"))
        .order_by("directory__name")
    )


def expiry_warning_before() -> datetime:
    """Certificates expiring before this moment are flagged to admins (30 days ahead)."""
    return timezone.now() + EXPIRY_WARNING


def connection_get(*, org: Organization, connection_id: str) -> SamlConnection:
    """``org``'s connection ``connection_id``; ``NotFound`` for an unknown one or another org's."""
    if "\x00" in connection_id:
        raise NotFound()
    connection = (
        SamlConnection.objects.select_related("directory")
        .filter(org=org, connection_id=connection_id)
        .first()
    )
    if connection is None:
        raise NotFound()
    return connection


def connection_public(*, connection_id: str) -> SamlConnection:
    """A connection by its public id, for the SP endpoints (the id is in the IdP's configuration)."""
    if "\x00" in connection_id:
        raise NotFound()
    connection = (
        SamlConnection.objects.select_related("org", "directory").filter(connection_id=connection_id).first()
    )
    if connection is None:
        raise NotFound()
    return connection


def processor_settings(connection: SamlConnection) -> ConnectionSettings:
    return ConnectionSettings(
        sp_entity_id=sp_entity_id(connection),
        acs_url=acs_url(connection),
        idp_entity_id=connection.idp_entity_id,
        certificates=[c.pem for c in connection.certificates.order_by("-not_after")],
        allow_idp_initiated=connection.allow_idp_initiated,
        allow_sha1=connection.allow_sha1,
        attr_first_name=connection.attr_first_name,
        attr_last_name=connection.attr_last_name,
        attr_user_id=connection.attr_user_id,
    )


@dataclass(frozen=True, slots=True)
class CertificateRow:
    certificate: SamlCertificate
    expired: bool
    expiring_soon: bool


def certificates_of(
    *, org: Organization, connection: SamlConnection, now: datetime | None = None
) -> list[CertificateRow]:
    if connection.org_id != org.pk:
        raise NotFound()
    now = now or timezone.now()
    return [
        CertificateRow(c, c.not_after <= now, now < c.not_after <= now + EXPIRY_WARNING)
        for c in connection.certificates.order_by("not_after")
    ]


def domain_links_of(*, org: Organization, connection: SamlConnection) -> QuerySet[SamlDomainLink]:
    return SamlDomainLink.objects.filter(connection=connection, connection__org=org).select_related("domain")


def linkable_domains(*, org: Organization) -> QuerySet[Domain]:
    """Verified domains of ``org`` not yet linked to any IdP."""
    return Domain.objects.filter(org=org, status=Domain.Status.VERIFIED, saml_link__isnull=True).order_by(
        "name"
    )


def connection_for_email(email: str) -> SamlConnection | None:
    """The configured connection whose linked, verified domain is ``email``'s domain, if any."""
    name = normalize_email(email).rsplit("@", 1)[-1]
    link = (
        SamlDomainLink.objects.select_related(
            "connection", "connection__directory", "connection__org", "domain"
        )
        .filter(domain__name=name, domain__status=Domain.Status.VERIFIED)
        .first()
    )
    if link is None or not link.connection.is_configured:
        return None
    return link.connection


def email_domain_linked(connection: SamlConnection, email: str) -> bool:
    """Whether ``email`` is on a verified domain linked to ``connection``: the only addresses its
    IdP may sign in (``services.sso_signin_complete`` refuses the others as ``domain_not_linked``)."""
    name = normalize_email(email).rsplit("@", 1)[-1]
    return SamlDomainLink.objects.filter(
        connection=connection, domain__name=name, domain__status=Domain.Status.VERIFIED
    ).exists()
