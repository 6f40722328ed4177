from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "orgwarden.billing"
    label = "billing"
