from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "orgwarden.scim"
    label = "scim"
    verbose_name = "SCIM provisioning"

    def ready(self) -> None:
        from orgwarden.orgs import hooks
        from orgwarden.scim import selectors, services

        hooks.account_released.append(services.scim_records_release)
        hooks.email_provisioned_by.append(selectors.email_provisioned_refusal)
