from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgwarden.orgs"
    label = "orgs"
    verbose_name = "Organizations"
