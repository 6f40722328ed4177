"""``orgwarden sso check-certificates``: warn admins of IdP certificates expiring within 30 days."""

from django.core.management.base import BaseCommand

from orgwarden.sso.services import certificates_expiry_warn


class Command(BaseCommand):
    help = "Single sign-on maintenance."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "check-certificates", help="email admins about IdP certificates expiring within 30 days"
        )

    def handle(self, *args, action: str, **options):
        warned = certificates_expiry_warn()
        self.stdout.write(f"certificates: {warned} expiry warning(s) sent")
