from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "orgwarden.api"
    label = "api"
