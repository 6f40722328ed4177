"""Changes to the subscription: start the 30-day trial; the daily job's warnings, expiry and snapshot.

Lapsing means the security features stop being enforced for the org's managed accounts — enforced
SSO, mandatory two-step verification and provisioning — (``selectors.security_enforced``); the
admins are warned 7 days and 1 day before. Whether the trial turns paid or lapses at its end is the
operator's choice: ``ORGWARDEN_BILLING_PAYMENT_REQUIRED`` (default ``false``: no payment step, the
trial turns paid).

The operator's step: ``subscription_mark_paid`` records a payment (a trial or lapsed subscription
turns paid and enforcement resumes at once) and ``subscription_lapse`` ends a trial or paid
subscription (enforcement pauses). Both are for the installation's operators — the
``orgwarden billing mark-paid|lapse --org <orgId>`` command, or a staff account in the support
console — never for org admins; each records its event and emails the org's admins after commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from orgwarden import humanize
from orgwarden.accounts.emails import absolute_url, send_templated
from orgwarden.accounts.models import Account
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.billing import selectors
from orgwarden.billing.exceptions import (
    AlreadyInStatus,
    NoSubscription,
    NotOperator,
    NoVerifiedDomain,
    TrialAlreadyStarted,
)
from orgwarden.billing.models import BillableSnapshot, Subscription
from orgwarden.orgs.models import Organization
from orgwarden.orgs.services.actors import org_actor

TRIAL_DAYS = 30
LAPSED_TEXT = (
    "Enforced single sign-on, mandatory two-step verification and provisioning are no longer enforced "
    "for your managed accounts. Your settings are kept: enforcement resumes as soon as the subscription "
    "is paid. Raise a support request to pay."
)


def _org_target(org: Organization) -> Target:
    return Target("org", org.org_id, org.name)


@transaction.atomic
def subscription_trial_start(*, org: Organization, actor: Account) -> Subscription:
    """Start the org's 30-day free trial of the security subscription.

    Raises ``orgs.exceptions.NotFound`` unless ``actor`` is an admin of ``org``, ``NoVerifiedDomain``
    before a domain is verified, ``TrialAlreadyStarted`` the second time.
    """
    who = org_actor(org=org, actor=actor)
    if not selectors.has_verified_domain(org=org):
        raise NoVerifiedDomain()
    now = timezone.now()
    try:
        with transaction.atomic():
            sub = Subscription.objects.create(
                org=org, trial_started_at=now, trial_ends_at=now + timedelta(days=TRIAL_DAYS)
            )
    except IntegrityError as exc:
        raise TrialAlreadyStarted() from exc
    event_record(
        action="org:subscription:trial_started",
        actor=who,
        org_id=org.org_id,
        targets=[_org_target(org)],
        details={"trial_ends_at": sub.trial_ends_at.isoformat()},
    )
    return sub


def _email_admins(org: Organization, subject: str, text: str) -> None:
    emails = list(org.admins.values_list("account__email", flat=True))
    url = absolute_url(reverse("console:billing", args=[org.org_id]))

    def send() -> None:
        for email in emails:
            send_templated(
                to=email,
                subject=subject,
                template="billing/email_trial.txt",
                context={"org": org, "text": text, "url": url},
            )

    transaction.on_commit(send)


@transaction.atomic
def _subscription_tick(sub_id: int) -> str | None:
    sub = Subscription.objects.select_for_update().select_related("org").get(pk=sub_id)
    if sub.status != Subscription.Status.TRIAL:
        return None
    org, now = sub.org, timezone.now()
    if now >= sub.trial_ends_at:
        lapse = settings.BILLING_PAYMENT_REQUIRED
        sub.status = Subscription.Status.LAPSED if lapse else Subscription.Status.PAID
        setattr(sub, "lapsed_at" if lapse else "paid_at", now)
        sub.save()
        event_record(
            action="org:subscription:lapsed" if lapse else "org:subscription:paid",
            actor=Actor.system(),
            org_id=org.org_id,
            targets=[_org_target(org)],
        )
        if lapse:
            _email_admins(org, "Your security subscription has lapsed", LAPSED_TEXT)
        return sub.status
    left = sub.trial_ends_at - now
    if left <= timedelta(days=1) and sub.warned_1_day_at is None:
        days = 1  # a first run this late sends only the nearer warning
    elif left <= timedelta(days=7) and sub.warned_7_days_at is None and sub.warned_1_day_at is None:
        days = 7
    else:
        return None
    sub.warned_1_day_at = now if days == 1 else None
    sub.warned_7_days_at = sub.warned_7_days_at or now
    sub.save()
    event_record(
        action="org:subscription:expiry_warned",
        actor=Actor.system(),
        org_id=org.org_id,
        targets=[_org_target(org)],
        details={"days": days, "trial_ends_at": sub.trial_ends_at.isoformat()},
    )
    ends = "lapses unless it is paid" if settings.BILLING_PAYMENT_REQUIRED else "turns paid"
    _email_admins(
        org,
        f"Your free trial ends in {days} day{'s' if days > 1 else ''}",
        f"On {humanize.moment_in_full(sub.trial_ends_at)} your trial {ends}. A lapsed subscription stops "
        "enforcing single sign-on, mandatory two-step verification and provisioning.",
    )
    return f"warned-{days}"


def _operator(operator: Account | None) -> Actor:
    """The audit actor of an operator's step: a staff account, or the command line (``None``)."""
    if operator is None:
        return Actor.system("operator (orgwarden billing)")
    if not (operator.is_staff and operator.status == Account.Status.ACTIVE):
        raise NotOperator()
    return Actor.account(operator)


