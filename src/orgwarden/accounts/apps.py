from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "orgwarden.accounts"
    label = "accounts"

    def ready(self) -> None:
        from orgwarden.accounts import views, views_two_step

        views.STEP_VIEWS["two_step"] = views_two_step.two_step_step
