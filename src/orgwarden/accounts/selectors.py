"""Reads of the accounts domain that pages need."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import DateTimeField, Exists, F, OuterRef, QuerySet, Value
from django.db.models.functions import Coalesce

from orgwarden.accounts.models import Account, Session, SignInLink

# Before any sign-in link: what an account that never signed in compares its links against.
NEVER = datetime(2000, 1, 1, tzinfo=UTC)


def sessions_of(*, account: Account) -> QuerySet[Session]:
    """``account``'s live sessions, most recently used first."""
    from django.utils import timezone

    return (
        Session.objects.filter(account=account, expire_date__gt=timezone.now())
        .order_by(F("last_seen_at").desc(nulls_last=True), "-created_at")
        .only("session_key", "created_at", "last_seen_at", "ip", "user_agent", "expire_date")
    )


def invited_not_signed_in(account_ref: str = "pk", last_login_ref: str = "last_login") -> Exists:
    """An expression, true for an account that was sent a one-time sign-in link (an invitation to a
    product site, the first admin's link, a domain claim's "choose a password") and has not signed
    in since that link was made. ``account_ref`` and ``last_login_ref`` name the account's key and
    its ``last_login`` in the outer query (``"account_id"``, ``"account__last_login"`` from a row
    that joins the account).

    What the console and the REST API call "invited": a link used whose sign-in was not finished
    (a mandatory authenticator not set up yet) still counts as not signed in; a sign-in by any other
    way (a password reset, single sign-on) ends it. Django's ``login`` keeps ``last_login``. Each
    row costs one probe of the links' account index, inside the caller's query (no query per row).
    """
    signed_in = Coalesce(OuterRef(last_login_ref), Value(NEVER, output_field=DateTimeField()))
    return Exists(SignInLink.objects.filter(account=OuterRef(account_ref), created_at__gt=signed_in))


def invited_account_keys() -> QuerySet[SignInLink]:
    """The keys (``account_id`` values, repeated for several links) of every account that
    ``invited_not_signed_in``: the same rule, as a list a filter reads once (``account_id__in=``)
    rather than a probe per row. A filter on "invited" then looks up the few such users by key
    instead of walking all of an org's users; sign-in links are few next to accounts."""
    signed_in = Coalesce(F("account__last_login"), Value(NEVER, output_field=DateTimeField()))
    return SignInLink.objects.filter(created_at__gt=signed_in).values("account_id")
