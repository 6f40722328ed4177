import functools

from django import template
from django.urls import reverse
from django.utils import timezone

from orgwarden import humanize
from orgwarden.billing import selectors as billing_selectors
from orgwarden.console.navigation import SECTIONS
from orgwarden.humanize import device_in_words, minutes_in_words, time_ago
from orgwarden.idn import idn_unicode

SECURITY_PAGES = frozenset(
    page.slug for section in SECTIONS if section.title == "Security" for page in section.pages
)

register = template.Library()


@register.simple_tag
def nav_sections():
    return SECTIONS


@register.simple_tag
def page_url(page, org_id: str) -> str:
    if page.url_name:
        return reverse(page.url_name, args=[org_id])
    return reverse("console:not_built", args=[org_id, page.slug])


@register.inclusion_tag("console/billing/_security_banner.html", takes_context=True)
def security_subscription_banner(context) -> dict:
    """On the Security section's pages: the security subscription's state when it needs attention.

    No subscription: "Start your 30-day free trial" (or, before a domain is verified, why not and a
    link to Domains). Lapsed: enforcement is paused, with a link to Billing. In its trial: the days
    left. Paid: nothing. Two small queries, on these pages only.
    """
    request = context.get("request")
    org = getattr(request, "org", None)
    if org is None or context.get("nav_active") not in SECURITY_PAGES:
        return {"state": None}
    subscription = billing_selectors.subscription_of(org=org)
    if subscription is None:
        return {
            "state": "none",
            "org": org,
            "has_verified_domain": billing_selectors.has_verified_domain(org=org),
            "next": request.get_full_path(),
            "csrf_token": context.get("csrf_token"),
        }
    if subscription.status == subscription.Status.PAID:
        return {"state": None}
    return {
        "state": subscription.status,
        "org": org,
        "subscription": subscription,
        "days_left": billing_selectors.days_left(subscription, now=timezone.now()),
    }


# An address or domain name with its domain in Unicode, for people (``orgwarden.idn``). Its one
# registration: the account, sign-in and mail templates of other apps ``{% load console %}`` for it.
register.filter("idn_unicode", idn_unicode)


@register.filter
def column_heading(key: str) -> str:
    """A table column's key as people read it: ``users_with_access`` → ``Users with access`` (the CSV
    and the REST API keep the key)."""
    return key.replace("_", " ").capitalize()


# Durations, times and devices in words, for people (``orgwarden.humanize``).
register.filter("minutes_in_words", minutes_in_words)
register.filter("device_in_words", device_in_words)


@register.filter
def ago(when) -> str:
    """``{{ session.last_seen_at|ago }}``: ``just now``, ``5 minutes ago`` … (``humanize.time_ago``)."""
    return time_ago(when, timezone.now())


# Dates and times, the same on every page and in every email: the four forms of ``orgwarden.humanize``
# (its docstring has the rule), and nothing for an empty value, as Django's ``date`` does (so
# ``{{ token.last_used_at|moment|default:"Never" }}``). Every template that shows a date or a time
# ``{% load console %}`` for them; none uses ``|date:`` for people.


def _unless_empty(form):
    @functools.wraps(form)
    def show(when) -> str:
        return "" if when in (None, "") else form(when)

    return show


register.filter("day", _unless_empty(humanize.day))
register.filter("moment", _unless_empty(humanize.moment))
register.filter("moment_seconds", _unless_empty(humanize.moment_seconds))
register.filter("moment_in_full", _unless_empty(humanize.moment_in_full))
