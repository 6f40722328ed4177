from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "orgwarden.tokens"
    label = "tokens"
    verbose_name = "API tokens and keys"

    def ready(self) -> None:
        from orgwarden.accounts import hooks
        from orgwarden.tokens import user_services

        # An org taking over an account whose email was never verified: its tokens may be a squatter's.
        if user_services.unverified_account_tokens_revoke not in hooks.unverified_credentials_revoke:
            hooks.unverified_credentials_revoke.append(user_services.unverified_account_tokens_revoke)
