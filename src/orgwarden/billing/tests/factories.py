"""Factories of the billing tests, and of every test whose org needs its security features enforced.

Enforced SSO, mandatory two-step verification and SCIM provisioning apply only while the org's
security subscription is in its trial or paid (``billing.selectors.enforcement_pause``). Tests of
those features give their org a paid subscription with ``SubscriptionFactory(org=org)``.
"""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from orgwarden.billing.models import Subscription
from orgwarden.orgs.tests.factories import OrganizationFactory


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """A paid subscription (its trial ended a day ago); ``status="trial"`` for one in its trial."""

    class Meta:
        model = Subscription
        django_get_or_create = ("org",)

    org = factory.SubFactory(OrganizationFactory)
    status = Subscription.Status.PAID
    trial_started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=31))
    trial_ends_at = factory.LazyAttribute(lambda sub: sub.trial_started_at + timedelta(days=30))
    paid_at = factory.LazyAttribute(
        lambda sub: sub.trial_ends_at if sub.status == Subscription.Status.PAID else None
    )
