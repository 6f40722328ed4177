from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_triggers(sender, using: str = "default", **kwargs) -> None:
    """After every ``migrate``: put back any insights trigger a migration dropped (see
    ``insights.triggers``), and have every org's access rollups built again if one was missing."""
    from orgwarden.insights import triggers
    from orgwarden.insights.models import RollupState

    if triggers.install(using):
        RollupState.objects.using(using).update(access_built=False)


class InsightsConfig(AppConfig):
    name = "orgwarden.insights"
    label = "insights"

    def ready(self) -> None:
        post_migrate.connect(_install_triggers, sender=self, dispatch_uid="insights_triggers")
