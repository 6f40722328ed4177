"""Reads of SAML connections; everything org-scoped takes ``org=`` and raises ``NotFound`` otherwise."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Max, QuerySet
from django.utils import timezone

from orgwarden.accounts import hooks as account_hooks
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Domain, Organization, OrgUser
from orgwarden.policies import selectors as policy_selectors
from orgwarden.policies.models import AuthenticationPolicy
from orgwarden.sso.exceptions import SsoSigninRefused
from orgwarden.sso.models import SamlCertificate, SamlConnection, SamlDomainLink, SamlIdentity
from orgwarden.sso.processors import errors
from orgwarden.sso.processors.response import ConnectionSettings, SamlResult

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


def default_policy(connection: SamlConnection) -> AuthenticationPolicy | None:
    """The policy new members of ``connection``'s directory join."""
    return AuthenticationPolicy.objects.filter(directory=connection.directory, is_default=True).first()


def jit_domain(connection: SamlConnection, email: str) -> Domain | None:
    """The domain under which a sign-in of ``email`` without an account creates one just in time:
    verified, claiming its accounts automatically and linked to ``connection``, whose directory's
    default policy enforces SSO. ``None`` when accounts are not created just in time for it."""
    name = email.rsplit("@", 1)[-1]
    domain = Domain.objects.filter(
        org=connection.org,
        name=name,
        status=Domain.Status.VERIFIED,
        claim=Domain.Claim.AUTOMATIC,
        saml_link__connection=connection,
    ).first()
    policy = default_policy(connection)
    if domain is None or policy is None or not policy_selectors.sso_enforced(policy):
        return None
    return domain


def idp_speaks_for(connection: SamlConnection, account: Account) -> bool:
    """Whether ``connection``'s org manages ``account``, or its email is on a verified domain linked
    to ``connection``: then its identity link may sign it in."""
    if OrgUser.objects.filter(org=connection.org, account=account, is_managed=True).exists():
        return True
    return SamlDomainLink.objects.filter(
        connection=connection, domain__name=account.email_domain, domain__status=Domain.Status.VERIFIED
    ).exists()


def signin_refusal(connection: SamlConnection, account: Account) -> SsoSigninRefused | None:
    """Why an assertion for ``account`` may not sign it in (deactivated, or managed by another
    org); ``None`` when it may."""
    if account.status != Account.Status.ACTIVE:
        # The IdP proved who this is, so they learn what a correct password would have told them:
        # that the account is deactivated, and the managing org's message about it.
        return SsoSigninRefused("account_deactivated", account_hooks.notice_for_deactivated(account))
    if OrgUser.objects.filter(account=account, is_managed=True).exclude(org=connection.org).exists():
        return SsoSigninRefused("managed_by_another_org", "This account is managed by another organization.")
    return None


NO_JIT_MESSAGE = (
    "There is no account for this email, and accounts are not created just in time for it (the "
    "domain must claim accounts automatically and the identity provider's policy must enforce SSO, "
    "with the organization's security subscription in its trial or paid)."
)


@dataclass(frozen=True, slots=True)
class SigninPlan:
    """What an accepted assertion does: sign in ``account`` (found through its ``identity`` link to
    the IdP's user id, or by email: ``matched``), create an account just in time under ``jit_domain``, or
    nothing but ``refusal``. ``stale_identity`` is a link that outlived the org's hold on its
    account: the sign-in drops it (and links the id anew to whom it signs in)."""

    email: str
    stable_id: str
    display_name: str
    account: Account | None = None
    jit_domain: Domain | None = None
    stale_identity: SamlIdentity | None = None
    identity: SamlIdentity | None = None
    refusal: SsoSigninRefused | None = None

    @property
    def matched(self) -> str:
        """How ``account`` was found: ``"stable_id"`` (its ``identity`` link) or ``"email"``."""
        if self.account is None:
            return ""
        return "stable_id" if self.identity is not None else "email"


def signin_plan(connection: SamlConnection, result: SamlResult) -> SigninPlan:
    """What a sign-in with ``result`` would do, read without changing anything: the decision of
    ``services.sso_signin_complete``, which carries it out, and what "Test single sign-on" shows.

    The stable id matches only an account the connection's org manages, or whose email is on a
    verified domain linked to the connection (the IdP speaks for that address anyway). Another
    link outlived the org's hold on the account: it is dropped and the email rules decide, so a
    former org's IdP cannot sign in as a released account by its old id, whatever its email is now.
    """
    email = normalize_email(result.email)
    stable_id = result.stable_id or email
    display_name = " ".join(p for p in (result.first_name, result.last_name) if p).strip()[:150]
    plan = SigninPlan(email=email, stable_id=stable_id, display_name=display_name)
    # An IdP speaks only for the verified domains linked to it: never for anyone else's accounts.
    if not email_domain_linked(connection, email):
        name = email.rsplit("@", 1)[-1]
        refusal = SsoSigninRefused("domain_not_linked", f"{name} is not linked to this identity provider.")
        return dataclasses.replace(plan, refusal=refusal)
    identity = (
        SamlIdentity.objects.select_related("account")
        .filter(connection=connection, stable_id=stable_id)
        .first()
    )
    if identity is not None and not idp_speaks_for(connection, identity.account):
        plan = dataclasses.replace(plan, stale_identity=identity)
        identity = None
    account = identity.account if identity is not None else Account.objects.filter(email=email).first()
    if account is None:
        try:
            # The processor checks only the NameID's shape; an account takes only an address that
            # sign-up, SCIM and invitations would take (not a look-alike such as "p\u0430t@…").
            validate_email(email)
        except ValidationError:
            refusal = SsoSigninRefused(errors.NameIdInvalid.reason, errors.NameIdInvalid.message)
            return dataclasses.replace(plan, refusal=refusal)
        domain = jit_domain(connection, email)
        if domain is None:
            return dataclasses.replace(plan, refusal=SsoSigninRefused("no_account", NO_JIT_MESSAGE))
        return dataclasses.replace(plan, jit_domain=domain)
    return dataclasses.replace(
        plan, account=account, identity=identity, refusal=signin_refusal(connection, account)
    )
