"""Domains: add, verify (DNS TXT record or HTTPS file), choose how accounts are claimed, re-check, remove.

The proof lookups (``orgs.proofs``) reach out to the network and may take seconds, so no service
holds a database transaction open across one: ``domain_verify`` and the re-check look first, then
write the outcome and its audit event in one short transaction, re-reading the domain under a row
lock. A failed verification is an outcome, not an error: it is stored on the domain
(``last_check_error``) and recorded (``org:domain:verification_failed``) so the admin sees exactly
what is wrong.

Re-checks: ``domains_recheck`` looks at every verified domain again with the method that verified
it. A proof that went missing starts a grace period (``DOMAIN_PROOF_GRACE_DAYS``) and an email to
the org's admins; a proof back in time ends it; a proof still missing after it unverifies the
domain, turns its claim back to manual and releases every account claimed through it.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import idna
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from orgwarden import humanize
from orgwarden.accounts import emails
from orgwarden.accounts.models import Account
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.orgs import proofs
from orgwarden.orgs.exceptions import AutomaticClaimTaken, DomainNotVerified, InvalidInput, NotFound
from orgwarden.orgs.models import Domain, OrgAdmin, Organization, OrgUser
from orgwarden.orgs.public_domains import is_public_mail_domain
from orgwarden.orgs.selectors import domains as selectors
from orgwarden.orgs.services.actors import OrgActor, org_actor
from orgwarden.orgs.services.claims import account_release, accounts_claim_many

LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_NAME = 253
PROOF_CHECKS = {Domain.Method.DNS: proofs.check_dns, Domain.Method.HTTPS: proofs.check_https}


def domain_target(domain: Domain) -> Target:
    return Target("domain", domain.domain_id, domain.name)


def domain_name_clean(raw: str) -> str:
    """``raw`` as a stored domain name: lower case, IDNA (punycode) ASCII, no trailing dot.

    Raises ``InvalidInput`` saying what is wrong: empty, an email or URL, an IP address, a single
    label, too long, a label with characters DNS does not allow.
    """
    name = raw.strip().lower().rstrip(".")
    if not name:
        raise InvalidInput("Enter a domain name, like example.com.")
    if _is_ip(name):
        raise InvalidInput("Enter a domain name, not an IP address.")
    if any(char in name for char in "@/:"):
        raise InvalidInput("Enter the domain name only, like example.com (no email address or URL).")
    too_long = InvalidInput(f"A domain name has at most {MAX_NAME} characters.")
    if len(name) > MAX_NAME:
        raise too_long
    try:
        name = idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidInput(f"{raw.strip()[:100]} is not a valid domain name.") from exc
    if len(name) > MAX_NAME:
        raise too_long
    labels = name.split(".")
    if len(labels) < 2:
        raise InvalidInput("Enter a full domain name with a dot, like example.com.")
    if not all(LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise InvalidInput(f"{raw.strip()[:100]} is not a valid domain name.")
    return name


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _domain_for_update(*, org: Organization, domain_id: str) -> Domain:
    """``org``'s domain ``domain_id``, locked. Raises ``NotFound``, also when a concurrent request
    removed it while this one waited for its lock (a remove sent twice at once)."""
    domain = selectors.domain_get(org=org, domain_id=domain_id)
    locked = Domain.objects.select_for_update().filter(pk=domain.pk).first()
    if locked is None:
        raise NotFound()
    return locked


# --- add, verify, remove ------------------------------------------------------------------------------


@transaction.atomic
def domain_add(*, org: Organization, actor: OrgActor, name: str) -> Domain:
    """Add ``name`` to ``org``'s domains, unverified, with a fresh verification token.

    Raises ``InvalidInput`` (a malformed name, a public mail domain, a domain the org already has)
    or ``NotFound`` (``actor`` may not act on ``org``).
    """
    who = org_actor(org=org, actor=actor)
    name = domain_name_clean(name)
    if is_public_mail_domain(name):
        raise InvalidInput(
            f"{name} is a public mail domain: anyone can have an address there, so no organization can "
            "verify it."
        )
    if Domain.objects.filter(org=org, name=name).exists():
        raise InvalidInput(f"{name} is already one of your domains.")
    try:
        with transaction.atomic():
            domain = Domain.objects.create(org=org, name=name, token=secrets.token_hex(16))
    except IntegrityError as exc:  # the same name added twice at once
        raise InvalidInput(f"{name} is already one of your domains.") from exc
    event_record(action="org:domain:added", actor=who, org_id=org.org_id, targets=[domain_target(domain)])
    return domain


@dataclass(frozen=True, slots=True)
class VerificationResult:
    domain: Domain
    verified: bool
    reason: str = ""  # why not, in words the admin can act on


def domain_verify(*, org: Organization, actor: OrgActor, domain_id: str, method: str) -> VerificationResult:
    """Look for ``domain_id``'s proof by ``method`` ("dns" or "https") and record what was found.

    Found: the domain is verified (``org:domain:verified``). Not found: nothing raises; the reason
    is stored on the domain and recorded (``org:domain:verification_failed``), and a domain that
    was already verified stays so (the re-check decides about that). Raises ``NotFound`` or
    ``InvalidInput`` (an unknown method).
    """
    who = org_actor(org=org, actor=actor)
    domain = selectors.domain_get(org=org, domain_id=domain_id)
    if method not in PROOF_CHECKS:
        raise InvalidInput("Choose how to verify: a DNS TXT record or an HTTPS file.")
    # The lookup runs outside any transaction (it may take seconds); the outcome is written under lock.
    result = PROOF_CHECKS[method](domain.name, domain.token)
    return _verification_record(org=org, who=who, domain_pk=domain.pk, method=method, result=result)


@transaction.atomic
def _verification_record(
    *, org: Organization, who: Actor, domain_pk: int, method: str, result: proofs.ProofResult
) -> VerificationResult:
    domain = Domain.objects.select_for_update().filter(pk=domain_pk, org=org).first()
    if domain is None:  # removed while we looked
        raise NotFound()
    now = timezone.now()
    domain.last_checked_at = now
    if result.found:
        domain.status = Domain.Status.VERIFIED
        domain.method = method
        domain.verified_at = now
        domain.last_check_error = ""
        domain.proof_missing_since = None
        domain.save()
        event_record(
            action="org:domain:verified",
            actor=who,
            org_id=org.org_id,
            targets=[domain_target(domain)],
            details={"method": method},
        )
        return VerificationResult(domain, True)
    domain.last_check_error = result.reason[:500]
    domain.save(update_fields=["last_checked_at", "last_check_error"])
    event_record(
        action="org:domain:verification_failed",
        actor=who,
        org_id=org.org_id,
        targets=[domain_target(domain)],
        details={"method": method, "reason": result.reason},
    )
    return VerificationResult(domain, False, result.reason)


def _release_claimed_through(*, domain: Domain, actor: Actor, reason: str) -> int:
    org = domain.org
    accounts = Account.objects.filter(
        org_users__org=org, org_users__is_managed=True, org_users__domain=domain
    ).order_by("pk")
    released = 0
    for account in accounts:
        account_release(org=org, account=account, actor=actor, reason=reason)
        released += 1
    return released


@transaction.atomic
def domain_remove(*, org: Organization, actor: OrgActor, domain_id: str) -> int:
    """Remove a domain, releasing every account claimed through it; returns how many were released.

    Raises ``NotFound``.
    """
    who = org_actor(org=org, actor=actor)
    domain = _domain_for_update(org=org, domain_id=domain_id)
    released = _release_claimed_through(domain=domain, actor=who, reason="domain_removed")
    event_record(
        action="org:domain:removed",
        actor=who,
        org_id=org.org_id,
        targets=[domain_target(domain)],
        details={"status": domain.status, "accounts_released": released},
    )
    domain.delete()
    return released


# --- claiming -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimResult:
    domain: Domain
    claimed: int = 0
    skipped: int = 0  # accounts another org manages, left alone


@transaction.atomic
def domain_claim_set(*, org: Organization, actor: OrgActor, domain_id: str, claim: str) -> ClaimResult:
    """Set how ``domain_id``'s accounts are claimed: ``"automatic"`` or ``"manual"``.

    Turning it automatic claims, now, every account on the domain that no other org manages
    (``org:account:claimed`` each) and, from then on, every new one. Raises ``NotFound``,
    ``InvalidInput`` (unknown setting), ``DomainNotVerified`` or ``AutomaticClaimTaken``.
    """
    who = org_actor(org=org, actor=actor)
    if claim not in Domain.Claim.values:
        raise InvalidInput("Choose automatic or manual.")
    domain = _domain_for_update(org=org, domain_id=domain_id)
    if domain.status != Domain.Status.VERIFIED:
        raise DomainNotVerified()
    if domain.claim == claim:
        return ClaimResult(domain)
    taken = AutomaticClaimTaken(f"Another organization already claims {domain.name} automatically.")
    if claim == Domain.Claim.AUTOMATIC and (
        Domain.objects.filter(name=domain.name, claim=Domain.Claim.AUTOMATIC).exclude(pk=domain.pk).exists()
    ):
        raise taken
    previous, domain.claim = domain.claim, claim
    try:
        with transaction.atomic():
            domain.save(update_fields=["claim"])
    except IntegrityError as exc:  # another org turned it automatic between our check and our write
        raise taken from exc
    result = ClaimResult(domain)
    if claim == Domain.Claim.AUTOMATIC:
        result = _claim_on_domain(
            org=org, who=who, domain=domain, accounts=selectors.accounts_on(domain.name)
        )
    event_record(
        action="org:domain:claim_changed",
        actor=who,
        org_id=org.org_id,
        targets=[domain_target(domain)],
        details={"from": previous, "to": claim, "claimed": result.claimed, "skipped": result.skipped},
    )
    return result


def _claim_on_domain(*, org: Organization, who: Actor, domain: Domain, accounts) -> ClaimResult:
    """Claim ``accounts`` (a queryset on ``domain``) but those ``org`` or another org manages.

    One query finds them all, flagging the ones another org manages (skipped and counted).
    Raises ``InvalidInput`` should concurrent claims or invitations win twice in a row.
    """
    mine = OrgUser.objects.filter(org=org, account=OuterRef("pk"), is_managed=True)
    elsewhere = OrgUser.objects.filter(account=OuterRef("pk"), is_managed=True).exclude(org=org)
    for _ in range(2):
        found = list(accounts.exclude(Exists(mine)).annotate(elsewhere=Exists(elsewhere)).order_by("pk"))
        wanted = [account for account in found if not account.elsewhere]
        try:
            with transaction.atomic():  # what a lost race rolls back, and only that
                claimed = accounts_claim_many(org=org, accounts=wanted, domain=domain, actor=who)
        except IntegrityError:
            # An invitation gave one of them a user row of this org, or another org claimed one,
            # after the read (PostgreSQL: the insert waited for it). Read again, now that it is
            # visible: the row is claimed, or the account skipped, as when it had come first.
            continue
        return ClaimResult(domain, len(claimed), len(found) - len(wanted))
    raise InvalidInput("Some of these accounts are being changed by another request; try again.")


@transaction.atomic
def accounts_claim(
    *, org: Organization, actor: OrgActor, domain_id: str, account_ids: list[str]
) -> ClaimResult:
    """Claim the chosen accounts (by account id) on a verified domain of ``org``.

    Ids of accounts not on the domain are ignored; accounts another org manages are skipped and
    counted. Raises ``NotFound`` or ``DomainNotVerified``.
    """
    who = org_actor(org=org, actor=actor)
    domain = _domain_for_update(org=org, domain_id=domain_id)
    if domain.status != Domain.Status.VERIFIED:
        raise DomainNotVerified()
    ids = [i for i in dict.fromkeys(account_ids) if i and "\x00" not in i][:1000]
    return _claim_on_domain(
        org=org,
        who=who,
        domain=domain,
        accounts=selectors.accounts_on(domain.name).filter(account_id__in=ids),
    )


# --- re-checks ----------------------------------------------------------------------------------------


@dataclass
class RecheckSummary:
    checked: int = 0
    ok: int = 0
    missing: int = 0  # proof missing, within the grace period (including newly missing)
    restored: int = 0
    unverified: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"Re-checked {self.checked} verified domain{'s' if self.checked != 1 else ''}: {self.ok} ok, "
            f"{self.restored} restored, {self.missing} proof missing, {self.unverified} unverified, "
            f"{len(self.errors)} error{'s' if len(self.errors) != 1 else ''}."
        )


def domains_recheck(*, now: datetime | None = None) -> RecheckSummary:
    """Re-check every verified domain with the method that verified it; returns what happened.

    Each domain is looked up, then written in its own transaction: one failure (a lookup that
    raises, a database error) is counted in ``errors`` and never undoes another domain's outcome.
    """
    summary = RecheckSummary()
    pks = list(
        Domain.objects.filter(status=Domain.Status.VERIFIED).order_by("pk").values_list("pk", flat=True)
    )
    for pk in pks:
        domain = Domain.objects.filter(pk=pk).first()
        if domain is None:  # removed since the list was read
            continue
        summary.checked += 1
        try:
            result = PROOF_CHECKS[domain.method](domain.name, domain.token)
            outcome = _recheck_record(domain_pk=pk, result=result, now=now or timezone.now())
        except Exception as exc:  # one domain's failure must not stop the others
            summary.errors.append(f"domain {pk}: {type(exc).__name__}: {exc}")
            continue
        setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


@transaction.atomic
def _recheck_record(*, domain_pk: int, result: proofs.ProofResult, now: datetime) -> str:
    """Write one re-check's outcome; returns the summary field it counts in."""
    domain = Domain.objects.select_for_update().select_related("org").filter(pk=domain_pk).first()
    if domain is None or domain.status != Domain.Status.VERIFIED:  # removed or unverified meanwhile
        return "ok"
    org, system = domain.org, Actor.system("domain re-check")
    domain.last_checked_at = now
    if result.found:
        outcome = "ok"
        if domain.proof_missing_since is not None:
            event_record(
                action="org:domain:proof_restored",
                actor=system,
                org_id=org.org_id,
                targets=[domain_target(domain)],
                details={"method": domain.method, "missing_since": domain.proof_missing_since.isoformat()},
            )
            domain.proof_missing_since = None
            outcome = "restored"
        domain.last_check_error = ""
        domain.save(update_fields=["last_checked_at", "proof_missing_since", "last_check_error"])
        return outcome
    domain.last_check_error = result.reason[:500]
    grace = timedelta(days=settings.DOMAIN_PROOF_GRACE_DAYS)
    if domain.proof_missing_since is None:
        domain.proof_missing_since = now
        domain.save(update_fields=["last_checked_at", "proof_missing_since", "last_check_error"])
        deadline = now + grace
        event_record(
            action="org:domain:proof_missing",
            actor=system,
            org_id=org.org_id,
            targets=[domain_target(domain)],
            details={
                "method": domain.method,
                "reason": result.reason,
                "unverified_after": deadline.isoformat(),
            },
        )
        _email_admins(domain=domain, template="orgs/email/domain_proof_missing.txt", deadline=deadline)
        return "missing"
    if now < domain.proof_missing_since + grace:
        domain.save(update_fields=["last_checked_at", "last_check_error"])
        return "missing"
    released = _release_claimed_through(domain=domain, actor=system, reason="domain_unverified")
    domain.status = Domain.Status.UNVERIFIED
    domain.claim = Domain.Claim.MANUAL
    domain.proof_missing_since = None
    domain.save()
    event_record(
        action="org:domain:unverified",
        actor=system,
        org_id=org.org_id,
        targets=[domain_target(domain)],
        details={"method": domain.method, "reason": result.reason, "accounts_released": released},
    )
    _email_admins(domain=domain, template="orgs/email/domain_unverified.txt", deadline=now, released=released)
    return "unverified"


def _email_admins(*, domain: Domain, template: str, deadline: datetime, released: int = 0) -> None:
    """Queue one email per admin of the domain's org, sent after the re-check's transaction commits."""
    org = domain.org
    recipients = list(OrgAdmin.objects.filter(org=org).values_list("account__email", flat=True))
    missing = (
        f"the TXT record {proofs.TXT_PREFIX}{domain.token} at {domain.name}"
        if domain.method == Domain.Method.DNS
        else f"the file https://{domain.name}{proofs.HTTPS_PATH} holding {domain.token}"
    )
    context = {
        "org_name": org.name,
        "domain": domain.name,
        "missing": missing,
        "reason": domain.last_check_error,
        "deadline": humanize.moment_in_full(deadline),
        "released": released,
        "url": emails.absolute_url(reverse("console:domain", args=[org.org_id, domain.domain_id])),
    }
    subject = (
        f"Action needed: the proof for {domain.name} is missing"
        if template.endswith("proof_missing.txt")
        else f"{domain.name} is no longer verified"
    )
    for to in recipients:
        emails.send_after_commit(to=to, subject=subject, template=template, context=context)
