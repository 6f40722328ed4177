"""``orgwarden billing``: the subscription jobs and the operator's payment step.

- ``daily``: trial warnings (7 and 1 days before) and expiry, and today's billable count of every org
  (kept for the billing page's chart). Part of ``orgwarden daily``.
- ``status --org <orgId>``: the org's subscription and whether its security features are enforced.
- ``mark-paid --org <orgId> [--note TEXT]``: record the org's payment; a trial or lapsed subscription
  turns paid and enforcement resumes at once (``services.subscription_mark_paid``, audited).
- ``lapse --org <orgId> [--note TEXT]``: end a trial or paid subscription (unpaid, cancelled);
  enforced SSO, mandatory 2SV and provisioning pause (``services.subscription_lapse``, audited).

A bad org id or a change that does not apply stops with a clear message and exit status 1, having
changed nothing.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgwarden.accounts.ids import public_id_lookup
from orgwarden.billing import selectors, services
from orgwarden.billing.exceptions import BillingError
from orgwarden.orgs.models import Organization


class Command(BaseCommand):
    help = "Billing: `daily` jobs, and the operator's `status`, `mark-paid` and `lapse` of an org."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        commands.add_parser("daily", help="trial warnings and expiry; today's billable counts")
        for name, text in (
            ("status", "show an org's subscription"),
            ("mark-paid", "record an org's payment: its subscription turns paid"),
            ("lapse", "end an org's trial or paid subscription"),
        ):
            sub = commands.add_parser(name, help=text)
            sub.add_argument("--org", required=True, dest="org_id", help="the organization's id")
            if name != "status":
                sub.add_argument("--note", default="", help="kept in the audit event (an invoice number …)")

    def handle(self, *args, action: str, **options) -> None:
        if action == "daily":
            summary = services.billing_daily()
            self.stdout.write(
                f"billing: {summary.warned} warned, {summary.paid} paid, {summary.lapsed} lapsed, "
                f"{summary.snapshots} snapshots"
            )
            return
        org = Organization.objects.filter(org_id=public_id_lookup(str(options["org_id"]))).first()
        if org is None:
            raise CommandError(f"No organization with the id {options['org_id']!r}.")
        try:
            if action == "mark-paid":
                services.subscription_mark_paid(org=org, operator=None, note=options["note"])
            elif action == "lapse":
                services.subscription_lapse(org=org, operator=None, note=options["note"])
        except BillingError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self._status(org))

    def _status(self, org: Organization) -> str:
        sub = selectors.subscription_of(org=org)
        if sub is None:
            state = "no subscription (the trial has not started)"
        else:
            state = f"{sub.get_status_display().lower()}, trial ends {sub.trial_ends_at:%Y-%m-%d}"
        enforced = "enforced" if selectors.security_enforced(org=org) else "NOT enforced"
        return f"{org.name} ({org.org_id}): {state}; security features {enforced}"
