from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "orgwarden.scim"
    label = "scim"
    verbose_name = "SCIM provisioning"

    def ready(self) -> None:
        from orgwarden.orgs import hooks
        from orgwarden.scim import services

        hooks.account_released.append(services.scim_records_release)
