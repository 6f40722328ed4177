from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "orgwarden.policies"
    label = "policies"
    verbose_name = "Authentication policies"
