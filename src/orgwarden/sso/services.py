"""Every write of the sso domain: identity-provider directories, their SAML configuration, domain
links, the SP's one-time requests, and what a successful or failed SSO sign-in changes.

Admin-facing services take ``actor`` (an admin ``Account`` or an org API key), check it with
``org_actor`` and record one audit event in their transaction. Sign-in services are called by the
SP endpoints after ``processors.response.ResponseProcessor`` accepted an assertion.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import IntegrityError, transaction
from django.utils import timezone

from orgwarden.accounts import services as account_services
from orgwarden.accounts.exceptions import EmailTaken
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs import hooks as orgs_hooks
from orgwarden.orgs.exceptions import InvalidInput, NotFound
from orgwarden.orgs.models import Directory, Domain, Organization, OrgUser
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.sso import selectors
from orgwarden.sso.exceptions import SsoSigninRefused
from orgwarden.sso.models import SamlCertificate, SamlConnection, SamlDomainLink, SamlIdentity, SamlRequest
from orgwarden.sso.processors import authn, errors
from orgwarden.sso.processors.metadata import idp_metadata_parse
from orgwarden.sso.processors.response import SamlResult
from orgwarden.sso.store import requests_purge
from orgwarden.sso.vendors import PRESETS

MAX_CERTIFICATES = 2


def idp_target(connection: SamlConnection) -> Target:
    return Target("idp", connection.connection_id, connection.directory.name)


class Certificate(Protocol):
    """A stored signing certificate: an IdP's (``SamlCertificate``) or a help center's customer IdP's."""

    certificate_id: str
    subject: str


def certificate_target(certificate: Certificate) -> Target:
    """A signing certificate as an audit target, named by its subject.

    Its id in a removal's event is what tells a removal sent twice (the org's log has it) from
    another org's certificate, or none (a 404, that confirms nothing).
    """
    return Target("certificate", certificate.certificate_id, certificate.subject)


def _name(name: str) -> str:
    name = " ".join((name or "").split())  # one line: it goes into email subjects and audit lines
    if not name or len(name) > 100:
        raise InvalidInput("Enter a name of 1 to 100 characters.")
    return name


@transaction.atomic
def idp_add(*, org: Organization, actor: OrgActor, vendor: str, name: str) -> SamlConnection:
    """Create an identity-provider directory (with its default policy, via the hook) and its
    SAML connection, preset with the vendor's attribute names. Raises ``InvalidInput``, ``NotFound``."""
    audit_actor = org_actor(org=org, actor=actor)
    name = _name(name)
    if vendor not in SamlConnection.Vendor.values:
        raise InvalidInput("Choose an identity provider from the list.")
    directory = Directory.objects.create(org=org, kind=Directory.Kind.IDP, name=name)
    orgs_hooks.run_directory_created(directory)
    preset = PRESETS[vendor]
    connection = SamlConnection.objects.create(
        org=org,
        directory=directory,
        vendor=vendor,
        attr_first_name=preset.first_name,
        attr_last_name=preset.last_name,
        attr_user_id=preset.user_id,
    )
    event_record(
        action="org:idp:added",
        actor=audit_actor,
        org_id=org.org_id,
        targets=[idp_target(connection)],
        details={"vendor": vendor, "directory_id": directory.directory_id},
    )
    return connection


def _locked(org: Organization, connection_id: str) -> SamlConnection:
    selectors.connection_get(org=org, connection_id=connection_id)  # NotFound for another org's
    return (
        SamlConnection.objects.select_for_update()
        .select_related("directory")
        .get(org=org, connection_id=connection_id)
    )


UPDATABLE = (
    "idp_entity_id",
    "idp_sso_url",
    "allow_idp_initiated",
    "allow_sha1",
    "attr_first_name",
    "attr_last_name",
    "attr_user_id",
)


@transaction.atomic
def idp_update(
    *, org: Organization, actor: OrgActor, connection_id: str, **changes: object
) -> SamlConnection:
    """Change the SAML configuration (keys in ``UPDATABLE``). Raises ``InvalidInput``, ``NotFound``."""
    audit_actor = org_actor(org=org, actor=actor)
    connection = _locked(org, connection_id)
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidInput(f"Unknown settings: {', '.join(sorted(unknown))}.")
    sso_url = changes.get("idp_sso_url")
    if sso_url and not str(sso_url).startswith("https://"):
        raise InvalidInput("The IdP single sign-on URL must start with https://.")
    changed: dict[str, object] = {}
    for key, value in changes.items():
        if getattr(connection, key) != value:
            changed[key] = value
            setattr(connection, key, value)
    if not changed:
        return connection
    connection.save()
    event_record(
        action="org:idp:updated",
        actor=audit_actor,
        org_id=org.org_id,
        targets=[idp_target(connection)],
        details={"changed": sorted(changed), "allow_sha1": connection.allow_sha1},
    )
    return connection


