"""Every write of the help-center domain: the customer IdP's configuration, the authentication
choice, customers (sign-up, sign-in, password reset, admin deactivate/remove), and what a customer
SSO sign-in changes.

Admin services take ``org``, ``actor`` (an admin ``Account`` or an org API key, checked with
``org_actor``) and ``site_id``; another org's site is ``NotFound``. Customer services take the
``HelpCenter`` the portal URL names. Each records one audit event in its transaction, in the org's
log with the help center as a target. The ``HelpCenter`` row is created by the first write.

Authentication rules (``help_center_authentication_set``): at least one of password and SSO stays
on; SSO can only be turned on once the IdP is configured and a "Test single sign-on" passed since its
entity ID or SSO URL last changed; SSO can only be turned off while password sign-in is on.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from orgwarden.accounts.ids import new_secret, public_id_lookup, secret_hash
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.helpcenter import emails, selectors
from orgwarden.helpcenter.exceptions import AuthenticationRule, CustomerSigninRefused
from orgwarden.helpcenter.models import Customer, HelpCenter, HelpCenterCertificate, HelpCenterSamlRequest
from orgwarden.helpcenter.store import requests_purge
from orgwarden.orgs.exceptions import InvalidInput, NotFound
from orgwarden.orgs.models import Organization
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.sso.processors import authn, errors
from orgwarden.sso.processors.metadata import idp_metadata_parse
from orgwarden.sso.processors.response import SamlResult
from orgwarden.sso.services import certificate_parse, certificate_store, certificate_target

MAX_CERTIFICATES = 2
RESET_LIFETIME = timedelta(hours=1)
# Checked against when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY_PASSWORD = make_password(secrets.token_urlsafe(16))


def help_center_target(help_center: HelpCenter) -> Target:
    return Target("help_center", help_center.site.site_id, help_center.site.name)


def customer_target(customer: Customer) -> Target:
    return Target("customer", customer.customer_id, customer.display_name, customer.email)


def customer_actor(customer: Customer) -> Actor:
    # A customer is not an account: an "anonymous" actor that carries the customer's id and email.
    return Actor(Actor.anonymous().type, customer.customer_id, customer.display_name, customer.email)


def _record(help_center: HelpCenter, action: str, actor: Actor, *targets: Target, **details) -> None:
    event_record(
        action=action,
        actor=actor,
        org_id=help_center.site.org.org_id,
        targets=[help_center_target(help_center), *targets],
        details=details,
    )


def _locked(org: Organization, site_id: str) -> HelpCenter:
    """``org``'s help center ``site_id``, created with the defaults if needed, locked for update."""
    help_center = selectors.help_center_get(org=org, site_id=site_id)  # NotFound for another org's
    return _lock(help_center)


def _lock(help_center: HelpCenter) -> HelpCenter:
    site = help_center.site
    HelpCenter.objects.get_or_create(site=site)
    locked = HelpCenter.objects.select_for_update().select_related("site__org").get(site=site)
    return locked


# --- the customer IdP ------------------------------------------------------------------------------

IDP_FIELDS = ("idp_entity_id", "idp_sso_url", "allow_idp_initiated", "allow_sha1")


