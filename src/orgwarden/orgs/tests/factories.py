import factory

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.orgs.models import OrgAdmin, Organization


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")


class OrgAdminFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrgAdmin

    org = factory.SubFactory(OrganizationFactory)
    account = factory.SubFactory(AccountFactory)