@transaction.atomic
def idp_remove(*, org: Organization, actor: OrgActor, connection_id: str) -> None:
    """Remove the connection and its directory (its members fall back to the local directory)."""
    audit_actor = org_actor(org=org, actor=actor)
    connection = _locked(org, connection_id)
    target = idp_target(connection)
    OrgUser.objects.filter(org=org, directory=connection.directory).update(directory=None)
    connection.directory.delete()  # cascades to the connection, its certificates, links, policies
    event_record(action="org:idp:removed", actor=audit_actor, org_id=org.org_id, targets=[target])


def certificate_parse(pem: str) -> tuple[str, str, str, datetime]:
    """(normalised PEM, SHA-256 fingerprint, subject, not_after); raises ``InvalidInput``."""
    text = (pem or "").strip()
    if "BEGIN CERTIFICATE" not in text:
        text = "-----BEGIN CERTIFICATE-----\n" + text + "\n-----END CERTIFICATE-----"
    try:
        cert = x509.load_pem_x509_certificate(text.encode())
    except ValueError as exc:
        raise InvalidInput("This is not a PEM certificate (-----BEGIN CERTIFICATE----- …).") from exc
    normalised = cert.public_bytes(serialization.Encoding.PEM).decode()
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return normalised, fingerprint, cert.subject.rfc4514_string()[:500], cert.not_valid_after_utc


def certificate_store(certificates, *, pem: str, too_many: str):
    """Add an IdP signing certificate through ``certificates``, the related manager of whatever
    holds them (a connection, a help center): parsed, not a duplicate, not expired, at most two
    (for rollover; ``too_many`` is the message). Raises ``InvalidInput``."""
    normalised, fingerprint, subject, not_after = certificate_parse(pem)
    if certificates.filter(fingerprint_sha256=fingerprint).exists():
        raise InvalidInput("This certificate is already configured.")
    if certificates.count() >= MAX_CERTIFICATES:
        raise InvalidInput(too_many)
    if not_after <= timezone.now():
        raise InvalidInput("This certificate has expired.")
    return certificates.create(
        pem=normalised, fingerprint_sha256=fingerprint, subject=subject, not_after=not_after
    )


def _certificate_add(connection: SamlConnection, pem: str) -> SamlCertificate:
    return certificate_store(
        connection.certificates,
        pem=pem,
        too_many="A connection keeps at most two certificates (for rollover). Remove one first.",
    )


@transaction.atomic
def idp_certificate_add(
    *, org: Organization, actor: OrgActor, connection_id: str, pem: str
) -> SamlCertificate:
    """Trust one more IdP signing certificate (at most two). Raises ``InvalidInput``, ``NotFound``."""
    audit_actor = org_actor(org=org, actor=actor)
    connection = _locked(org, connection_id)
    certificate = _certificate_add(connection, pem)
    event_record(
        action="org:idp:certificate_added",
        actor=audit_actor,
        org_id=org.org_id,
        targets=[idp_target(connection)],
        details={
            "fingerprint_sha256": certificate.fingerprint_sha256,
            "not_after": certificate.not_after.isoformat(),
        },
    )
    return certificate


@transaction.atomic
def idp_certificate_remove(
    *, org: Organization, actor: OrgActor, connection_id: str, certificate_id: str
) -> None:
    """Stop trusting one of the connection's signing certificates; its event names it as the second
    target. Raises ``NotFound`` for a certificate that is not this connection's (another org's too)."""
    audit_actor = org_actor(org=org, actor=actor)
    connection = _locked(org, connection_id)
    certificate = connection.certificates.filter(certificate_id=certificate_id).first()
    if certificate is None:
        raise NotFound()
    target = certificate_target(certificate)
    certificate.delete()
    event_record(
        action="org:idp:certificate_removed",
        actor=audit_actor,
        org_id=org.org_id,
        targets=[idp_target(connection), target],
        details={"fingerprint_sha256": certificate.fingerprint_sha256},
    )