def _locked_subscription(org: Organization) -> Subscription:
    sub = Subscription.objects.select_for_update().filter(org=org).first()
    if sub is None:
        raise NoSubscription()
    return sub


@transaction.atomic
def subscription_mark_paid(*, org: Organization, operator: Account | None, note: str = "") -> Subscription:
    """The operator records ``org``'s payment: its trial or lapsed subscription turns paid, and
    enforced SSO, mandatory 2SV and provisioning apply again at once. ``note`` (an invoice number …)
    goes into the audit event. ``operator`` is a staff account, or ``None`` for the command line.

    Raises ``NotOperator`` unless ``operator`` is an active staff account (or ``None``),
    ``NoSubscription`` when the org never started its trial, ``AlreadyInStatus`` when it is paid already.
    """
    who = _operator(operator)
    sub = _locked_subscription(org)
    if sub.status == Subscription.Status.PAID:
        raise AlreadyInStatus(Subscription.Status.PAID.label)
    before, now = sub.status, timezone.now()
    sub.status, sub.paid_at, sub.lapsed_at = Subscription.Status.PAID, now, None
    sub.save(update_fields=["status", "paid_at", "lapsed_at"])
    event_record(
        action="org:subscription:paid",
        actor=who,
        org_id=org.org_id,
        targets=[_org_target(org)],
        details={"from": before, "by": "operator", "note": note.strip()[:200]},
    )
    _email_admins(
        org,
        "Your security subscription is paid",
        "Thank you: your payment is recorded. Enforced single sign-on, mandatory two-step verification "
        "and provisioning apply to your managed accounts.",
    )
    return sub


@transaction.atomic
def subscription_lapse(*, org: Organization, operator: Account | None, note: str = "") -> Subscription:
    """The operator ends ``org``'s trial or paid subscription (unpaid, cancelled): it lapses, and
    enforced SSO, mandatory 2SV and provisioning pause until it is marked paid again.

    Raises ``NotOperator`` unless ``operator`` is an active staff account (or ``None``),
    ``NoSubscription`` when the org never started its trial, ``AlreadyInStatus`` when it has lapsed already.
    """
    who = _operator(operator)
    sub = _locked_subscription(org)
    if sub.status == Subscription.Status.LAPSED:
        raise AlreadyInStatus(Subscription.Status.LAPSED.label)
    before = sub.status
    sub.status, sub.lapsed_at = Subscription.Status.LAPSED, timezone.now()
    sub.save(update_fields=["status", "lapsed_at"])
    event_record(
        action="org:subscription:lapsed",
        actor=who,
        org_id=org.org_id,
        targets=[_org_target(org)],
        details={"from": before, "by": "operator", "note": note.strip()[:200]},
    )
    _email_admins(org, "Your security subscription has lapsed", LAPSED_TEXT)
    return sub


@dataclass
class DailySummary:
    warned: int = 0
    paid: int = 0
    lapsed: int = 0
    snapshots: int = 0
    errors: list[str] = field(default_factory=list)


def billing_daily() -> DailySummary:
    """The daily job: trial warnings and expiries, then today's billable count of every org."""
    summary = DailySummary()
    for sub_id in Subscription.objects.filter(status=Subscription.Status.TRIAL).values_list("pk", flat=True):
        outcome = _subscription_tick(sub_id)
        if outcome and outcome.startswith("warned"):
            summary.warned += 1
        elif outcome == Subscription.Status.PAID:
            summary.paid += 1
        elif outcome == Subscription.Status.LAPSED:
            summary.lapsed += 1
    today = timezone.now().date()
    for org in Organization.objects.all().iterator():
        BillableSnapshot.objects.update_or_create(
            org=org, day=today, defaults={"count": selectors.billable_count(org=org)}
        )
        summary.snapshots += 1
    return summary
