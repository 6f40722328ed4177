from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "orgwarden.support"
    label = "support"
