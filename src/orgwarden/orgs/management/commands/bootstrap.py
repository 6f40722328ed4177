"""``orgwarden bootstrap --email E --org NAME [--name "Full Name"]``: the first org without a browser.

Non-interactive, for scripts and provisioning tools. It applies migrations first (quietly, so it
works on a fresh data directory), then in one transaction creates — or reuses — the account with
that email (verified, no password), creates the organization with that account as its admin, and
prints a one-time sign-in link (valid 24 hours). After following it, the person sets a password.
Bad input stops it with a clear message and exit status 1, having changed nothing.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from orgwarden.accounts import services as account_services
from orgwarden.accounts.exceptions import AccountsError
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.audit.services import Actor
from orgwarden.orgs import services as org_services
from orgwarden.orgs.exceptions import OrgsError

ACTOR = "bootstrap"


class Command(BaseCommand):
    help = "Create an organization and its first admin, and print a one-time sign-in link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="the first admin's email address")
        parser.add_argument("--org", required=True, help="the organization's name (1 to 100 characters)")
        parser.add_argument("--name", default="", help="the admin's full name (for a new account)")

    def handle(self, *args, email: str, org: str, name: str, **options) -> None:
        email = normalize_email(email)
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"Not a valid email address: {email!r}") from exc

        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)

        try:
            with transaction.atomic():
                account = Account.objects.filter(email=email).first()
                if account is None:
                    account = account_services.account_create(
                        email=email,
                        display_name=name,
                        password=None,
                        email_verified=True,
                        actor=Actor.system(ACTOR),
                        via=ACTOR,
                    )
                organization = org_services.org_create(
                    creator=account, name=org, require_verified_email=False
                )
                link = account_services.signin_link_create(
                    account=account, actor=Actor.system(ACTOR), org_id=organization.org_id
                )
        except (AccountsError, OrgsError) as exc:
            raise CommandError(exc.message) from exc

        self.stdout.write(f"Created organization {organization.name!r} ({organization.org_id}).")
        self.stdout.write(f"Admin: {account.email}")
        self.stdout.write("One-time sign-in link for the admin (valid 24 hours):")
        self.stdout.write(f"  {link}")
