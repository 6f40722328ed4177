from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "orgwarden.insights"
    label = "insights"
