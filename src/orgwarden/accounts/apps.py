from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "orgwarden.accounts"
    label = "accounts"