@transaction.atomic
def idp_metadata_import(
    *, org: Organization, actor: OrgActor, connection_id: str, document: bytes
) -> SamlConnection:
    """Fill entity ID, SSO URL and certificates from IdP metadata (hardened parse).

    Only these fields change: no check is relaxed (SHA-1, IdP-initiated stay as they were).
    Certificates already configured are kept; new ones are added while there is room; expired ones
    (an IdP may keep its old key listed after a rollover) are passed over, not a reason to fail.
    Raises ``InvalidInput`` (with the parser's reason) or ``NotFound``.
    """
    audit_actor = org_actor(org=org, actor=actor)
    connection = _locked(org, connection_id)
    try:
        metadata = idp_metadata_parse(document)
    except errors.SamlError as exc:
        raise InvalidInput(f"This metadata can't be read ({exc.reason}): {exc.detail}") from exc
    if not metadata.entity_id or not metadata.sso_url.startswith("https://"):
        raise InvalidInput("The metadata needs an entityID and an https:// single sign-on URL.")
    connection.idp_entity_id = metadata.entity_id[:1024]
    connection.idp_sso_url = metadata.sso_url[:1024]
    connection.save()
    added: list[str] = []
    expired: list[str] = []
    for pem in metadata.certificates:
        _, fingerprint, _, not_after = certificate_parse(pem)
        if connection.certificates.filter(fingerprint_sha256=fingerprint).exists():
            continue
        if not_after <= timezone.now():  # an old key left in the IdP's metadata: nothing to trust
            expired.append(fingerprint)
            continue
        added.append(_certificate_add(connection, pem).fingerprint_sha256)
    event_record(
        action="org:idp:updated",
        actor=audit_actor,
        org_id=org.org_id,
        targets=[idp_target(connection)],
        details={"source": "metadata", "certificates_added": added, "certificates_expired": expired},
    )
    return connection


@transaction.atomic
def idp_domain_link(
    *, org: Organization, actor: OrgActor, connection_id: str, domain_id: str
) -> SamlDomainLink:
    """Send a verified domain's people to this IdP (a domain links to one IdP)."""
    audit_actor = org_actor(org=org, actor=actor)
    connection = _locked(org, connection_id)
    domain = Domain.objects.select_for_update().filter(org=org, domain_id=domain_id).first()
    if domain is None:
        raise NotFound()
    if domain.status != Domain.Status.VERIFIED:
        raise InvalidInput("Verify this domain before you link it to an identity provider.")
    if SamlDomainLink.objects.filter(domain=domain).exists():
        raise InvalidInput("This domain is already linked to an identity provider. Unlink it there first.")
    link = SamlDomainLink.objects.create(connection=connection, domain=domain)
    event_record(
        action="org:idp:domain_linked",
        actor=audit_actor,
        org_id=org.org_id,
        targets=[idp_target(connection), Target("domain", domain.domain_id, domain.name)],
    )
    return link


@transaction.atomic
def idp_domain_unlink(*, org: Organization, actor: OrgActor, connection_id: str, domain_id: str) -> None:
    audit_actor = org_actor(org=org, actor=actor)
    connection = _locked(org, connection_id)
    link = (
        SamlDomainLink.objects.filter(connection=connection, domain__domain_id=domain_id)
        .select_related("domain")
        .first()
    )
    if link is None:
        raise NotFound()
    link.delete()
    event_record(
        action="org:idp:domain_unlinked",
        actor=audit_actor,
        org_id=org.org_id,
        targets=[idp_target(connection), Target("domain", link.domain.domain_id, link.domain.name)],
    )


# --- the service provider ---------------------------------------------------------------------------


@transaction.atomic
def saml_request_create(
    *,
    connection: SamlConnection,
    relay_state: str,
    test_by: Account | None = None,
    now: datetime | None = None,
) -> tuple[SamlRequest, str]:
    """Store a new AuthnRequest (usable once, 10 minutes) and return it with the IdP redirect URL.

    Protocol state, like a session: not an audit event (the sign-in that follows is one).
    ``test_by``: an admin testing the connection (the ACS then shows the outcome, signs nobody in);
    raises ``NotFound`` if they are not an admin of the connection's org.
    """
    if test_by is not None:
        org_actor(org=connection.org, actor=test_by)
    now = now or timezone.now()
    requests_purge(now)  # opportunistic: expired requests can never be answered
    request = SamlRequest.objects.create(
        request_id=authn.new_request_id(),
        connection=connection,
        created_at=now,
        relay_state=relay_state[:2000],
        test_mode=test_by is not None,
        requested_by=test_by,
    )
    url = authn.sign_in_redirect(
        request_id=request.request_id,
        issue_instant=now.astimezone(UTC),
        sp_entity_id=selectors.sp_entity_id(connection),
        acs_url=selectors.acs_url(connection),
        idp_sso_url=connection.idp_sso_url,
    )
    return request, url


