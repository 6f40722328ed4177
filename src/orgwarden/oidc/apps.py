from django.apps import AppConfig


class OidcConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orgwarden.oidc"
    label = "oidc"
    verbose_name = "Product sign-in"

    def ready(self) -> None:
        from orgwarden.oidc.services import application_secret_set
        from orgwarden.tokens import introspection

        introspection.credential_created.append(application_secret_set)
