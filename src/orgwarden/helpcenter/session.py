"""The customer's portal session: its own session key, never Django's auth keys.

``request.session[SESSION_KEY]`` maps a help center's site id to ``{"id": customer_id, "hash": …}``,
so a customer session never signs an account in (``request.user`` stays anonymous, no policy or
session limit of accounts applies) and a customer of help center A is nobody at help center B. The
hash is an HMAC of the customer's password hash: a password reset ends the other sessions.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac

from orgwarden.helpcenter import selectors
from orgwarden.helpcenter.models import Customer, HelpCenter

SESSION_KEY = "helpcenter_customers"


def _hash(customer: Customer) -> str:
    return salted_hmac(
        "orgwarden.helpcenter.session", f"{customer.customer_id}:{customer.password}"
    ).hexdigest()


def customer_login(request: HttpRequest, help_center: HelpCenter, customer: Customer) -> None:
    request.session.cycle_key()  # a new session id at sign-in: no fixation
    sessions = dict(request.session.get(SESSION_KEY, {}))
    sessions[help_center.site.site_id] = {"id": customer.customer_id, "hash": _hash(customer)}
    request.session[SESSION_KEY] = sessions


def customer_logout(request: HttpRequest, help_center: HelpCenter) -> None:
    sessions = dict(request.session.get(SESSION_KEY, {}))
    if sessions.pop(help_center.site.site_id, None) is not None:
        request.session[SESSION_KEY] = sessions


def customer_current(request: HttpRequest, help_center: HelpCenter) -> Customer | None:
    """The signed-in, still active customer of ``help_center``, or ``None``."""
    entry = request.session.get(SESSION_KEY, {}).get(help_center.site.site_id)
    if not isinstance(entry, dict):
        return None
    customer = selectors.customer_signed_in(help_center=help_center, customer_id=str(entry.get("id", "")))
    if customer is None or not constant_time_compare(str(entry.get("hash", "")), _hash(customer)):
        customer_logout(request, help_center)
        return None
    return customer
