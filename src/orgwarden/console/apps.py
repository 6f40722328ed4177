from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "orgwarden.console"
    label = "console"
