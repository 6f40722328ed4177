from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "orgwarden.tokens"
    label = "tokens"
    verbose_name = "API tokens and keys"
