from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "orgwarden.scim"
    label = "scim"
    verbose_name = "SCIM provisioning"
