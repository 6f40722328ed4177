"""Billing: the security subscription (start the free trial), billable users, the monthly estimate."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from orgwarden.billing import selectors, services
from orgwarden.billing.exceptions import BillingError
from orgwarden.console.views.base import back_in_org, org_admin_view
from orgwarden.orgs.products import PRODUCTS


class CalculatorForm(forms.Form):
    users = forms.IntegerField(label="Users", min_value=0, max_value=10_000_000)


@org_admin_view
def billing(request: HttpRequest) -> HttpResponse:
    org, now = request.org, timezone.now()
    subscription = selectors.subscription_of(org=org)
    billable = selectors.billable_summary(org=org)
    count = billable.count
    calculator = CalculatorForm(request.GET if "users" in request.GET else None)
    what_if = (
        selectors.price_estimate(users=calculator.cleaned_data["users"]) if calculator.is_valid() else None
    )
    history = selectors.snapshots(org=org, since=now.date() - timedelta(days=90))
    peak = max([s.count for s in history], default=0) or 1
    bars = [
        {
            "x": index * 8,
            "y": 64 - round(60 * s.count / peak),
            "height": round(60 * s.count / peak),
            "snapshot": s,
        }
        for index, s in enumerate(history)
    ]
    return render(
        request,
        "console/billing/billing.html",
        {
            "subscription": subscription,
            "days_left": selectors.days_left(subscription, now=now) if subscription else None,
            "has_verified_domain": selectors.has_verified_domain(org=org),
            "payment_required": settings.BILLING_PAYMENT_REQUIRED,
            "count": count,
            "by_product": [(PRODUCTS[k].name, n) for k, n in billable.by_product.items()],
            "not_billable": billable.not_billable,
            "not_billable_count": billable.not_billable_count,
            "estimate": selectors.price_estimate(users=count),
            "calculator": calculator,
            "what_if": what_if,
            "currency": settings.BILLING_CURRENCY,
            "tiers": settings.BILLING_TIERS,
            "history": history,
            "bars": bars,
            "chart_width": max(8 * len(history), 8),
            "nav_active": "billing",
        },
        status=400 if calculator.errors else 200,
    )


@org_admin_view
@require_POST
def trial_start(request: HttpRequest) -> HttpResponse:
    """Start the trial from Billing or from a Security page's banner (``next``: back to that page)."""
    try:
        services.subscription_trial_start(org=request.org, actor=request.user)
    except BillingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Your 30-day free trial has started. Enforced single sign-on, mandatory two-step "
            "verification and provisioning now apply.",
        )
    back = back_in_org(request, request.POST.get("next", ""))
    return redirect(back) if back else redirect("console:billing", request.org.org_id)
