"""``orgwarden staff``: who operates this installation (``Account.is_staff``).

Staff answer org admins' support requests in the support queue (``/operator/support/``) and record
payments there; org admins are not staff, and staff are not admins of any org by being staff.

- ``orgwarden staff add EMAIL [--name NAME]``: makes the account with that email staff. An address
  with no account gets one (verified, no password) and a one-time sign-in link (valid 24 hours),
  after which its owner chooses a password — as ``orgwarden bootstrap`` does for an org's admin.
- ``orgwarden staff remove EMAIL``: no longer staff.
- ``orgwarden staff list``: every staff account.

Each change is an audit event (``system:staff:granted`` / ``system:staff:revoked``). Bad input
stops it with one line and exit status 1, having changed nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse

from orgwarden.accounts import services
from orgwarden.accounts.exceptions import AccountsError
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.audit.services import Actor

ACTOR = "orgwarden staff"


class Command(BaseCommand):
    help = "Who operates this installation: `add`, `remove` or `list` its staff (the support queue)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        add = actions.add_parser("add", help="make an account staff (created, with a sign-in link, if none)")
        add.add_argument("email")
        add.add_argument("--name", default="", help="the person's full name, for a new account")
        remove = actions.add_parser("remove", help="make an account no longer staff")
        remove.add_argument("email")
        actions.add_parser("list", help="list the staff accounts")

    def handle(self, *args, action: str, email: str = "", name: str = "", **options) -> None:
        if action == "list":
            staff = Account.objects.filter(is_staff=True).order_by("email")
            for account in staff:
                status = (
                    "" if account.status == Account.Status.ACTIVE else f" ({account.get_status_display()})"
                )
                self.stdout.write(f"{account.email}{status}")
            if not staff:
                self.stdout.write("No staff yet: `orgwarden staff add EMAIL` makes an account staff.")
            return
        email = normalize_email(email)
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"Not a valid email address: {email!r}") from exc
        if action == "remove":
            self._remove(email)
        else:
            self._add(email, name)

    def _add(self, email: str, name: str) -> None:
        actor = Actor.system(ACTOR)
        link = ""
        try:
            with transaction.atomic():
                account = Account.objects.filter(email=email).first()
                if account is None:
                    account = services.account_create(
                        email=email,
                        display_name=name,
                        password=None,
                        email_verified=True,
                        actor=actor,
                        via=ACTOR,
                    )
                    link = services.signin_link_create(account=account, actor=actor)
                changed = services.account_staff_set(account=account, staff=True, actor=actor)
        except AccountsError as exc:
            raise CommandError(exc.message) from exc
        queue = f"{settings.BASE_URL}{reverse('support:queue')}"
        self.stdout.write(
            f"{account.email} is {'now' if changed else 'already'} staff: the support queue is {queue}"
        )
        if link:
            self.stdout.write("One-time sign-in link for the new account (valid 24 hours):")
            self.stdout.write(f"  {link}")

    def _remove(self, email: str) -> None:
        account = Account.objects.filter(email=email).first()
        if account is None:
            raise CommandError(f"No account has the email {email}.")
        changed = services.account_staff_set(account=account, staff=False, actor=Actor.system(ACTOR))
        self.stdout.write(f"{account.email} is {'no longer' if changed else 'not'} staff.")
