from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "orgwarden.billing"
    label = "billing"

    def ready(self) -> None:
        """Enforced SSO, mandatory 2SV and provisioning pause without a trial or paid subscription."""
        from orgwarden.billing import selectors
        from orgwarden.policies import hooks

        if selectors.enforcement_pause not in hooks.enforcement_pause:
            hooks.enforcement_pause.append(selectors.enforcement_pause)
        if "subscription" not in hooks.enforcement_pause_relations:
            hooks.enforcement_pause_relations.append("subscription")