@transaction.atomic
def help_center_idp_update(
    *, org: Organization, actor: OrgActor, site_id: str, **changes: object
) -> HelpCenter:
    """Change the customer IdP's configuration (keys in ``IDP_FIELDS``); a new entity ID or SSO URL
    must be tested again before SSO can be turned on. Raises ``InvalidInput``, ``NotFound``."""
    audit_actor = org_actor(org=org, actor=actor)
    help_center = _locked(org, site_id)
    unknown = set(changes) - set(IDP_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown settings: {', '.join(sorted(unknown))}.")
    sso_url = changes.get("idp_sso_url")
    if sso_url and not str(sso_url).startswith("https://"):
        raise InvalidInput("The IdP single sign-on URL must start with https://.")
    changed = sorted(key for key, value in changes.items() if getattr(help_center, key) != value)
    if not changed:
        return help_center
    for key in changed:
        setattr(help_center, key, changes[key])
    if help_center.sso_enabled and not help_center.is_configured:
        raise AuthenticationRule(
            "Single sign-on is on: the entity ID and SSO URL can't be cleared. Turn SSO off first."
        )
    if {"idp_entity_id", "idp_sso_url"} & set(changed):
        help_center.sso_tested_at = None
    help_center.save()
    _record(help_center, "helpcenter:idp:updated", audit_actor, changed=changed)
    return help_center


def _certificate_add(help_center: HelpCenter, pem: str) -> HelpCenterCertificate:
    return certificate_store(
        help_center.certificates,
        pem=pem,
        too_many="A help center keeps at most two IdP certificates (for rollover). Remove one first.",
    )


@transaction.atomic
def help_center_certificate_add(
    *, org: Organization, actor: OrgActor, site_id: str, pem: str
) -> HelpCenterCertificate:
    """Trust one more customer-IdP signing certificate (at most two). Raises ``InvalidInput``,
    ``NotFound``."""
    audit_actor = org_actor(org=org, actor=actor)
    help_center = _locked(org, site_id)
    certificate = _certificate_add(help_center, pem)
    _record(
        help_center,
        "helpcenter:idp:certificate_added",
        audit_actor,
        fingerprint_sha256=certificate.fingerprint_sha256,
        not_after=certificate.not_after.isoformat(),
    )
    return certificate


@transaction.atomic
def help_center_certificate_remove(
    *, org: Organization, actor: OrgActor, site_id: str, certificate_id: str
) -> None:
    """Stop trusting a certificate; the last one can't go while SSO is on. Raises ``NotFound``,
    ``AuthenticationRule``."""
    audit_actor = org_actor(org=org, actor=actor)
    help_center = _locked(org, site_id)
    certificate = help_center.certificates.filter(certificate_id=public_id_lookup(certificate_id)).first()
    if certificate is None:
        raise NotFound()
    if help_center.sso_enabled and help_center.certificates.count() == 1:
        raise AuthenticationRule(
            "Single sign-on is on: keep at least one certificate, or turn SSO off first."
        )
    target = certificate_target(certificate)
    certificate.delete()
    _record(
        help_center,
        "helpcenter:idp:certificate_removed",
        audit_actor,
        target,
        fingerprint_sha256=certificate.fingerprint_sha256,
    )


@transaction.atomic
def help_center_metadata_import(
    *, org: Organization, actor: OrgActor, site_id: str, document: bytes
) -> HelpCenter:
    """Fill entity ID, SSO URL and new certificates from IdP metadata (through the hardened parser).
    Raises ``InvalidInput`` (with the parser's reason), ``NotFound``."""
    audit_actor = org_actor(org=org, actor=actor)
    help_center = _locked(org, site_id)
    try:
        metadata = idp_metadata_parse(document)
    except errors.SamlError as exc:
        raise InvalidInput(f"The metadata could not be read ({exc.reason}): {exc.detail}") from exc
    if not metadata.entity_id:
        raise InvalidInput("The metadata has no entityID.")
    if not metadata.sso_url.startswith("https://"):
        raise InvalidInput("The IdP single sign-on URL must start with https://.")
    if (help_center.idp_entity_id, help_center.idp_sso_url) != (metadata.entity_id, metadata.sso_url):
        help_center.sso_tested_at = None
    help_center.idp_entity_id = metadata.entity_id
    help_center.idp_sso_url = metadata.sso_url
    help_center.save()
    known = set(help_center.certificates.values_list("fingerprint_sha256", flat=True))
    added = []
    for pem in metadata.certificates:
        _, fingerprint, _, not_after = certificate_parse(pem)
        # Expired keys an IdP still lists after a rollover are passed over, not a reason to fail.
        if fingerprint not in known and not_after > timezone.now():
            added.append(_certificate_add(help_center, pem).fingerprint_sha256)
    _record(
        help_center,
        "helpcenter:idp:metadata_imported",
        audit_actor,
        entity_id=metadata.entity_id,
        certificates_added=added,
    )
    return help_center


@transaction.atomic
def help_center_authentication_set(
    *, org: Organization, actor: OrgActor, site_id: str, password_enabled: bool, sso_enabled: bool
) -> HelpCenter:
    """Choose how customers sign in: password, SSO or both. Raises ``AuthenticationRule`` (see the
    module docstring), ``NotFound``."""
    audit_actor = org_actor(org=org, actor=actor)
    help_center = _locked(org, site_id)
    if not (password_enabled or sso_enabled):
        raise AuthenticationRule(
            "At least one way to sign in must stay on: password, single sign-on or both."
        )
    if sso_enabled and not help_center.sso_enabled:
        if not help_center.is_configured or not help_center.certificates.exists():
            raise AuthenticationRule(
                "Connect the identity provider (entity ID, SSO URL and a certificate) before turning SSO on."
            )
        if help_center.sso_tested_at is None:
            raise AuthenticationRule("Run “Test single sign-on” successfully before turning SSO on.")
    if (help_center.password_enabled, help_center.sso_enabled) == (password_enabled, sso_enabled):
        return help_center
    help_center.password_enabled = password_enabled
    help_center.sso_enabled = sso_enabled
    help_center.save()
    _record(
        help_center,
        "helpcenter:authentication:updated",
        audit_actor,
        password_enabled=password_enabled,
        sso_enabled=sso_enabled,
    )
    return help_center


@transaction.atomic
def help_center_saml_request_create(
    *, help_center: HelpCenter, relay_state: str, test_by: Account | None = None, now: datetime | None = None
) -> tuple[HelpCenterSamlRequest, str]:
    """Store an AuthnRequest to the customer IdP (usable once, 10 minutes); return it and the IdP
    redirect URL. Protocol state, not an audit event. ``test_by``: an admin testing the IdP (the ACS
    then shows the outcome, signs nobody in); ``NotFound`` if they are not an admin of the org."""
    if test_by is not None:
        org_actor(org=help_center.site.org, actor=test_by)
    help_center = _lock(help_center)
    now = now or timezone.now()
    requests_purge(now)
    request = HelpCenterSamlRequest.objects.create(
        request_id=authn.new_request_id(),
        help_center=help_center,
        created_at=now,
        relay_state=relay_state[:2000],
        test_mode=test_by is not None,
        requested_by=test_by,
    )
    url = authn.sign_in_redirect(
        request_id=request.request_id,
        issue_instant=now.astimezone(UTC),
        sp_entity_id=selectors.sp_entity_id(help_center),
        acs_url=selectors.acs_url(help_center),
        idp_sso_url=help_center.idp_sso_url,
    )
    return request, url


@transaction.atomic
def help_center_sso_test_record(
    *, help_center: HelpCenter, actor: Account, reason: str, email: str = ""
) -> None:
    """``helpcenter:idp:tested``; a passing test (``reason == "ok"``) allows turning SSO on."""
    audit_actor = org_actor(org=help_center.site.org, actor=actor)
    help_center = _lock(help_center)
    if reason == "ok":
        help_center.sso_tested_at = timezone.now()
        help_center.save(update_fields=["sso_tested_at", "updated_at"])
    _record(
        help_center,
        "helpcenter:idp:tested",
        audit_actor,
        outcome="ok" if reason == "ok" else "failed",
        reason=reason,
        email=email,
    )


# --- customers: admin --------------------------------------------------------------------------------


def _customer_locked(help_center: HelpCenter, customer_id: str) -> Customer:
    customer = (
        Customer.objects.select_for_update()
        .filter(help_center=help_center, customer_id=public_id_lookup(customer_id))
        .first()
    )
    if customer is None:
        raise NotFound()
    return customer


@transaction.atomic
def customer_deactivate(*, org: Organization, actor: OrgActor, site_id: str, customer_id: str) -> Customer:
    """Block a customer's sign-in (their portal sessions end at their next request). Raises ``NotFound``."""
    audit_actor = org_actor(org=org, actor=actor)
    help_center = _locked(org, site_id)
    customer = _customer_locked(help_center, customer_id)
    if customer.is_active:
        customer.is_active = False
        customer.save(update_fields=["is_active"])
        _record(help_center, "helpcenter:customer:deactivated", audit_actor, customer_target(customer))
    return customer


@transaction.atomic
def customer_reactivate(*, org: Organization, actor: OrgActor, site_id: str, customer_id: str) -> Customer:
    audit_actor = org_actor(org=org, actor=actor)
    help_center = _locked(org, site_id)
    customer = _customer_locked(help_center, customer_id)
    if not customer.is_active:
        customer.is_active = True
        customer.save(update_fields=["is_active"])
        _record(help_center, "helpcenter:customer:reactivated", audit_actor, customer_target(customer))
    return customer


@transaction.atomic
def customer_remove(*, org: Organization, actor: OrgActor, site_id: str, customer_id: str) -> None:
    """Delete the customer of this help center (the same email elsewhere is untouched)."""
    audit_actor = org_actor(org=org, actor=actor)
    help_center = _locked(org, site_id)
    customer = _customer_locked(help_center, customer_id)
    target = customer_target(customer)
    customer.delete()
    _record(help_center, "helpcenter:customer:removed", audit_actor, target)


# --- customers: the portal ----------------------------------------------------------------------------


def _email(value: str) -> str:
    email = normalize_email(value or "")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput("Enter a valid email address.") from exc
    return email


def _password(password: str) -> str:
    try:
        password_validation.validate_password(password)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from exc
    return make_password(password)


@transaction.atomic
def customer_sign_up(
    *, help_center: HelpCenter, email: str, password: str, display_name: str = ""
) -> Customer:
    """A new customer with a password (only while password sign-in is on). Raises ``InvalidInput``
    (bad email, weak password, email taken in this help center), ``AuthenticationRule``."""
    help_center = _lock(help_center)
    if not help_center.password_enabled:
        raise AuthenticationRule("This help center signs customers in through single sign-on only.")
    email = _email(email)
    if Customer.objects.filter(help_center=help_center, email=email).exists():
        raise InvalidInput("This email already has a customer account here: sign in or reset your password.")
    customer = Customer.objects.create(
        help_center=help_center,
        email=email,
        display_name=(display_name or "").strip()[:200] or email.split("@")[0],
        password=_password(password),
        last_signin_at=timezone.now(),
    )
    _record(help_center, "helpcenter:customer:signed_up", customer_actor(customer), customer_target(customer))
    return customer


@transaction.atomic
def customer_password_signin(*, help_center: HelpCenter, email: str, password: str) -> Customer:
    """Check a customer's email and password. Raises ``CustomerSigninRefused`` (``password_disabled``,
    ``bad_credentials``, ``deactivated``); the caller records the failure with
    ``customer_signin_failure_record`` (this transaction rolls back)."""
    if not help_center.password_enabled:
        raise CustomerSigninRefused(
            "password_disabled", "This help center signs customers in through single sign-on."
        )
    email = normalize_email(email or "")[:254]
    customer = (
        Customer.objects.select_for_update().filter(help_center=help_center, email=email).first()
        if help_center.pk
        else None
    )
    if customer is None or not customer.password:
        check_password(password, _DUMMY_PASSWORD)
        raise CustomerSigninRefused("bad_credentials", "Wrong email or password.")
    if not check_password(password, customer.password):
        raise CustomerSigninRefused("bad_credentials", "Wrong email or password.")
    if not customer.is_active:
        raise CustomerSigninRefused("deactivated", "Your access to this help center was deactivated.")
    customer.last_signin_at = timezone.now()
    customer.save(update_fields=["last_signin_at"])
    _record(
        help_center,
        "helpcenter:customer:signed_in",
        customer_actor(customer),
        customer_target(customer),
        method="password",
    )
    return customer


@transaction.atomic
def customer_signin_failure_record(
    *, help_center: HelpCenter, reason: str, email: str = "", method: str = "password"
) -> None:
    """``helpcenter:customer:signin_failed`` with its stable reason (the help center must exist)."""
    help_center = _lock(help_center)
    _record(
        help_center,
        "helpcenter:customer:signin_failed",
        Actor.anonymous((email or "")[:254]),
        method=method,
        reason=reason,
    )


_FIRST = frozenset({"givenname", "firstname", "first_name", "2.5.4.42"})
_LAST = frozenset({"sn", "surname", "lastname", "last_name", "2.5.4.4"})
_DISPLAY = frozenset({"displayname", "name", "2.16.840.1.113730.3.1.241"})


def _display_name(result: SamlResult) -> str:
    """The customer's name from the usual attributes of Okta, Entra ID, Google, AD FS and LDAP
    (matched by the attribute name's last part: a help center has no attribute mapping screen)."""

    def find(names: frozenset[str]) -> str:
        for key, values in result.attributes.items():
            last = key.replace("/", ":").rsplit(":", 1)[-1].lower()
            if last in names and values and values[0].strip():
                return values[0].strip()
        return ""

    first, last = result.first_name or find(_FIRST), result.last_name or find(_LAST)
    return (" ".join(p for p in (first, last) if p) or find(_DISPLAY))[:200]


@transaction.atomic
def customer_sso_signin(*, help_center: HelpCenter, result: SamlResult) -> Customer:
    """The customer for an accepted assertion, created on first sign-in (no sign-up with SSO).

    The assertion proves the email. A customer found by it whose password came from a sign-up that
    never proved the email (``Customer.email_verified`` false) may be someone else's — whoever
    signed up first with the address. Decided here (smaller than an email-verification flow the
    help center does not have): that password is cleared, which also ends every other portal
    session of the customer (a session is bound to the password hash, ``session.py``), and
    ``helpcenter:customer:unverified_password_cleared`` is recorded. The real customer can set a
    password again with "Forgot your password?" (the link proves the address). Raises
    ``CustomerSigninRefused`` (``sso_disabled``, ``deactivated``, ``name_id_invalid``)."""
    help_center = _lock(help_center)
    if not help_center.sso_enabled:
        raise CustomerSigninRefused("sso_disabled", "Single sign-on is not turned on for this help center.")
    try:
        # As sign-up stores it (ASCII domain, validated): the processor only checks the NameID's shape.
        email = _email(result.email)
    except InvalidInput as exc:
        raise CustomerSigninRefused(errors.NameIdInvalid.reason, errors.NameIdInvalid.message) from exc
    customer = Customer.objects.select_for_update().filter(help_center=help_center, email=email).first()
    created = customer is None
    name = _display_name(result)
    if customer is None:
        customer = Customer.objects.create(
            help_center=help_center,
            email=email,
            display_name=name or email.split("@")[0],
            email_verified=True,
        )
    elif not customer.is_active:
        raise CustomerSigninRefused("deactivated", "Your access to this help center was deactivated.")
    elif name and customer.display_name != name:
        customer.display_name = name
    if not customer.email_verified:
        if customer.password:
            customer.password = ""
            _record(
                help_center,
                "helpcenter:customer:unverified_password_cleared",
                customer_actor(customer),
                customer_target(customer),
            )
        customer.email_verified = True
    customer.last_signin_at = timezone.now()
    customer.save()
    _record(
        help_center,
        "helpcenter:customer:signed_in",
        customer_actor(customer),
        customer_target(customer),
        method="sso",
        created=created,
    )
    return customer


@transaction.atomic
def customer_password_reset_request(*, help_center: HelpCenter, email: str) -> None:
    """Email a one-hour reset link to an active customer with this email, if there is one; answers
    the same either way (no enumeration). Only while password sign-in is on."""
    if not help_center.password_enabled or help_center.pk is None:
        return
    email = normalize_email(email or "")[:254]
    customer = (
        Customer.objects.select_for_update()
        .filter(help_center=help_center, email=email, is_active=True)
        .first()
    )
    if customer is None:
        return
    token = new_secret()
    customer.reset_token_hash = secret_hash(token)
    customer.reset_expires_at = timezone.now() + RESET_LIFETIME
    customer.save(update_fields=["reset_token_hash", "reset_expires_at"])
    _record(
        help_center,
        "helpcenter:customer:password_reset_requested",
        customer_actor(customer),
        customer_target(customer),
    )
    emails.reset_link_send_after_commit(
        to=customer.email, site_id=help_center.site.site_id, site_name=help_center.site.name, token=token
    )


@transaction.atomic
def customer_password_reset(*, help_center: HelpCenter, token: str, password: str) -> Customer:
    """Set a new password with a reset link's token (used once). Raises ``InvalidInput``."""
    digest = secret_hash(token or "")
    customer = (
        Customer.objects.select_for_update()
        .filter(help_center=help_center, reset_token_hash=digest, is_active=True)
        .first()
        if help_center.pk and token
        else None
    )
    if (
        customer is None
        or not constant_time_compare(customer.reset_token_hash, digest)
        or customer.reset_expires_at is None
        or customer.reset_expires_at <= timezone.now()
        or not help_center.password_enabled
    ):
        raise InvalidInput("This reset link is invalid, expired or already used. Ask for a new one.")
    customer.password = _password(password)
    customer.reset_token_hash = ""
    customer.reset_expires_at = None
    customer.email_verified = True  # the link went to the address
    customer.save(update_fields=["password", "reset_token_hash", "reset_expires_at", "email_verified"])
    _record(
        help_center, "helpcenter:customer:password_reset", customer_actor(customer), customer_target(customer)
    )
    return customer


@transaction.atomic
def customer_sso_failure_record(
    *, help_center: HelpCenter, reason: str, detail: str, email: str = ""
) -> None:
    """``helpcenter:customer:sso_failed`` with the processor's (or the service's) reason code."""
    help_center = _lock(help_center)
    _record(
        help_center,
        "helpcenter:customer:sso_failed",
        Actor.anonymous((email or "")[:254]),
        reason=reason,
        detail=detail[:500],
    )