@transaction.atomic
def sso_failure_record(*, connection: SamlConnection, reason: str, detail: str, email: str = "") -> None:
    """``account:signin:sso_failed`` in the connection's org log, with the stable reason code.

    The actor is the account with the asserted email only if it is a user of the connection's org;
    anyone else is named by the email the IdP sent. Otherwise any org's IdP could look up any
    account of the installation (its id and name) in its own audit log by asserting its address."""
    account = None
    if email:
        account = Account.objects.filter(email=normalize_email(email), org_users__org=connection.org).first()
    event_record(
        action="account:signin:sso_failed",
        actor=Actor.account(account) if account else Actor.anonymous(email),
        org_id=connection.org.org_id,
        targets=[idp_target(connection)],
        details={"reason": reason, "detail": detail[:500]},
    )


@transaction.atomic
def sso_test_record(
    *, connection: SamlConnection, actor: Account, reason: str, email: str = "", warning: str = ""
) -> None:
    """``org:idp:tested``: an admin tried the connection; ``reason`` is ``ok`` or a failure code;
    ``warning`` the code a real sign-in of ``email`` would still be refused with, if any."""
    audit_actor = org_actor(org=connection.org, actor=actor)
    details = {"outcome": "ok" if reason == "ok" else "failed", "reason": reason, "email": email}
    if warning:
        details["warning"] = warning
    event_record(
        action="org:idp:tested",
        actor=audit_actor,
        org_id=connection.org.org_id,
        targets=[idp_target(connection)],
        details=details,
    )


def _jit_create(connection: SamlConnection, email: str, display_name: str, domain: Domain) -> Account:
    """A new managed account for ``email`` in the IdP's directory; or, when a sign-up or a SCIM
    create committed the email since it was looked up (the insert waited for it), that account, as
    if it had been there first. Raises ``SsoSigninRefused``."""
    try:
        account, created = account_services.account_create_or_found(
            email=email,
            display_name=display_name,
            password=None,
            email_verified=True,
            actor=Actor.system(connection.directory.name),
            org_id=connection.org.org_id,
            via="saml_jit",
        )
    except EmailTaken:  # taken by a concurrent request, and gone again
        raise SsoSigninRefused(
            "no_account", "The account for this email is being changed; try again."
        ) from None
    if not created:
        return account
    org_user = OrgUser.objects.filter(org=connection.org, account=account, is_managed=True).first()
    if org_user is None:
        raise SsoSigninRefused("managed_by_another_org", "This account is managed by another organization.")
    org_user.directory = connection.directory
    org_user.save(update_fields=["directory"])
    event_record(
        action="account:created_jit",
        actor=Actor.system(connection.directory.name),
        org_id=connection.org.org_id,
        targets=[Target.account(account), idp_target(connection)],
        details={"domain": domain.name},
    )
    return account


@transaction.atomic
def sso_signin_complete(*, connection: SamlConnection, result: SamlResult) -> Account:
    """The account an accepted assertion signs in, as ``selectors.signin_plan`` decides: matched by
    stable id, then email, else created just in time when the rules allow. Updates the profile and
    links the identity.

    Raises ``SsoSigninRefused`` (``domain_not_linked``, ``name_id_invalid``, ``no_account``,
    ``account_deactivated``, ``managed_by_another_org``, ``identity_conflict``).
    """
    plan = selectors.signin_plan(connection, result)
    if plan.refusal is not None:
        raise plan.refusal
    if plan.stale_identity is not None:
        SamlIdentity.objects.filter(pk=plan.stale_identity.pk).delete()  # its sign-in links the id anew
    account = plan.account
    if account is None:
        account = _jit_create(connection, plan.email, plan.display_name, plan.jit_domain)
        # Found instead of created when a sign-up or SCIM create committed it meanwhile.
        refusal = selectors.signin_refusal(connection, account)
        if refusal is not None:
            raise refusal
    # The IdP speaks for this verified domain: an account whose email was never verified may hold a
    # squatter's password, sessions and tokens (signed up before its owner); they are cleared and
    # the email counts as verified from now on (``account_unverified_take_over``).
    account_services.account_unverified_take_over(
        account=account,
        actor=Actor.system(connection.directory.name),
        org_id=connection.org.org_id,
        via="saml",
        email_proven=True,
    )
    if plan.display_name and plan.display_name != account.display_name:
        account_services.profile_update(
            account=account, display_name=plan.display_name, actor=Actor.system(connection.directory.name)
        )
    identity = plan.identity or _identity_link(connection, plan.stable_id, account)
    SamlIdentity.objects.filter(pk=identity.pk).update(last_signin_at=timezone.now())
    return account


