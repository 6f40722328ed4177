from dataclasses import dataclass

import factory

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.orgs.models import OrgAdmin, Organization


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Org {n}")

    @factory.post_generation
    def local_directory(obj, create, extracted, **kwargs):
        """Like ``org_create``: every org has its local directory (and its default policy)."""
        if create:
            from orgwarden.orgs.services.claims import local_directory

            local_directory(obj)


class OrgAdminFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrgAdmin

    org = factory.SubFactory(OrganizationFactory)
    account = factory.SubFactory(AccountFactory)


@dataclass
class ApiKey:
    """Shaped like an org API key (``orgs.services.actors.ApiKeyLike``), for services' actor."""

    org_id: int
    key_id: str = "key_1"
    name: str = "Onboarding script"
