"""``orgwarden oidc rotate-signing-key``: start signing ID tokens with a new RS256 key.
``orgwarden oidc prune``: delete the tokens and codes nobody can use any more
(``services.product_tokens_prune``; a daily job).

Prints the new key's ``kid`` (as in the JWKS and in ID token headers) and, for each key it retired,
until when that key stays published in the JWKS (``keys.OVERLAP``, 7 days) so ID tokens it signed
keep verifying at relying parties. Recorded in the audit log (``system:oidc_key:rotated``) by
``keys.signing_key_rotate``. Other ``orgwarden serve`` processes sign with the new key within
``keys.RELOAD_SECONDS``; until then they keep signing with the previous one, which stays valid.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from orgwarden.audit.services import Actor
from orgwarden.oidc import keys, services

ACTOR = "orgwarden oidc rotate-signing-key"


class Command(BaseCommand):
    help = (
        "Product sign-in (OpenID Connect): `rotate-signing-key` starts a new ID token signing key; "
        "`prune` deletes expired tokens and codes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        commands.add_parser(
            "rotate-signing-key",
            help="sign ID tokens with a new key; the previous one stays in the JWKS for the overlap",
        )
        commands.add_parser(
            "prune", help="delete the product sign-in tokens and codes nobody can use any more"
        )

    def handle(self, *args, action: str, **options) -> None:
        if action == "rotate-signing-key":
            self._rotate()
        elif action == "prune":
            deleted = services.product_tokens_prune()
            self.stdout.write(
                ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in deleted.items()) + " deleted"
            )

    def _rotate(self) -> None:
        key = keys.signing_key_rotate(actor=Actor.system(ACTOR))
        self.stdout.write(f"New signing key: {key.kid}")
        previous = [k for k in keys.published_keys() if k.kid != key.kid]
        if not previous:
            self.stdout.write(
                "No previous key is published: there was none, or ORGWARDEN_SECRET_KEY changed "
                "and it can no longer be read."
            )
        for old in previous:
            until = old.published_until.strftime("%Y-%m-%d %H:%M UTC")
            self.stdout.write(
                f"Previous key {old.kid} stays published in the JWKS until {until}: "
                "ID tokens it signed keep verifying until then."
            )
        self.stdout.write(f"Running servers sign with the new key within {int(keys.RELOAD_SECONDS)} seconds.")