def _identity_link(connection: SamlConnection, stable_id: str, account: Account) -> SamlIdentity:
    """Link ``stable_id`` at this IdP to ``account``, replacing the account's older link. When a
    concurrent sign-in of the same person (two tabs, a double submit) linked it meanwhile, the insert
    waits for it and fails on the unique id (PostgreSQL): that link is used, as if it came first.
    Raises ``SsoSigninRefused`` when the id went to another account meanwhile."""
    try:
        with transaction.atomic():
            SamlIdentity.objects.filter(connection=connection, account=account).delete()
            return SamlIdentity.objects.create(connection=connection, stable_id=stable_id, account=account)
    except IntegrityError:
        identity = SamlIdentity.objects.filter(connection=connection, stable_id=stable_id).first()
        if identity is None or identity.account_id != account.pk:
            raise SsoSigninRefused(
                "identity_conflict", "Another sign-in changed this person's link at the same time; try again."
            ) from None
        return identity


def saml_identities_release(org: Organization, account: Account) -> dict:
    """``orgs.hooks.account_released``: delete ``account``'s identity links to ``org``'s connections.

    Runs in ``account_release``'s transaction, which records the event; returns its details
    (nothing when there was no link).
    """
    removed, _ = SamlIdentity.objects.filter(connection__org=org, account=account).delete()
    return {"saml_identities_removed": removed} if removed else {}


CERTIFICATE_WARNING_DAYS = 30


def certificates_expiry_warn(*, now: datetime | None = None) -> int:
    """Email each org's admins once when a connection's last valid certificate expires within 30 days.

    A connection is at risk only when no certificate outlives the window (a newer one uploaded for
    rollover covers it). The warning is recorded as ``org:idp:certificate_expiring`` naming the
    certificate, which is also how a second run knows it already warned. Returns how many warnings.
    """
    from datetime import timedelta

    from django.db.models import Max

    from orgwarden.accounts.emails import send_templated
    from orgwarden.audit.models import AuditEvent
    from orgwarden.orgs.models import OrgAdmin

    now = now or timezone.now()
    horizon = now + timedelta(days=CERTIFICATE_WARNING_DAYS)
    at_risk = (
        SamlConnection.objects.annotate(last_expiry=Max("certificates__not_after"))
        .filter(last_expiry__isnull=False, last_expiry__lte=horizon)
        .select_related("org")
    )
    warned = 0
    for connection in at_risk:
        certificate = connection.certificates.order_by("-not_after").first()
        already = AuditEvent.objects.filter(
            org_id=connection.org.org_id,
            action="org:idp:certificate_expiring",
            details__fingerprint=certificate.fingerprint_sha256,
        ).exists()
        if already:
            continue
        with transaction.atomic():
            event_record(
                action="org:idp:certificate_expiring",
                actor=Actor.system("certificate check"),
                org_id=connection.org.org_id,
                targets=[idp_target(connection)],
                details={
                    "fingerprint": certificate.fingerprint_sha256,
                    "not_after": certificate.not_after.isoformat(),
                },
            )
            admins = list(
                OrgAdmin.objects.filter(
                    org=connection.org, account__status=Account.Status.ACTIVE
                ).values_list("account__email", flat=True)
            )
            context = {
                "org_name": connection.org.name,
                "connection_name": connection.directory.name,
                "not_after": certificate.not_after,
                "expired": certificate.not_after <= now,
            }
            for email in admins:  # robust: one refused message does not stop the other orgs' warnings
                transaction.on_commit(
                    lambda email=email, context=context: send_templated(
                        to=email,
                        subject=f"The signing certificate of {context['connection_name']} expires soon",
                        template="sso/email/certificate_expiring.txt",
                        context=context,
                    ),
                    robust=True,
                )
        warned += 1
    return warned
